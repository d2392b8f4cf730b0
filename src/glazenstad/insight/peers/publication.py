"""An organisation's choice to publish its peer figures, kept as an append-only history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select

from glazenstad.db.base import utcnow
from glazenstad.insight.peers.tables import peer_publication_event as event

MAX_NOTE = 1000


@dataclass(frozen=True)
class PublicationEvent:
    organisation_id: str
    published: bool
    at: datetime
    by: str
    note: str | None


def set_published(
    engine: Engine,
    organisation_id: str,
    published: bool,
    *,
    by: str,
    note: str | None = None,
    at: datetime | None = None,
) -> PublicationEvent:
    """Record the choice; choosing what is already in force records nothing new."""
    if note is not None and len(note) > MAX_NOTE:
        raise ValueError(f"note: at most {MAX_NOTE} characters")
    current = latest_event(engine, organisation_id)
    if current is not None and current.published == published:
        return current
    recorded = PublicationEvent(organisation_id, published, at or utcnow(), by[:200], note)
    with engine.begin() as conn:
        conn.execute(
            insert(event).values(
                organisation_id=organisation_id,
                published=published,
                at=recorded.at,
                by=recorded.by,
                note=note,
            )
        )
    return recorded


def latest_event(engine: Engine, organisation_id: str) -> PublicationEvent | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(event)
            .where(event.c.organisation_id == organisation_id)
            .order_by(event.c.id.desc())
            .limit(1)
        ).first()
    return _event(row) if row is not None else None


def is_published(engine: Engine, organisation_id: str) -> bool:
    latest = latest_event(engine, organisation_id)
    return latest is not None and latest.published


def published_organisations(engine: Engine) -> set[str]:
    """Organisations whose newest choice is to publish."""
    newest = (
        select(event.c.organisation_id, func.max(event.c.id).label("id"))
        .group_by(event.c.organisation_id)
        .subquery()
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(event.c.organisation_id)
            .join(newest, event.c.id == newest.c.id)
            .where(event.c.published.is_(True))
        )
        return {r.organisation_id for r in rows}


def publication_history(engine: Engine, organisation_id: str) -> list[PublicationEvent]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(event).where(event.c.organisation_id == organisation_id).order_by(event.c.id)
        )
        return [_event(r) for r in rows]


def _event(row: Any) -> PublicationEvent:
    return PublicationEvent(row.organisation_id, bool(row.published), row.at, row.by, row.note)
