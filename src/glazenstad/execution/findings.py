"""Findings of the execution pipelines: what execution noticed that policy should hear about.

Every pipeline reports through `record_findings`, in the same transaction that stores its data,
so a finding is never lost when the data is stored, nor counted when it is not. One row per
(kind, organisation, subject) with a count and first/last seen: a device that misbehaves ten
times a second grows a number, not a table. Counts follow MQTT's at-least-once delivery: a
message redelivered after a crash between commit and acknowledgement counts again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, case, func, select

from glazenstad.db.dialect import dialect_insert
from glazenstad.execution.tables import execution_finding

MAX_SUBJECT = 200
MAX_ORGANISATION = 80
MAX_DETAIL = 1000


@dataclass(frozen=True)
class FindingEvent:
    """One occurrence (or `count` occurrences) of a finding, to be added to its row."""

    kind: str
    organisation_id: str
    subject: str
    detail: str
    seen_at: datetime
    count: int = 1


@dataclass(frozen=True)
class Finding:
    """A stored finding: how often, and from when to when, it was seen."""

    kind: str
    organisation_id: str
    subject: str
    detail: str
    first_seen: datetime
    last_seen: datetime
    count: int


def _merge(events: Iterable[FindingEvent]) -> list[dict[str, Any]]:
    """One row per key, so a single statement never touches the same row twice."""
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for event in events:
        key = (
            event.kind,
            event.organisation_id[:MAX_ORGANISATION],
            event.subject[:MAX_SUBJECT],
        )
        row = merged.get(key)
        if row is None:
            merged[key] = {
                "kind": key[0],
                "organisation_id": key[1],
                "subject": key[2],
                "detail": event.detail[:MAX_DETAIL],
                "first_seen": event.seen_at,
                "last_seen": event.seen_at,
                "count": event.count,
            }
            continue
        row["count"] += event.count
        row["first_seen"] = min(row["first_seen"], event.seen_at)
        if event.seen_at >= row["last_seen"]:
            row["last_seen"] = event.seen_at
            row["detail"] = event.detail[:MAX_DETAIL]
    return list(merged.values())


def record_findings(conn: Connection, events: Iterable[FindingEvent]) -> int:
    """Add events to their findings inside the caller's transaction; returns the rows touched."""
    rows = _merge(events)
    if not rows:
        return 0
    t = execution_finding
    insert = dialect_insert(conn, t)
    excluded = insert.excluded
    statement = insert.on_conflict_do_update(
        index_elements=[t.c.kind, t.c.organisation_id, t.c.subject],
        set_={
            "count": t.c["count"] + excluded["count"],
            "first_seen": case(
                (excluded.first_seen < t.c.first_seen, excluded.first_seen),
                else_=t.c.first_seen,
            ),
            "last_seen": case(
                (excluded.last_seen >= t.c.last_seen, excluded.last_seen),
                else_=t.c.last_seen,
            ),
            "detail": case(
                (excluded.last_seen >= t.c.last_seen, excluded.detail), else_=t.c.detail
            ),
        },
    )
    conn.execute(statement, rows)
    return len(rows)


def list_findings(
    engine: Engine,
    organisation_id: str | None = None,
    *,
    kinds: Iterable[str] | None = None,
    limit: int = 1000,
) -> list[Finding]:
    """Findings, the most recently seen first."""
    t = execution_finding
    query = select(t).order_by(t.c.last_seen.desc(), t.c.id).limit(limit)
    if organisation_id is not None:
        query = query.where(t.c.organisation_id == organisation_id)
    if kinds is not None:
        query = query.where(t.c.kind.in_(list(kinds)))
    with engine.connect() as conn:
        return [
            Finding(
                kind=r.kind,
                organisation_id=r.organisation_id,
                subject=r.subject,
                detail=r.detail,
                first_seen=r.first_seen,
                last_seen=r.last_seen,
                count=int(r._mapping["count"]),
            )
            for r in conn.execute(query)
        ]


def count_findings(engine: Engine, organisation_id: str) -> int:
    t = execution_finding
    with engine.connect() as conn:
        value = conn.execute(
            select(func.count()).select_from(t).where(t.c.organisation_id == organisation_id)
        ).scalar()
    return int(value or 0)
