"""The effective rule set of a policy: its explicit rules plus those the register implies.

Both the compiler and the reference evaluator start from this list, so they cannot disagree
about *which* rules exist, only (in a bug) about how they evaluate — which the equivalence tests
catch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from glazenstad.register.model import LawReference, ProcessingActivity
from glazenstad.register.store import OrganisationRegister
from glazenstad.rules.language import (
    Condition,
    DepartmentIn,
    Linkage,
    Obligations,
    Policy,
    RoleIn,
    Rule,
)

ENGINE_VERSION = "glazenstad-rules/1"


@dataclass(frozen=True)
class EffectiveRule:
    """A rule as evaluated: targets as sets (None = any), conditions, and where it came from."""

    id: str
    effect: str
    title: str
    explanation: str
    purposes: frozenset[str] | None
    data_categories: frozenset[str] | None
    datasets: frozenset[str] | None
    actions: frozenset[str] | None
    link: tuple[frozenset[str], frozenset[str]] | None
    conditions: tuple[Condition, ...]
    obligations: Obligations
    legal_basis: tuple[LawReference, ...]
    break_glass: bool
    source: str = "policy"
    """`policy` for explicit rules, `register` for purpose binding derived from an activity."""
    activity: str | None = None


@dataclass
class PolicyContext:
    """A policy with the register it was compiled against."""

    policy: Policy
    register: OrganisationRegister
    rules: list[EffectiveRule] = field(default_factory=list)
    content_hash: str = ""
    """Hash of the policy together with the register state it was compiled against."""
    policy_hash: str = ""
    """Hash of the policy document alone: the stored policy version."""
    activities: dict[str, ProcessingActivity] = field(default_factory=dict)
    """Active and inactive activities by id and by URI."""


def _none_if_empty(values: list[str]) -> frozenset[str] | None:
    return frozenset(values) if values else None


def _explicit(rule: Rule) -> EffectiveRule:
    link = _link_sets(rule.link) if rule.link else None
    actions = frozenset(["link"]) if rule.link else _none_if_empty(list(rule.applies_to.actions))
    return EffectiveRule(
        id=rule.id,
        effect=rule.effect,
        title=rule.title,
        explanation=rule.explanation,
        purposes=_none_if_empty(rule.applies_to.purposes),
        data_categories=_none_if_empty(rule.applies_to.data_categories),
        datasets=_none_if_empty(rule.applies_to.datasets),
        actions=actions,
        link=link,
        conditions=tuple(rule.when),
        obligations=rule.obligations,
        legal_basis=tuple(rule.legal_basis),
        break_glass=rule.break_glass,
    )


def _link_sets(link: Linkage) -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(link.datasets), frozenset(link.with_)


def _who(activity: ProcessingActivity) -> tuple[Condition, ...]:
    conditions: list[Condition] = [RoleIn(role=list(activity.roles))]
    if activity.departments:
        conditions.append(DepartmentIn(department=list(activity.departments)))
    return tuple(conditions)


def _derived(
    activity: ProcessingActivity,
    obligations: Obligations,
    rule_id: str,
    title: str,
    explanation: str,
    **target: object,
) -> EffectiveRule:
    """A permit from an activity's register entry: its people, its purpose, its law."""
    return EffectiveRule(
        id=rule_id,
        effect="permit",
        title=title,
        explanation=explanation,
        purposes=frozenset([activity.id]),
        datasets=None,
        conditions=_who(activity),
        obligations=obligations,
        legal_basis=tuple(activity.legal_basis.laws),
        break_glass=False,
        source="register",
        activity=activity.id,
        **target,  # type: ignore[arg-type]
    )


def purpose_binding_rules(policy: Policy, register: OrganisationRegister) -> list[EffectiveRule]:
    """Base permits from the register: an active activity's roles may use its data for it."""
    binding = policy.purpose_binding
    if not binding.enabled:
        return []
    rules: list[EffectiveRule] = []
    for activity in register.activities():
        if activity.status != "actief" or not activity.roles:
            continue
        obligations = Obligations(
            log_confidentiality="vertrouwelijk"
            if activity.confidentiality == "vertrouwelijk"
            else None
        )
        roles = ", ".join(activity.roles)
        where = f" van {', '.join(activity.departments)}" if activity.departments else ""

        rules.append(
            _derived(
                activity,
                obligations,
                f"doelbinding-{activity.id}",
                f"Doelbinding: {activity.name}",
                f"Volgens het verwerkingsregister mogen {roles}{where} de gegevens van de "
                f"verwerking '{activity.name}' gebruiken voor dit doel.",
                data_categories=frozenset(activity.data_categories),
                actions=frozenset(binding.actions),
                link=None,
            )
        )
        if binding.link_own_datasets and len(activity.datasets) >= 2:
            own = frozenset(activity.datasets)
            rules.append(
                _derived(
                    activity,
                    obligations,
                    f"doelbinding-koppelen-{activity.id}",
                    f"Koppelen binnen {activity.name}",
                    f"De verwerking '{activity.name}' gebruikt deze bronnen samen; "
                    f"{roles}{where} mogen ze voor dit doel koppelen.",
                    data_categories=None,
                    actions=frozenset(["link"]),
                    link=(own, own),
                )
            )
    return rules


def policy_context(policy: Policy, register: OrganisationRegister) -> PolicyContext:
    """Expand a policy against a register and fix its content hash."""
    rules = purpose_binding_rules(policy, register) + [_explicit(r) for r in policy.rules]
    activities: dict[str, ProcessingActivity] = {}
    for stored in register.entries("processing-activity"):
        activity = stored.entry
        assert isinstance(activity, ProcessingActivity)
        activities[activity.id] = activity
        activities[stored.uri] = activity
    register_state = sorted(
        (stored.uri, stored.content_hash)
        for kind in ("processing-activity", "data-category", "dataset")
        for stored in register.entries(kind)
    )
    text = json.dumps(
        {
            "policy": policy.model_dump(mode="json"),
            "register": register_state,
            "engine": ENGINE_VERSION,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    document = json.dumps(
        policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    own = hashlib.sha256(document.encode("utf-8")).hexdigest()
    return PolicyContext(policy, register, rules, digest, own, activities)
