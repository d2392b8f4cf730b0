"""The denied decision a signal is about, the rule(s) that denied it, and who answers for them.

A signal starts from a decision receipt in the decision log. Which rule "blocked the work"
depends on why the decision was a denial:

- a deny rule applied (`deny_rule`): each deciding deny rule;
- no rule permitted it (`no_permit`), or the activity is not active (`inactive_purpose`): the
  purpose binding the register implies for the activity (`doelbinding-<activity>`, or
  `doelbinding-koppelen-<activity>` for linking), which would have had to permit it;
- the request named something the register does not know, or no policy is active: no rule at
  all; the signal goes to whoever answers for the policy.

Who answers for a rule: the rule's own `owner`; for a purpose-binding rule the owner of that
processing activity in the register; otherwise the policy's `owner`; otherwise the Functionaris
gegevensbescherming. The policy is the version that took the decision (from the receipt), or
the active one when that version is no longer stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Engine

from glazenstad.insight.signals.access import Actor
from glazenstad.insight.signals.errors import SignalInputError
from glazenstad.register.model import KIND_ACTIVITY, ProcessingActivity
from glazenstad.register.store import OrganisationRegister
from glazenstad.rules.decisionlog import stored_decision
from glazenstad.rules.effective import purpose_binding_rules
from glazenstad.rules.language import Policy
from glazenstad.rules.outcome import (
    DENY_RULE,
    INACTIVE_PURPOSE,
    NO_PERMIT,
    NO_POLICY,
    UNKNOWN_ACTION,
    UNKNOWN_DATA_CATEGORY,
    UNKNOWN_PURPOSE,
)
from glazenstad.rules.store import ACTIVE, PolicyStore

FALLBACK_OWNER: Final = "Functionaris gegevensbescherming"
BINDING_PREFIX: Final = "doelbinding-"
LINK_BINDING_PREFIX: Final = "doelbinding-koppelen-"

NO_RULE_TITLES: Final[dict[str, str]] = {
    UNKNOWN_PURPOSE: "Geen regel: het doel staat niet in het verwerkingsregister",
    UNKNOWN_DATA_CATEGORY: "Geen regel: dit soort gegevens staat niet in het register",
    UNKNOWN_ACTION: "Geen regel: deze handeling kent de gemeente niet",
    NO_POLICY: "Geen regel: er zijn geen spelregels actief",
}
"""What a signal is about when the denial came from no rule, by the decision's reason."""


@dataclass(frozen=True)
class BlockingRule:
    """A rule a signal can be about: its id (None: no rule), its title and who answers for it."""

    id: str | None
    title: str
    owner: str


@dataclass(frozen=True)
class DeniedDecision:
    """A denial from the decision log, with the rules a signal about it can name."""

    decision_id: str
    organisation_id: str
    decided_at: datetime
    purpose: str
    action: str
    data_category: str
    role: str
    department: str
    reason: str
    rules: tuple[BlockingRule, ...]

    def rule(self, rule_id: str | None) -> BlockingRule:
        """The rule a signal names: the only one when `rule_id` is None, else the one asked.

        SignalInputError (field `rule`) when the choice is missing or not a rule of this denial.
        """
        if rule_id is None:
            if len(self.rules) == 1:
                return self.rules[0]
            options = ", ".join(r.id or "-" for r in self.rules)
            raise SignalInputError(
                "rule",
                f"Deze beslissing is genomen door meer dan één regel ({options}). "
                "Kies over welke regel uw signaal gaat.",
            )
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        options = ", ".join(r.id or "-" for r in self.rules)
        raise SignalInputError(
            "rule", f"Regel '{rule_id}' heeft deze beslissing niet genomen. Kies uit: {options}."
        )


def find_activity(register: OrganisationRegister | None, purpose: str) -> ProcessingActivity | None:
    """The processing activity a request named, by id or by URI."""
    if register is None:
        return None
    found = register.activity(purpose)
    if found is not None:
        return found
    for stored in register.entries(KIND_ACTIVITY):
        if stored.uri == purpose:
            assert isinstance(stored.entry, ProcessingActivity)
            return stored.entry
    return None


def rule_owner(
    rule_id: str | None, policy: Policy | None, register: OrganisationRegister | None
) -> str:
    """Who answers for a rule (see the module documentation for the order)."""
    if policy is not None and rule_id is not None:
        for rule in policy.rules:
            if rule.id == rule_id:
                return rule.owner or policy.owner or FALLBACK_OWNER
    if rule_id is not None:
        activity = _bound_activity(rule_id, register)
        if activity is not None:
            return activity.owner
    if policy is not None and policy.owner:
        return policy.owner
    return FALLBACK_OWNER


