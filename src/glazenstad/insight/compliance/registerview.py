"""The register as the checks need it: in force at the measured moment, and every activity version.

Log records name the activity version they were written under (`activity_version`, resolved at
ingest from the record's start time), so "was this activity active, did it use special
categories, was there a DPIA" is answered from that version, not from today's register. A
register is small (hundreds to a few thousand entries), so all activity and data-category
versions of one organisation are read in one query each.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select

from glazenstad.register.model import (
    KIND_ACTIVITY,
    KIND_DATA_CATEGORY,
    KIND_ORGANISATION,
    URI_SEGMENTS,
)
from glazenstad.register.store import OrganisationRegister, RegisterStore, StoredEntry
from glazenstad.register.tables import register_entry_version


@dataclass(frozen=True)
class ActivityVersion:
    """One stored version of a processing activity, with what the checks read from it."""

    entry_id: str
    uri: str
    version: int
    recorded_at: datetime
    removed: bool
    name: str
    status: str
    dpia_status: str
    data_categories: tuple[str, ...]


def register_as_of(
    engine: Engine, register_store: RegisterStore, organisation_id: str, moment: datetime
) -> OrganisationRegister | None:
    """The organisation's register in force at `moment` (the cached snapshot when current)."""
    v = register_entry_version
    with engine.connect() as conn:
        newest_load = conn.execute(
            select(func.max(v.c.recorded_at)).where(v.c.organisation_id == organisation_id)
        ).scalar()
    if newest_load is not None and newest_load <= moment:
        return register_store.snapshot().organisation(organisation_id)
    newest = (
        select(v.c.kind, v.c.entry_id, func.max(v.c.version).label("version"))
        .where(v.c.organisation_id == organisation_id, v.c.recorded_at <= moment)
        .group_by(v.c.kind, v.c.entry_id)
        .subquery()
    )
    query = select(v).join(
        newest,
        and_(
            v.c.organisation_id == organisation_id,
            v.c.kind == newest.c.kind,
            v.c.entry_id == newest.c.entry_id,
            v.c.version == newest.c.version,
        ),
    )
    with engine.connect() as conn:
        rows = [StoredEntry.from_row(r) for r in conn.execute(query)]
    organisation = next((s for s in rows if s.kind == KIND_ORGANISATION and not s.removed), None)
    if organisation is None:
        return None
    register = OrganisationRegister(organisation)
    for stored in rows:
        if not stored.removed and stored.kind != KIND_ORGANISATION:
            register.by_kind[stored.kind][stored.entry_id] = stored
    return register


class ActivityVersions:
    """Every version of the organisation's activities and data categories, for lookups."""

    def __init__(self, engine: Engine, organisation_id: str) -> None:
        v = register_entry_version
        query = (
            select(
                v.c.kind,
                v.c.entry_id,
                v.c.uri,
                v.c.version,
                v.c.recorded_at,
                v.c.removed,
                v.c.name,
                v.c.document,
            )
            .where(
                v.c.organisation_id == organisation_id,
                v.c.kind.in_([KIND_ACTIVITY, KIND_DATA_CATEGORY]),
            )
            .order_by(v.c.kind, v.c.entry_id, v.c.version)
        )
        self.by_uri_version: dict[tuple[str, int], ActivityVersion] = {}
        self.by_uri: dict[str, str] = {}
        self.first_recorded: dict[str, datetime] = {}
        self._category_times: dict[str, list[datetime]] = defaultdict(list)
        self._category_special: dict[str, list[bool]] = defaultdict(list)
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        for row in rows:
            document: dict[str, Any] = row.document
            if row.kind == KIND_ACTIVITY:
                version = ActivityVersion(
                    entry_id=row.entry_id,
                    uri=row.uri,
                    version=int(row.version),
                    recorded_at=row.recorded_at,
                    removed=bool(row.removed),
                    name=row.name,
                    status=str(document.get("status", "actief")),
                    dpia_status=str((document.get("dpia") or {}).get("status", "")),
                    data_categories=tuple(document.get("data_categories") or ()),
                )
                self.by_uri_version[(row.uri, version.version)] = version
                self.by_uri[row.uri] = row.entry_id
                self.first_recorded.setdefault(row.entry_id, row.recorded_at)
            else:
                special = not row.removed and document.get("special", "nee") != "nee"
                self._category_times[row.entry_id].append(row.recorded_at)
                self._category_special[row.entry_id].append(special)

    def version(self, uri: str, version: int | None) -> ActivityVersion | None:
        if version is None:
            return None
        return self.by_uri_version.get((uri, version))

    def activity_id(self, uri: str) -> str | None:
        return self.by_uri.get(uri)

    def special_categories(self, activity: ActivityVersion) -> list[str]:
        """The activity version's categories that were special (art. 9/10) when it was recorded.

        A category is judged by its own version in force at that moment; one recorded only
        later (in the same load, a split second after) is judged by its first version.
        """
        found: list[str] = []
        for category in activity.data_categories:
            times = self._category_times.get(category)
            if not times:
                continue
            position = bisect_right(times, activity.recorded_at)
            special = self._category_special[category][max(position - 1, 0)]
            if special:
                found.append(category)
        return found


def activity_id_of_purpose(
    purpose: str, register_uri: str, known_ids: set[str] | dict[str, Any]
) -> str | None:
    """The activity a decision's purpose names: its id, or its URI in this register."""
    if purpose in known_ids:
        return purpose
    prefix = f"{register_uri.rstrip('/')}/{URI_SEGMENTS[KIND_ACTIVITY]}/"
    if purpose.startswith(prefix):
        entry_id = purpose[len(prefix) :]
        return entry_id if entry_id in known_ids else None
    return None
