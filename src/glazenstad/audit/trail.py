"""Writing and reading the audit trail.

A change and its audit row are written on the same connection, in the same transaction: a change
that fails leaves no row, and no row claims a change that did not happen. Refused attempts (the
same person approving their own work) are recorded too, in a transaction of their own, because an
attempt to bypass the four-eyes rule is exactly what an auditor wants to see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from glazenstad.audit.tables import audit_event
from glazenstad.db.base import utcnow

REGISTER_PROPOSED = "register.proposed"
REGISTER_APPROVED = "register.approved"
REGISTER_APPROVAL_REFUSED = "register.approval_refused"
POLICY_SAVED = "policy.saved"
POLICY_ACTIVATED = "policy.activated"
POLICY_RETIRED = "policy.retired"
POLICY_ACTIVATION_REFUSED = "policy.activation_refused"

ACTIONS: dict[str, str] = {
    REGISTER_PROPOSED: "Wijziging van het register voorgesteld",
    REGISTER_APPROVED: "Wijziging van het register goedgekeurd",
    REGISTER_APPROVAL_REFUSED: "Goedkeuring van eigen registerwijziging geweigerd",
    POLICY_SAVED: "Versie van de spelregels opgeslagen",
    POLICY_ACTIVATED: "Versie van de spelregels in werking gezet",
    POLICY_RETIRED: "Versie van de spelregels buiten werking gezet",
    POLICY_ACTIVATION_REFUSED: "Inwerkingstelling van eigen versie geweigerd",
}
"""Every action the trail knows, with what it means in plain Dutch."""

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


class AuditInputError(ValueError):
    """An audit row that cannot be written as given (names the field)."""


@dataclass(frozen=True)
class AuditEvent:
    id: int
    organisation_id: str
    at: datetime
    actor: str
    action: str
    subject: str
    reason: str | None
    trace_id: str | None


def check_trace_id(trace_id: str | None) -> str | None:
    """A W3C trace id (32 lowercase hex, not all zeros) or None; anything else is refused."""
    if trace_id is None:
        return None
    if not TRACE_ID.match(trace_id) or trace_id == "0" * 32:
        raise AuditInputError(
            f"trace_id: '{trace_id}' is not a W3C trace id (32 lowercase hex characters, "
            "not all zeros)"
        )
    return trace_id


def record(
    conn: Connection,
    *,
    organisation_id: str,
    actor: str,
    action: str,
    subject: str,
    reason: str | None = None,
    trace_id: str | None = None,
    at: datetime | None = None,
) -> None:
    """Add one row to the trail on `conn`, inside the caller's transaction."""
    if action not in ACTIONS:
        raise AuditInputError(f"action: unknown audit action '{action}'")
    if not actor.strip():
        raise AuditInputError("actor: who acted must be named")
    conn.execute(
        audit_event.insert().values(
            organisation_id=organisation_id,
            at=at or utcnow(),
            actor=actor.strip(),
            action=action,
            subject=subject,
            reason=reason,
            trace_id=check_trace_id(trace_id),
        )
    )


def _filtered(query: Any, organisation_id: str | None, since: datetime | None) -> Any:
    if organisation_id is not None:
        query = query.where(audit_event.c.organisation_id == organisation_id)
    if since is not None:
        query = query.where(audit_event.c.at >= since)
    return query


def read_events(
    engine: Engine,
    *,
    organisation_id: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[AuditEvent]:
    """Rows of the trail, newest first."""
    query = _filtered(select(audit_event), organisation_id, since).order_by(audit_event.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    with engine.connect() as conn:
        return [
            AuditEvent(
                id=int(r.id),
                organisation_id=r.organisation_id,
                at=r.at,
                actor=r.actor,
                action=r.action,
                subject=r.subject,
                reason=r.reason,
                trace_id=r.trace_id,
            )
            for r in conn.execute(query)
        ]


def count_events(
    engine: Engine, *, organisation_id: str | None = None, since: datetime | None = None
) -> int:
    query = _filtered(select(func.count()).select_from(audit_event), organisation_id, since)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