def _bound_activity(
    rule_id: str, register: OrganisationRegister | None
) -> ProcessingActivity | None:
    """The activity of a purpose-binding rule id (`doelbinding-[koppelen-]<activity>`)."""
    if register is None:
        return None
    for prefix in (LINK_BINDING_PREFIX, BINDING_PREFIX):
        if rule_id.startswith(prefix):
            found = register.activity(rule_id[len(prefix) :])
            if found is not None:
                return found
    return None


def decision_policy(
    policies: PolicyStore, organisation_id: str, version: str | None
) -> Policy | None:
    """The policy that took a decision, or the organisation's active one if it is gone."""
    versions = policies.versions(organisation_id)
    for candidate in versions:
        if version is not None and candidate.content_hash == version:
            return candidate.policy
    active = [v for v in versions if v.status == ACTIVE]
    return active[-1].policy if active else None


def blocking_rules(
    row: dict[str, Any], policy: Policy | None, register: OrganisationRegister | None
) -> tuple[BlockingRule, ...]:
    """The rules a signal about the denied decision `row` (a decision_log row) can name."""
    reason = str(row["reason"])
    if reason == DENY_RULE and row["rules"]:
        return tuple(
            BlockingRule(
                rule_id, _title(rule_id, policy, register), rule_owner(rule_id, policy, register)
            )
            for rule_id in row["rules"]
        )
    activity = find_activity(register, str(row["purpose"]))
    if reason in (NO_PERMIT, INACTIVE_PURPOSE) and activity is not None:
        link = row["action"] == "link"
        rule_id = f"{LINK_BINDING_PREFIX if link else BINDING_PREFIX}{activity.id}"
        title = _title(rule_id, policy, register)
        if reason == INACTIVE_PURPOSE:
            title = f"{title} (de verwerking is niet actief)"
        return (BlockingRule(rule_id, title, rule_owner(rule_id, policy, register)),)
    title = NO_RULE_TITLES.get(reason, "Geen regel: geen enkele regel gaf toestemming")
    return (BlockingRule(None, title, rule_owner(None, policy, register)),)


def _title(rule_id: str, policy: Policy | None, register: OrganisationRegister | None) -> str:
    if policy is not None:
        for rule in policy.rules:
            if rule.id == rule_id:
                return rule.title
        if register is not None:
            for derived in purpose_binding_rules(policy, register):
                if derived.id == rule_id:
                    return derived.title
    activity = _bound_activity(rule_id, register)
    if activity is not None:
        if rule_id.startswith(LINK_BINDING_PREFIX):
            return f"Koppelen binnen {activity.name}"
        return f"Doelbinding: {activity.name}"
    return rule_id


def denied_decision(
    engine: Engine,
    policies: PolicyStore,
    register: OrganisationRegister | None,
    actor: Actor,
    decision_id: str,
) -> DeniedDecision:
    """The denial `decision_id` of the actor's organisation, with its blocking rules.

    SignalInputError (field `decision`) when there is no such decision in the actor's
    organisation (another organisation's decision reads as unknown) or it was a permit.
    """
    decision_id = decision_id.strip().lower()
    row = stored_decision(engine, decision_id) if _is_decision_id(decision_id) else None
    if row is None or row["organisation_id"] != actor.organisation_id:
        raise SignalInputError(
            "decision",
            f"Beslissing '{decision_id}' staat niet in het beslissingenlogboek van "
            f"{actor.organisation_id}. Controleer het nummer van de beslissing.",
        )
    if row["effect"] != "deny":
        raise SignalInputError(
            "decision",
            "Deze beslissing was een toestemming. Een signaal gaat over een regel die uw werk "
            "tegenhield, dus over een weigering.",
        )
    policy = decision_policy(policies, actor.organisation_id, row["policy_version"])
    activity = find_activity(register, str(row["purpose"]))
    return DeniedDecision(
        decision_id=decision_id,
        organisation_id=str(row["organisation_id"]),
        decided_at=row["decided_at"],
        purpose=activity.id if activity is not None else str(row["purpose"]),
        action=str(row["action"]),
        data_category=str(row["data_category"]),
        role=str(row["role"]),
        department=str(row["department"]),
        reason=str(row["reason"]),
        rules=blocking_rules(row, policy, register),
    )


def _is_decision_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)
