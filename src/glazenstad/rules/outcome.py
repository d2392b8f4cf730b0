"""What a decision comes to: effect, reason, deciding rules, obligations, legal bases."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from glazenstad.register.model import LawReference
from glazenstad.rules.effective import EffectiveRule
from glazenstad.rules.language import Obligations

# Why a decision came out as it did; stable codes for figures and clients.
PERMIT = "permit"
BREAK_GLASS = "break_glass"
DENY_RULE = "deny_rule"
NO_PERMIT = "no_permit"
UNKNOWN_PURPOSE = "unknown_purpose"
INACTIVE_PURPOSE = "inactive_purpose"
UNKNOWN_DATA_CATEGORY = "unknown_data_category"
UNKNOWN_ACTION = "unknown_action"
NO_POLICY = "no_policy"


@dataclass(frozen=True)
class Outcome:
    effect: str
    reason: str
    rules: tuple[EffectiveRule, ...] = ()
    break_glass: bool = False
    obligations: Obligations = field(default_factory=Obligations)
    set_aside: tuple[EffectiveRule, ...] = ()
    """Break-the-glass deny rules that were set aside for this permit."""

    @property
    def permitted(self) -> bool:
        return self.effect == "permit"

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)

    @property
    def legal_basis(self) -> tuple[LawReference, ...]:
        seen: dict[str, LawReference] = {}
        for rule in self.rules:
            for law in rule.legal_basis:
                seen.setdefault(law.label + law.bwb_id, law)
        return tuple(seen.values())


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def merge_obligations(rules: Iterable[EffectiveRule], break_glass: bool) -> Obligations:
    """Obligations of all permit rules together: lists united, the strictest level kept."""
    rules = list(rules)
    retention = next((r.obligations.retention for r in rules if r.obligations.retention), None)
    levels = {r.obligations.log_confidentiality for r in rules}
    level = (
        "vertrouwelijk"
        if "vertrouwelijk" in levels
        else ("normaal" if "normaal" in levels else None)
    )
    return Obligations(
        pseudonymise=_unique(v for r in rules for v in r.obligations.pseudonymise),
        mask=_unique(v for r in rules for v in r.obligations.mask),
        retention=retention,
        log_confidentiality=level,
        require_justification=break_glass
        or any(r.obligations.require_justification for r in rules),
    )


def permit(rules: tuple[EffectiveRule, ...], set_aside: tuple[EffectiveRule, ...]) -> Outcome:
    glass = bool(set_aside)
    return Outcome(
        effect="permit",
        reason=BREAK_GLASS if glass else PERMIT,
        rules=rules,
        break_glass=glass,
        obligations=merge_obligations(rules, glass),
        set_aside=set_aside,
    )


def deny(reason: str, rules: tuple[EffectiveRule, ...] = ()) -> Outcome:
    return Outcome(effect="deny", reason=reason, rules=rules)
