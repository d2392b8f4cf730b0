"""Reading the register back: current entries, versions, and any entry as of a moment in time.

Only approved loads are read: a proposed load's changes are not entry versions until a second
person approves them (`glazenstad.register.approval`).

The register of one installation is small (hundreds to a few thousand entries per
organisation), so a read builds an in-memory snapshot of the current register, cached until the
next load; lists, filters and cross-links (which algorithms serve this activity?) then need no
further queries.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select

from glazenstad.register.approval import LoadStatus, latest_approved_load_id, load_history
from glazenstad.register.model import (
    KIND_ACTIVITY,
    KIND_ALGORITHM,
    KIND_DATA_CATEGORY,
    KIND_DATASET,
    KIND_ORGANISATION,
    KIND_SENSOR,
    Algorithm,
    DataCategory,
    Dataset,
    Entry,
    Organisation,
    ProcessingActivity,
    Sensor,
    parse_entry,
)
from glazenstad.register.tables import register_entry_version


@dataclass(frozen=True)
class StoredEntry:
    """One stored version of an entry, with its place in the version history."""

    organisation_id: str
    kind: str
    entry_id: str
    uri: str
    version: int
    recorded_at: datetime
    content_hash: str
    removed: bool
    load_id: int
    entry: Entry

    @classmethod
    def from_row(cls, row: Any) -> StoredEntry:
        return cls(
            organisation_id=row.organisation_id,
            kind=row.kind,
            entry_id=row.entry_id,
            uri=row.uri,
            version=row.version,
            recorded_at=row.recorded_at,
            content_hash=row.content_hash,
            removed=row.removed,
            load_id=row.load_id,
            entry=parse_entry(row.document),
        )


@dataclass
class OrganisationRegister:
    """The current register of one organisation, indexed for reading."""

    organisation: StoredEntry
    by_kind: dict[str, dict[str, StoredEntry]] = field(default_factory=lambda: defaultdict(dict))

    @property
    def org(self) -> Organisation:
        assert isinstance(self.organisation.entry, Organisation)
        return self.organisation.entry

    def entries(self, kind: str) -> list[StoredEntry]:
        return sorted(self.by_kind.get(kind, {}).values(), key=lambda e: e.entry.name.casefold())

    def get(self, kind: str, entry_id: str) -> StoredEntry | None:
        return self.by_kind.get(kind, {}).get(entry_id)

    def activities(self) -> list[ProcessingActivity]:
        return [e.entry for e in self.entries(KIND_ACTIVITY)]  # type: ignore[misc]

    def algorithms(self) -> list[Algorithm]:
        return [e.entry for e in self.entries(KIND_ALGORITHM)]  # type: ignore[misc]

    def sensors(self) -> list[Sensor]:
        return [e.entry for e in self.entries(KIND_SENSOR)]  # type: ignore[misc]

    def datasets(self) -> list[Dataset]:
        return [e.entry for e in self.entries(KIND_DATASET)]  # type: ignore[misc]

    def data_categories(self) -> list[DataCategory]:
        return [e.entry for e in self.entries(KIND_DATA_CATEGORY)]  # type: ignore[misc]

    def data_category(self, entry_id: str) -> DataCategory | None:
        stored = self.get(KIND_DATA_CATEGORY, entry_id)
        return stored.entry if stored else None  # type: ignore[return-value]

    def dataset(self, entry_id: str) -> Dataset | None:
        stored = self.get(KIND_DATASET, entry_id)
        return stored.entry if stored else None  # type: ignore[return-value]

    def activity(self, entry_id: str) -> ProcessingActivity | None:
        stored = self.get(KIND_ACTIVITY, entry_id)
        return stored.entry if stored else None  # type: ignore[return-value]

    def algorithms_for_activity(self, activity_id: str) -> list[Algorithm]:
        return [a for a in self.algorithms() if activity_id in a.activities]

    def sensors_for_activity(self, activity_id: str) -> list[Sensor]:
        return [s for s in self.sensors() if activity_id in s.activities]

    def special_categories(self, activity: ProcessingActivity) -> list[DataCategory]:
        found = (self.data_category(c) for c in activity.data_categories)
        return [c for c in found if c is not None and c.special != "nee"]

    def uses_bsn(self, activity: ProcessingActivity) -> bool:
        found = (self.data_category(c) for c in activity.data_categories)
        return any(c is not None and c.is_bsn for c in found)


@dataclass
class RegisterSnapshot:
    """The current register of every organisation, as of the load approved last."""

    load_id: int | None
    organisations: dict[str, OrganisationRegister]

    def organisation(self, organisation_id: str) -> OrganisationRegister | None:
        return self.organisations.get(organisation_id)

    def ordered(self) -> list[OrganisationRegister]:
        return sorted(self.organisations.values(), key=lambda r: r.org.name.casefold())


def _newest_versions(as_of: datetime | None = None) -> Any:
    v = register_entry_version
    inner = select(
        v.c.organisation_id, v.c.kind, v.c.entry_id, func.max(v.c.version).label("version")
    )
    if as_of is not None:
        inner = inner.where(v.c.recorded_at <= as_of)
    newest = inner.group_by(v.c.organisation_id, v.c.kind, v.c.entry_id).subquery()
    return select(v).join(
        newest,
        and_(
            v.c.organisation_id == newest.c.organisation_id,
            v.c.kind == newest.c.kind,
            v.c.entry_id == newest.c.entry_id,
            v.c.version == newest.c.version,
        ),
    )


class RegisterStore:
    """Read access to the register, with a snapshot cached until the next load."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._snapshot: RegisterSnapshot | None = None

    def latest_load_id(self) -> int | None:
        """The load approved last. Proposed loads are not in force (four-eyes rule), so they
        never count; approvals change this even when an older proposal is approved last."""
        with self.engine.connect() as conn:
            return latest_approved_load_id(conn)

    def snapshot(self) -> RegisterSnapshot:
        """The register in force; rebuilt only when another load was approved."""
        load_id = self.latest_load_id()
        with self._lock:
            if self._snapshot is not None and self._snapshot.load_id == load_id:
                return self._snapshot
            self._snapshot = self._build(load_id)
            return self._snapshot

    def _build(self, load_id: int | None) -> RegisterSnapshot:
        with self.engine.connect() as conn:
            rows = [StoredEntry.from_row(r) for r in conn.execute(_newest_versions())]
        organisations: dict[str, OrganisationRegister] = {}
        for stored in rows:
            if stored.kind == KIND_ORGANISATION and not stored.removed:
                organisations[stored.organisation_id] = OrganisationRegister(stored)
        for stored in rows:
            register = organisations.get(stored.organisation_id)
            if register is None or stored.removed or stored.kind == KIND_ORGANISATION:
                continue
            register.by_kind[stored.kind][stored.entry_id] = stored
        return RegisterSnapshot(load_id, organisations)

    def versions(self, organisation_id: str, kind: str, entry_id: str) -> list[StoredEntry]:
        """Every stored version of one entry, oldest first."""
        v = register_entry_version
        query = (
            select(v)
            .where(
                v.c.organisation_id == organisation_id, v.c.kind == kind, v.c.entry_id == entry_id
            )
            .order_by(v.c.version)
        )
        with self.engine.connect() as conn:
            return [StoredEntry.from_row(r) for r in conn.execute(query)]

    def as_of(
        self, organisation_id: str, kind: str, entry_id: str, moment: datetime
    ) -> StoredEntry | None:
        """The version of an entry in force at `moment` (None before its first version).

        A tombstone is returned as such (`removed=True`): at that moment the entry had been taken
        out of the register, which is an answer in itself.
        """
        v = register_entry_version
        query = (
            select(v)
            .where(
                v.c.organisation_id == organisation_id,
                v.c.kind == kind,
                v.c.entry_id == entry_id,
                v.c.recorded_at <= moment,
            )
            .order_by(v.c.version.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return StoredEntry.from_row(row) if row is not None else None

    def by_uri_as_of(self, uri: str, moment: datetime) -> StoredEntry | None:
        """Resolve an entry URI (as found in log records) at a moment in time."""
        v = register_entry_version
        query = (
            select(v)
            .where(v.c.uri == uri, v.c.recorded_at <= moment)
            .order_by(v.c.recorded_at.desc(), v.c.version.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return StoredEntry.from_row(row) if row is not None else None

    def loads(self, limit: int = 50) -> list[LoadStatus]:
        """The newest loads, proposals and approved ones, each with its status."""
        return load_history(self.engine, limit)


KINDS_PUBLIC = (KIND_ACTIVITY, KIND_ALGORITHM, KIND_SENSOR, KIND_DATA_CATEGORY, KIND_DATASET)
