"""The reference evaluator: the policy language's meaning, written as plainly as possible.

It interprets rules one by one with no index and no caching. The compiled engine must give the
same outcome for every request (tested on thousands of random requests), and explanations are
produced from this evaluator's trace, so what a person reads is what the rules say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from glazenstad.register.model import ProcessingActivity
from glazenstad.rules import outcome as oc
from glazenstad.rules.clock import TIMEZONE
from glazenstad.rules.effective import EffectiveRule, PolicyContext
from glazenstad.rules.language import (
    ACTIONS,
    WEEKDAYS,
    AllOf,
    AnyOf,
    AssignedToCase,
    ChannelIn,
    Compare,
    Condition,
    ConsentRecorded,
    DepartmentIn,
    InTime,
    Not,
    RoleIn,
)
from glazenstad.rules.request import DecisionRequest


@dataclass(frozen=True)
class RuleTrace:
    """How one rule fared: not about this request, or about it and (not) applicable."""

    rule: EffectiveRule
    targeted: bool
    applies: bool
    failed: tuple[str, ...] = ()
    """The conditions that did not hold, in plain Dutch."""


@dataclass(frozen=True)
class Evaluation:
    outcome: oc.Outcome
    activity: ProcessingActivity | None
    traces: tuple[RuleTrace, ...]


def attribute(req: DecisionRequest, name: str, activity_id: str) -> str | None:
    values: dict[str, str | None] = {
        "actor.role": req.actor.role,
        "actor.department": req.actor.department,
        "actor.organisation": req.actor.organisation,
        "action": req.action,
        "purpose": activity_id,
        "resource.data_category": req.resource.data_category,
        "resource.dataset": req.resource.dataset,
        "resource.linked_dataset": req.resource.linked_dataset,
        "context.channel": req.context.channel,
    }
    return values[name]


def holds(condition: Condition, req: DecisionRequest, moment: float, activity_id: str) -> bool:
    if isinstance(condition, RoleIn):
        return req.actor.role in condition.role
    if isinstance(condition, DepartmentIn):
        return req.actor.department in condition.department
    if isinstance(condition, ChannelIn):
        return req.context.channel in condition.channel
    if isinstance(condition, AssignedToCase):
        assigned = (
            req.resource.case_id is not None and req.resource.case_id in req.actor.case_assignments
        )
        return assigned == condition.assigned_to_case
    if isinstance(condition, ConsentRecorded):
        return (activity_id in req.context.consent) == condition.consent_recorded
    if isinstance(condition, InTime):
        # A moment is in the second it has reached (floor), as in the compiled engine:
        # fromtimestamp would round 23:59:59.9999998 up into the next minute, even day.
        local = datetime.fromtimestamp(math.floor(moment), UTC).astimezone(TIMEZONE)
        minute = local.hour * 60 + local.minute
        start = _minutes(condition.time.start)
        end = _minutes(condition.time.end)
        return WEEKDAYS[local.weekday()] in condition.time.days and start <= minute < end
    if isinstance(condition, Compare):
        value = attribute(req, condition.attribute, activity_id)
        if condition.equals is not None:
            return value == condition.equals
        if condition.not_equals is not None:
            return value != condition.not_equals
        if condition.in_ is not None:
            return value in condition.in_
        assert condition.not_in is not None
        return value not in condition.not_in
    if isinstance(condition, Not):
        return not holds(condition.not_, req, moment, activity_id)
    if isinstance(condition, AnyOf):
        return any(holds(c, req, moment, activity_id) for c in condition.any)
    assert isinstance(condition, AllOf)
    return all(holds(c, req, moment, activity_id) for c in condition.all)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def targets(rule: EffectiveRule, req: DecisionRequest, activity_id: str) -> bool:
    if rule.purposes is not None and activity_id not in rule.purposes:
        return False
    if rule.actions is not None and req.action not in rule.actions:
        return False
    if rule.data_categories is not None and req.resource.data_category not in rule.data_categories:
        return False
    if rule.datasets is not None and not (
        req.resource.dataset in rule.datasets or req.resource.linked_dataset in rule.datasets
    ):
        return False
    if rule.link is not None:
        first, second = rule.link
        a, b = req.resource.dataset, req.resource.linked_dataset
        if req.action != "link" or a is None or b is None:
            return False
        if not ((a in first and b in second) or (a in second and b in first)):
            return False
    return True


def evaluate(ctx: PolicyContext, req: DecisionRequest, moment: float) -> Evaluation:
    """Decide `req` under `ctx` at `moment` (seconds since the epoch), with a full trace."""
    activity = ctx.activities.get(req.purpose)
    if activity is None:
        return Evaluation(oc.deny(oc.UNKNOWN_PURPOSE), None, ())
    if activity.status != "actief":
        return Evaluation(oc.deny(oc.INACTIVE_PURPOSE), activity, ())
    if req.action not in ACTIONS:
        return Evaluation(oc.deny(oc.UNKNOWN_ACTION), activity, ())
    if ctx.register.data_category(req.resource.data_category) is None:
        return Evaluation(oc.deny(oc.UNKNOWN_DATA_CATEGORY), activity, ())
    traces: list[RuleTrace] = []
    for rule in ctx.rules:
        if not targets(rule, req, activity.id):
            traces.append(RuleTrace(rule, targeted=False, applies=False))
            continue
        failed = tuple(
            describe(c, req) for c in rule.conditions if not holds(c, req, moment, activity.id)
        )
        traces.append(RuleTrace(rule, targeted=True, applies=not failed, failed=failed))
    denies = tuple(t.rule for t in traces if t.applies and t.rule.effect == "deny")
    permits = tuple(t.rule for t in traces if t.applies and t.rule.effect == "permit")
    set_aside: tuple[EffectiveRule, ...] = ()
    if denies:
        if req.context.justification and all(r.break_glass for r in denies):
            set_aside = denies
        else:
            return Evaluation(oc.deny(oc.DENY_RULE, denies), activity, tuple(traces))
    if not permits:
        return Evaluation(oc.deny(oc.NO_PERMIT), activity, tuple(traces))
    return Evaluation(oc.permit(permits, set_aside), activity, tuple(traces))


def describe(condition: Condition, req: DecisionRequest) -> str:
    """A condition that did not hold, in plain Dutch."""
    if isinstance(condition, RoleIn):
        return f"de rol '{req.actor.role}' is niet een van: {', '.join(condition.role)}"
    if isinstance(condition, DepartmentIn):
        return (
            f"de afdeling '{req.actor.department}' is niet een van: "
            f"{', '.join(condition.department)}"
        )
    if isinstance(condition, ChannelIn):
        return f"het kanaal '{req.context.channel}' is niet een van: {', '.join(condition.channel)}"
    if isinstance(condition, AssignedToCase):
        return (
            "de medewerker is niet toegewezen aan dit dossier"
            if condition.assigned_to_case
            else "de medewerker is toegewezen aan dit dossier"
        )
    if isinstance(condition, ConsentRecorded):
        return (
            "er is geen toestemming vastgelegd voor dit doel"
            if condition.consent_recorded
            else "er is toestemming vastgelegd voor dit doel"
        )
    if isinstance(condition, InTime):
        return f"het tijdstip valt niet binnen {_window(condition)}"
    if isinstance(condition, Compare):
        return describe_positive(condition, negate=True)
    if isinstance(condition, Not):
        return describe_positive(condition.not_)
    if isinstance(condition, AnyOf):
        return "geen van de voorwaarden geldt: " + "; ".join(
            describe(c, req) for c in condition.any
        )
    assert isinstance(condition, AllOf)
    return "niet alle voorwaarden gelden: " + "; ".join(describe(c, req) for c in condition.all)


ATTRIBUTE_WORDS = {
    "actor.role": "de rol",
    "actor.department": "de afdeling",
    "actor.organisation": "de organisatie",
    "action": "de handeling",
    "purpose": "het doel",
    "resource.data_category": "de gegevenscategorie",
    "resource.dataset": "de bron",
    "resource.linked_dataset": "de gekoppelde bron",
    "context.channel": "het kanaal",
}


def _window(condition: InTime) -> str:
    window = condition.time
    return f"{', '.join(window.days)} tussen {window.start} en {window.end}"


def describe_positive(condition: Condition, negate: bool = False) -> str:
    """What a condition requires (or, with `negate`, forbids), in plain Dutch."""
    is_ = "is niet" if negate else "is"
    if isinstance(condition, RoleIn):
        return f"de rol {is_} {' of '.join(condition.role)}"
    if isinstance(condition, DepartmentIn):
        return f"de afdeling {is_} {' of '.join(condition.department)}"
    if isinstance(condition, ChannelIn):
        return f"het kanaal {is_} {' of '.join(condition.channel)}"
    if isinstance(condition, AssignedToCase):
        assigned = condition.assigned_to_case != negate
        return (
            "de medewerker is toegewezen aan het dossier"
            if assigned
            else "de medewerker is niet toegewezen aan het dossier"
        )
    if isinstance(condition, ConsentRecorded):
        consent = condition.consent_recorded != negate
        return (
            "er is toestemming vastgelegd voor dit doel"
            if consent
            else "er is geen toestemming vastgelegd voor dit doel"
        )
    if isinstance(condition, InTime):
        return f"het is buiten {_window(condition)}" if negate else f"het is {_window(condition)}"
    if isinstance(condition, Compare):
        subject = ATTRIBUTE_WORDS[condition.attribute]
        words = {
            "equals": ("is", "is niet"),
            "not_equals": ("is niet", "is"),
            "in_": ("is een van", "is niet een van"),
            "not_in": ("is niet een van", "is een van"),
        }
        for name, (plain, negated) in words.items():
            value = getattr(condition, name)
            if value is not None:
                shown = ", ".join(value) if isinstance(value, list) else value
                return f"{subject} {negated if negate else plain} {shown}"
    if isinstance(condition, Not):
        return describe_positive(condition.not_, not negate)
    if isinstance(condition, AnyOf):
        if negate:  # not (a or b) = not a and not b
            return " en ".join(describe_positive(c, True) for c in condition.any)
        return " of ".join(f"({describe_positive(c)})" for c in condition.any)
    assert isinstance(condition, AllOf)
    if negate:
        return " of ".join(f"({describe_positive(c, True)})" for c in condition.all)
    return " en ".join(f"({describe_positive(c)})" for c in condition.all)
