"""Enforcing a decision on a JSON response: drop, mask and pseudonymise fields.

Policies name fields the way people write them (`eerdere-adressen`), source APIs the way JSON
does (`eerdereAdressen`); both are compared in one normal form (lower case, no `-` or `_`), so
a rule does not have to know the API's spelling. An obligation may name a data category
(`pseudonymise: [bsn]`); the route's field map says which fields hold it.

The walk also collects the data subjects of the answer (before pseudonymising them), so the
gateway can write one log record per person the answer was about.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


def normal(name: str) -> str:
    return name.replace("-", "").replace("_", "").lower()


@dataclass(frozen=True)
class ResponsePlan:
    """What to do with the fields of one response (field names in normal form)."""

    drop: frozenset[str] = frozenset()
    pseudonymise: dict[str, str] = field(default_factory=dict)
    """Field → the identifier type its pseudonym is keyed with."""
    subject_field: str | None = None

    @property
    def rewrites(self) -> bool:
        return bool(self.drop or self.pseudonymise)

    @property
    def reads_body(self) -> bool:
        return self.rewrites or self.subject_field is not None


def plan_for(
    *,
    fields: dict[str, str],
    mask: Iterable[str],
    pseudonymise: Iterable[str],
    denied_categories: Iterable[str],
    subject_field: str | None,
    subject_type: str | None,
    subject_category: str | None = None,
) -> ResponsePlan:
    """The plan from a permit's obligations and the categories denied for this request.

    `fields` maps response fields to the data categories they hold (the route's map).
    """
    by_category: dict[str, list[str]] = {}
    for name, category in fields.items():
        by_category.setdefault(category, []).append(normal(name))
    drop = {normal(n) for n in mask}
    for category in denied_categories:
        drop.update(by_category.get(category, ()))
    subject = normal(subject_field) if subject_field else None
    pseudo: dict[str, str] = {}
    for item in pseudonymise:
        targets = by_category.get(item) or [normal(item)]
        keyed_as_subject = subject_type is not None and (
            item == subject_category or subject in targets
        )
        for target in targets:
            pseudo[target] = subject_type if keyed_as_subject and subject_type else item
    for name in drop:
        pseudo.pop(name, None)
    return ResponsePlan(frozenset(drop), pseudo, subject)


Pseudonym = Callable[[str, str], str]
"""(identifier type, value) → pseudonym."""


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Applied:
    """What a plan did to one answer, by the answer's own field names (told to the caller)."""

    subjects: list[str] = field(default_factory=list)
    withheld: set[str] = field(default_factory=set)
    pseudonymised: set[str] = field(default_factory=set)


def apply_plan(body: Any, plan: ResponsePlan, pseudonym: Pseudonym, applied: Applied) -> Any:
    """`body` with the plan applied; subjects found and fields changed go into `applied`."""
    if isinstance(body, dict):
        result: dict[str, Any] = {}
        for key, value in body.items():
            name = normal(key)
            if name in plan.drop:
                applied.withheld.add(key)
                continue
            if name == plan.subject_field and isinstance(value, str | int):
                text = str(value)
                if text not in applied.subjects:
                    applied.subjects.append(text)
            id_type = plan.pseudonymise.get(name)
            if id_type is not None and value is not None:
                result[key] = pseudonym(id_type, _value_text(value))
                applied.pseudonymised.add(key)
            else:
                result[key] = apply_plan(value, plan, pseudonym, applied)
        return result
    if isinstance(body, list):
        return [apply_plan(item, plan, pseudonym, applied) for item in body]
    return body
