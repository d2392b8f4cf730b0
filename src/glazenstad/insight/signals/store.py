"""Filing, reading and answering signals, on SQLite and PostgreSQL alike.

Every change is one transaction that writes the signal's new state and appends a row to its
history. A state change only succeeds from the state the person saw: two owners answering the
same signal at once cannot both win (the second gets a conflict, not a silently overwritten
answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, or_, select
from sqlalchemy.sql.elements import ColumnElement

from glazenstad.db.base import utcnow
from glazenstad.insight.signals import workflow
from glazenstad.insight.signals.access import Actor
from glazenstad.insight.signals.content import MAX_RESPONSE, checked_text
from glazenstad.insight.signals.decisions import DeniedDecision
from glazenstad.insight.signals.errors import (
    SignalConflict,
    SignalForbidden,
    SignalInputError,
    SignalNotFound,
)
from glazenstad.insight.signals.tables import signal, signal_event


@dataclass(frozen=True)
class SignalEvent:
    """One step in a signal's history."""

    at: datetime
    by: str
    from_state: str | None
    to_state: str
    text: str | None


@dataclass(frozen=True)
class Signal:
    """A signal as it stands now (with its history when read one at a time)."""

    id: int
    organisation_id: str
    decision_id: str
    rule_id: str | None
    rule_title: str
    owner: str
    purpose: str
    state: str
    text: str
    response: str | None
    filed_by: str
    filed_at: datetime
    changed_at: datetime
    history: tuple[SignalEvent, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.state in workflow.OPEN_STATES


def _signal(row: Any, history: tuple[SignalEvent, ...] = ()) -> Signal:
    return Signal(
        id=int(row.id),
        organisation_id=row.organisation_id,
        decision_id=row.decision_id,
        rule_id=row.rule_id,
        rule_title=row.rule_title,
        owner=row.owner,
        purpose=row.purpose,
        state=row.state,
        text=row.text,
        response=row.response,
        filed_by=row.filed_by,
        filed_at=row.filed_at,
        changed_at=row.changed_at,
        history=history,
    )


class SignalStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def file(
        self,
        actor: Actor,
        decision: DeniedDecision,
        rule_id: str | None,
        text: str,
        *,
        now: datetime | None = None,
    ) -> Signal:
        """File a signal about `decision` (see `decisions.denied_decision`) and one of its rules.

        The same person cannot file twice about the same decision and rule (conflict).
        """
        if not actor.may_file:
            raise SignalForbidden("U mag geen signalen indienen.")
        if decision.organisation_id != actor.organisation_id:
            raise SignalInputError("decision", "Deze beslissing is van een andere organisatie.")
        rule = decision.rule(rule_id)
        body = checked_text(text)
        moment = now or utcnow()
        with self.engine.begin() as conn:
            same_rule = (
                signal.c.rule_id.is_(None) if rule.id is None else signal.c.rule_id == rule.id
            )
            earlier = conn.execute(
                select(signal.c.id).where(
                    signal.c.decision_id == decision.decision_id,
                    signal.c.filed_by == actor.id,
                    same_rule,
                )
            ).scalar()
            if earlier is not None:
                raise SignalConflict(
                    f"U heeft over deze beslissing en regel al een signaal ingediend "
                    f"(signaal {earlier})."
                )
            signal_id = conn.execute(
                signal.insert().values(
                    organisation_id=actor.organisation_id,
                    decision_id=decision.decision_id,
                    rule_id=rule.id,
                    rule_title=rule.title[:200],
                    owner=rule.owner[:200],
                    purpose=decision.purpose[:600],
                    state=workflow.NEW,
                    text=body,
                    response=None,
                    filed_by=actor.id,
                    filed_at=moment,
                    changed_at=moment,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            conn.execute(
                signal_event.insert().values(
                    signal_id=signal_id,
                    at=moment,
                    by=actor.id,
                    from_state=None,
                    to_state=workflow.NEW,
                    text=body,
                )
            )
        return self.get(actor, int(signal_id))

    def get(self, actor: Actor, signal_id: int) -> Signal:
        """One signal with its history; SignalNotFound unless the actor may see it."""
        with self.engine.connect() as conn:
            row = conn.execute(select(signal).where(signal.c.id == signal_id)).first()
            if row is None or not actor.sees(_signal(row)):
                raise SignalNotFound(f"Signaal {signal_id} bestaat niet of u mag het niet zien.")
            events = tuple(
                SignalEvent(e.at, e.by, e.from_state, e.to_state, e.text)
                for e in conn.execute(
                    select(signal_event)
                    .where(signal_event.c.signal_id == signal_id)
                    .order_by(signal_event.c.id)
                )
            )
        return _signal(row, events)

    def search(
        self,
        actor: Actor,
        *,
        state: str | None = None,
        rule_id: str | None = None,
        owner: str | None = None,
        filed_by: str | None = None,
    ) -> list[Signal]:
        """The signals the actor may see, newest first, optionally filtered."""
        query = select(signal).where(
            signal.c.organisation_id == actor.organisation_id, _visible(actor)
        )
        if state is not None:
            query = query.where(signal.c.state == state)
        if rule_id is not None:
            query = query.where(signal.c.rule_id == rule_id)
        if owner is not None:
            query = query.where(signal.c.owner == owner)
        if filed_by is not None:
            query = query.where(signal.c.filed_by == filed_by)
        query = query.order_by(signal.c.filed_at.desc(), signal.c.id.desc())
        with self.engine.connect() as conn:
            return [_signal(row) for row in conn.execute(query)]

    def move(
        self,
        actor: Actor,
        signal_id: int,
        to_state: str,
        response: str | None,
        *,
        now: datetime | None = None,
    ) -> Signal:
        """Move a signal to `to_state` with a response (required when closing it)."""
        current = self.get(actor, signal_id)
        if not actor.may_answer(current):
            raise SignalForbidden(
                f"Alleen wie antwoordt voor '{current.owner}' mag dit signaal behandelen."
            )
        if to_state not in workflow.STATES:
            raise SignalInputError(
                "state", f"Onbekende status '{to_state}'. Kies uit: {', '.join(workflow.STATES)}."
            )
        if not workflow.may_move(current.state, to_state):
            allowed = workflow.next_states(current.state)
            then = (
                f"Vanuit deze status kan het signaal alleen naar: {', '.join(allowed)}."
                if allowed
                else "Het signaal is afgerond en kan niet meer veranderen."
            )
            raise SignalConflict(
                f"Een signaal met status '{current.state}' kan niet naar '{to_state}'. {then}"
            )
        text: str | None = None
        if response is not None and response.strip():
            text = checked_text(response, field="response", maximum=MAX_RESPONSE)
        elif workflow.needs_response(to_state):
            raise SignalInputError(
                "response",
                "Schrijf een antwoord aan de indiener: wat is er met het signaal gedaan, "
                "en waarom.",
            )
        moment = now or utcnow()
        values: dict[str, Any] = {"state": to_state, "changed_at": moment}
        if text is not None:
            values["response"] = text
        with self.engine.begin() as conn:
            changed = conn.execute(
                signal.update()
                .where(signal.c.id == signal_id, signal.c.state == current.state)
                .values(**values)
            ).rowcount
            if changed != 1:
                raise SignalConflict(
                    "Iemand anders heeft dit signaal net behandeld. Bekijk het opnieuw."
                )
            conn.execute(
                signal_event.insert().values(
                    signal_id=signal_id,
                    at=moment,
                    by=actor.id,
                    from_state=current.state,
                    to_state=to_state,
                    text=text,
                )
            )
        return self.get(actor, signal_id)


def _visible(actor: Actor) -> ColumnElement[bool]:
    """Which signals of the actor's organisation the actor sees (see `access`)."""
    if actor.may_triage_all:
        return signal.c.organisation_id == actor.organisation_id
    own = signal.c.filed_by == actor.id
    if actor.may_triage and actor.owns:
        return or_(own, signal.c.owner.in_(sorted(actor.owns)))
    return own
