"""Rules in plain Dutch: "wie mag wat, waarom, op grond van welke wet"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from glazenstad.register.model import LawReference
from glazenstad.register.store import OrganisationRegister
from glazenstad.rules.compiler import CompiledPolicy
from glazenstad.rules.effective import EffectiveRule
from glazenstad.rules.explain import ACTION_WORDS
from glazenstad.rules.language import Obligations
from glazenstad.rules.reference import describe_positive

Namer = Callable[[str], str]


@dataclass(frozen=True)
class RuleText:
    id: str
    effect: str
    source: str
    title: str
    explanation: str
    who: str
    what: str
    conditions: tuple[str, ...]
    obligations: tuple[str, ...]
    legal_basis: tuple[LawReference, ...]
    break_glass: bool


def _list(values: frozenset[str] | None, anything: str, name: Namer = str) -> str:
    return anything if values is None else ", ".join(sorted(name(v) for v in values))


def _namers(register: OrganisationRegister | None) -> tuple[Namer, Namer]:
    """Register names for data category and dataset ids (the id itself when unknown)."""
    if register is None:
        return str, str

    def category(entry_id: str) -> str:
        found = register.data_category(entry_id)
        return found.name if found else entry_id

    def dataset(entry_id: str) -> str:
        found = register.dataset(entry_id)
        return found.name if found else entry_id

    return category, dataset


def obligation_texts(obligations: Obligations) -> tuple[str, ...]:
    texts = []
    if obligations.pseudonymise:
        texts.append("vervang door een pseudoniem: " + ", ".join(obligations.pseudonymise))
    if obligations.mask:
        texts.append("laat weg of maskeer: " + ", ".join(obligations.mask))
    if obligations.retention:
        texts.append(f"bewaar volgens bewaarregel '{obligations.retention}'")
    if obligations.log_confidentiality:
        texts.append(f"leg vast als {obligations.log_confidentiality}")
    if obligations.require_justification:
        texts.append("vraag een schriftelijke motivering")
    return tuple(texts)


def rule_text(rule: EffectiveRule, register: OrganisationRegister | None = None) -> RuleText:
    """A rule in plain Dutch; with a register, data and sources carry their register names."""
    category, dataset = _namers(register)
    who_parts = [describe_positive(c) for c in rule.conditions]
    actions = (
        "alles"
        if rule.actions is None
        else ", ".join(ACTION_WORDS.get(a, a) for a in sorted(rule.actions))
    )
    what = f"{actions} van {_list(rule.data_categories, 'alle gegevens', category)}"
    if rule.link is not None:
        what = (
            f"koppelen van {_list(rule.link[0], '', dataset)} met "
            f"{_list(rule.link[1], '', dataset)}"
        )
    if rule.datasets is not None:
        what += f" uit {_list(rule.datasets, '', dataset)}"
    return RuleText(
        id=rule.id,
        effect=rule.effect,
        source=rule.source,
        title=rule.title,
        explanation=rule.explanation,
        who=" en ".join(who_parts) if who_parts else "iedereen",
        what=what,
        conditions=tuple(who_parts),
        obligations=obligation_texts(rule.obligations),
        legal_basis=rule.legal_basis,
        break_glass=rule.break_glass,
    )


def rules_for_activity(compiled: CompiledPolicy, activity_id: str) -> list[RuleText]:
    """Every rule that can decide a request for this activity's purpose."""
    register = compiled.context.register
    return [
        rule_text(rule, register)
        for rule in compiled.rules
        if rule.purposes is None or activity_id in rule.purposes
    ]
