"""The four-eyes rule for the register: a load is proposed by one person, approved by another.

A load's changes wait in `register_proposed_entry`; approval copies them to
`register_entry_version` stamped with the moment of approval, so "entry X as of T" keeps meaning
"what was in force at T". A proposal is approved exactly as it was proposed: when another load of
one of its organisations was approved after it was made, its changes were computed against a
register that no longer stands, so it is out of date ("stale") and is refused; the author loads
the files again. Each step writes its audit row in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from glazenstad.audit import trail
from glazenstad.audit.four_eyes import named, same_person
from glazenstad.db.base import utcnow
from glazenstad.register.tables import (
    register_entry_version,
    register_load,
    register_load_event,
    register_proposed_entry,
)

PROPOSED, APPROVED, STALE = "proposed", "approved", "stale"


class RegisterApprovalError(Exception):
    """A register load that cannot be proposed or approved as asked; the message says why."""


@dataclass(frozen=True)
class LoadStatus:
    """One register load with where it stands: proposed, approved, or stale (out of date)."""

    id: int
    loaded_at: datetime
    loaded_by: str
    source: str
    organisations: tuple[str, ...]
    added: int
    changed: int
    removed: int
    unchanged: int
    status: str
    proposal_note: str | None
    approved_at: datetime | None
    approved_by: str | None
    approval_note: str | None
    stale_because: int | None
    """Stale loads: the id of the load approved after this one was proposed."""


def check_second_person(author: str, approver: str, what: str) -> None:
    """Refuse an approver who is nobody or the author (four-eyes rule)."""
    if not named(approver):
        raise RegisterApprovalError("approved_by: who approves must be named")
    if same_person(author, approver):
        raise RegisterApprovalError(
            f"four-eyes rule (vier-ogenprincipe): '{author.strip()}' proposed {what} and cannot "
            "also approve it; ask a second person: "
            "glazenstad register approve LOAD_ID --by <someone else> --note <why>"
        )


def propose(
    conn: Connection,
    load_id: int,
    organisations: list[str],
    *,
    by: str,
    note: str | None,
    trace_id: str | None,
    at: datetime,
) -> None:
    """Record that `by` proposed load `load_id` (lifecycle event and audit rows)."""
    conn.execute(
        register_load_event.insert().values(
            load_id=load_id, status=PROPOSED, at=at, by=by.strip(), note=note
        )
    )
    for organisation in organisations:
        trail.record(
            conn,
            organisation_id=organisation,
            actor=by,
            action=trail.REGISTER_PROPOSED,
            subject=str(load_id),
            reason=note,
            trace_id=trace_id,
            at=at,
        )


def approve_in(
    conn: Connection,
    load_id: int,
    *,
    by: str,
    note: str | None,
    trace_id: str | None,
    at: datetime | None = None,
) -> None:
    """Approve load `load_id` inside the caller's transaction: the proposed versions come into
    force `at` (now by default). Raises RegisterApprovalError (and the caller's transaction rolls
    back) when the load is unknown, already approved, out of date, or `by` proposed it."""
    status = _status(conn, load_id)
    if status is None:
        raise RegisterApprovalError(f"there is no register load {load_id}")
    if status.status == APPROVED:
        raise RegisterApprovalError(
            f"register load {load_id} was already approved by '{status.approved_by}' at "
            f"{status.approved_at:%Y-%m-%d %H:%M} UTC"
        )
    if status.status == STALE:
        raise RegisterApprovalError(
            f"register load {load_id} is out of date: load {status.stale_because} of the same "
            "organisation was approved after it was proposed; load the register files again "
            "and have that load approved"
        )
    check_second_person(status.loaded_by, by, f"register load {load_id}")
    now = at or utcnow()
    conn.execute(
        register_load_event.insert().values(
            load_id=load_id, status=APPROVED, at=now, by=by.strip(), note=note
        )
    )
    copied = [c.name for c in register_proposed_entry.columns if c.name != "id"]
    proposed = [
        {column: row._mapping[column] for column in copied} | {"recorded_at": now}
        for row in conn.execute(
            select(register_proposed_entry)
            .where(register_proposed_entry.c.load_id == load_id)
            .order_by(register_proposed_entry.c.id)
        )
    ]
    if proposed:
        conn.execute(register_entry_version.insert(), proposed)
    for organisation in status.organisations:
        trail.record(
            conn,
            organisation_id=organisation,
            actor=by,
            action=trail.REGISTER_APPROVED,
            subject=str(load_id),
            reason=note,
            trace_id=trace_id,
            at=now,
        )


def approve_load(
    engine: Engine,
    load_id: int,
    *,
    by: str,
    note: str | None = None,
    trace_id: str | None = None,
) -> LoadStatus:
    """Approve a proposed load in one transaction; returns it as it now stands.

    An attempt by the load's own author is refused and recorded in the audit trail
    (`register.approval_refused`) before the error is raised.
    """
    trail.check_trace_id(trace_id)
    status = load_status(engine, load_id)
    if status is not None and status.status == PROPOSED and same_person(status.loaded_by, by):
        with engine.begin() as conn:
            for organisation in status.organisations:
                trail.record(
                    conn,
                    organisation_id=organisation,
                    actor=by,
                    action=trail.REGISTER_APPROVAL_REFUSED,
                    subject=str(load_id),
                    reason="four-eyes rule: the author cannot approve their own load",
                    trace_id=trace_id,
                )
    with engine.begin() as conn:
        approve_in(conn, load_id, by=by, note=note, trace_id=trace_id)
    approved = load_status(engine, load_id)
    assert approved is not None
    return approved


def load_status(engine: Engine, load_id: int) -> LoadStatus | None:
    with engine.connect() as conn:
        return _status(conn, load_id)


def load_history(engine: Engine, limit: int = 50) -> list[LoadStatus]:
    """The newest `limit` loads, newest first, each with its status."""
    with engine.connect() as conn:
        ids = conn.execute(
            select(register_load.c.id).order_by(register_load.c.id.desc()).limit(limit)
        ).scalars()
        found = [_status(conn, int(i)) for i in list(ids)]
    return [s for s in found if s is not None]


def _status(conn: Connection, load_id: int) -> LoadStatus | None:
    load = conn.execute(select(register_load).where(register_load.c.id == load_id)).first()
    if load is None:
        return None
    events = {
        e.status: e
        for e in conn.execute(
            select(register_load_event).where(register_load_event.c.load_id == load_id)
        )
    }
    proposed, approved = events.get(PROPOSED), events.get(APPROVED)
    organisations = tuple(load.organisations)
    stale_because = None
    if approved is None and proposed is not None:
        stale_because = _approved_since(conn, proposed.id, set(organisations))
    status = APPROVED if approved is not None else STALE if stale_because else PROPOSED
    return LoadStatus(
        id=int(load.id),
        loaded_at=load.loaded_at,
        loaded_by=load.loaded_by,
        source=load.source,
        organisations=organisations,
        added=load.added,
        changed=load.changed,
        removed=load.removed,
        unchanged=load.unchanged,
        status=status,
        proposal_note=proposed.note if proposed is not None else None,
        approved_at=approved.at if approved is not None else None,
        approved_by=approved.by if approved is not None else None,
        approval_note=approved.note if approved is not None else None,
        stale_because=stale_because,
    )


def _approved_since(conn: Connection, event_id: int, organisations: set[str]) -> int | None:
    """A load of one of `organisations` approved after lifecycle event `event_id`, if any."""
    query: Any = (
        select(register_load.c.id, register_load.c.organisations)
        .join(register_load_event, register_load_event.c.load_id == register_load.c.id)
        .where(register_load_event.c.status == APPROVED, register_load_event.c.id > event_id)
        .order_by(register_load_event.c.id)
    )
    for row in conn.execute(query):
        if organisations & set(row.organisations):
            return int(row.id)
    return None


def latest_approved_load_id(conn: Connection) -> int | None:
    """The load approved last: what the register in force was last changed by."""
    value = conn.execute(
        select(register_load_event.c.load_id)
        .where(register_load_event.c.status == APPROVED)
        .order_by(register_load_event.c.id.desc())
        .limit(1)
    ).scalar()
    return int(value) if value is not None else None
