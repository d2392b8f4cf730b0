"""Writing log records: validate, pseudonymise, resolve the activity, chain, commit in one go.

`LogStore.ingest` takes a batch of records for one organisation and returns only after the
transaction that stores them has committed, so whatever it reports as accepted is durable.
Records are written with one executemany insert (no ORM object per record). Each record joins
the hash chain of (organisation, partition): the writer locks the chain head
(`SELECT … FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite, which has one writer at a
time), so concurrent batches for the same chain queue behind each other instead of forking it.

Re-sending a record with the same (trace_id, span_id) for the same organisation is idempotent:
it is counted as a duplicate and not stored or chained again. A record with the ids of a stored
one but different content is rejected: stored records cannot be changed (the first write wins).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from glazenstad.db.base import utcnow
from glazenstad.logbook.chain import record_hash
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.record import LogRecord, RecordError, Rejected, parse_record
from glazenstad.logbook.tables import (
    DEFAULT_PARTITION,
    GENESIS_HASH,
    log_chain_head,
    log_record,
)
from glazenstad.register.model import KIND_ACTIVITY
from glazenstad.register.store import RegisterStore
from glazenstad.register.tables import register_entry_version

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LOOKUP_CHUNK = 1000

# The fields a re-sent record must repeat unchanged to count as a duplicate (besides its ids and
# the data subject, compared through the pseudonym).
_COMPARED = (
    "parent_span_id",
    "name",
    "start_time_ms",
    "end_time_ms",
    "status",
    "processing_activity_id",
    "data_subject_id_type",
    "processor",
    "resource",
    "attributes",
)
CONFLICT_STORED = (
    "span_id: a record with this trace_id and span_id is already stored with different "
    "content; a log record cannot be changed"
)
CONFLICT_IN_BATCH = (
    "span_id: this trace_id and span_id occur earlier in the batch with different content"
)


def ms_to_datetime(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


@dataclass
class IngestResult:
    """What happened to each record of a batch; `accepted` records are committed."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    unknown_activity: int = 0
    accepted_indexes: list[int] = field(default_factory=list)
    duplicate_indexes: list[int] = field(default_factory=list)
    # Sequence numbers given to the accepted records, in index order (empty when none).
    first_sequence: int | None = None
    last_sequence: int | None = None


@dataclass(frozen=True)
class ResolvedActivity:
    known: bool
    version: int | None


class ActivityResolver:
    """Resolves processing activity URIs at moments in time, one query per batch.

    Same answer as `RegisterStore.by_uri_as_of` (newest version recorded at or before the
    moment), but for a whole batch: all versions of the batch's URIs are read once and each
    record's moment is looked up by bisection.
    """

    def __init__(self, register_store: RegisterStore) -> None:
        self.register_store = register_store

    def resolve(
        self, organisation_id: str, items: Sequence[tuple[str, datetime]]
    ) -> list[ResolvedActivity]:
        uris = sorted({uri for uri, _ in items})
        versions: dict[str, list[Any]] = defaultdict(list)
        v = register_entry_version
        with self.register_store.engine.connect() as conn:
            for start in range(0, len(uris), _LOOKUP_CHUNK):
                chunk = uris[start : start + _LOOKUP_CHUNK]
                query = (
                    select(
                        v.c.uri,
                        v.c.recorded_at,
                        v.c.version,
                        v.c.removed,
                        v.c.kind,
                        v.c.organisation_id,
                    )
                    .where(v.c.uri.in_(chunk))
                    .order_by(v.c.uri, v.c.recorded_at, v.c.version)
                )
                for row in conn.execute(query):
                    versions[row.uri].append(row)
        times = {uri: [r.recorded_at for r in rows] for uri, rows in versions.items()}
        result: list[ResolvedActivity] = []
        for uri, moment in items:
            rows = versions.get(uri)
            if not rows:
                result.append(ResolvedActivity(False, None))
                continue
            position = bisect.bisect_right(times[uri], moment)
            if position == 0:
                result.append(ResolvedActivity(False, None))
                continue
            row = rows[position - 1]
            known = (
                row.kind == KIND_ACTIVITY
                and not row.removed
                and row.organisation_id == organisation_id
            )
            result.append(ResolvedActivity(known, row.version if known else None))
        return result


class LogStore:
    def __init__(
        self,
        engine: Engine,
        register_store: RegisterStore,
        pseudonymizer: Pseudonymizer,
        *,
        partition: str = DEFAULT_PARTITION,
    ) -> None:
        self.engine = engine
        self.register_store = register_store
        self.pseudonymizer = pseudonymizer
        self.partition = partition
        self.resolver = ActivityResolver(register_store)

    def ingest(
        self, organisation_id: str, records: Iterable[Any], *, received_at: datetime | None = None
    ) -> IngestResult:
        """Validate and store a batch; returns after commit. Raw dicts or parsed LogRecords."""
        result = IngestResult()
        candidates: list[tuple[int, LogRecord]] = []
        seen: dict[tuple[str, str], LogRecord] = {}
        for index, raw in enumerate(records):
            try:
                record = raw if isinstance(raw, LogRecord) else parse_record(raw)
            except RecordError as exc:
                result.rejected.append(Rejected(index, str(exc)))
                continue
            first = seen.get(record.key)
            if first is not None:  # the same span twice in one batch
                if first == record:
                    result.duplicate_indexes.append(index)
                else:
                    result.rejected.append(Rejected(index, CONFLICT_IN_BATCH))
                continue
            seen[record.key] = record
            candidates.append((index, record))
        if not candidates:
            result.duplicates = len(result.duplicate_indexes)
            return result

        received = received_at or utcnow()
        resolved = self.resolver.resolve(
            organisation_id,
            [(r.processing_activity_id, ms_to_datetime(r.start_time)) for _, r in candidates],
        )
        rows = [
            self._row(organisation_id, record, activity, received)
            for (_, record), activity in zip(candidates, resolved, strict=True)
        ]
        with self.engine.connect() as conn:
            self._begin_write(conn)
            last_sequence, last_hash = self._lock_head(conn, organisation_id)
            existing = self._existing(conn, organisation_id, [r.key for _, r in candidates])
            to_insert: list[dict[str, Any]] = []
            sequence, prev_hash = last_sequence, last_hash
            for (index, record), row in zip(candidates, rows, strict=True):
                stored = existing.get(record.key)
                if stored is not None:
                    if self._same(organisation_id, record, row, stored):
                        result.duplicate_indexes.append(index)
                    else:
                        result.rejected.append(Rejected(index, CONFLICT_STORED))
                    continue
                sequence += 1
                row["sequence"] = sequence
                row["prev_hash"] = prev_hash
                row["record_hash"] = prev_hash = record_hash(row)
                to_insert.append(row)
                result.accepted_indexes.append(index)
                if not row["activity_known"]:
                    result.unknown_activity += 1
            if to_insert:
                conn.execute(log_record.insert(), to_insert)
                conn.execute(
                    update(log_chain_head)
                    .where(
                        log_chain_head.c.organisation_id == organisation_id,
                        log_chain_head.c.chain_partition == self.partition,
                    )
                    .values(last_sequence=sequence, last_hash=prev_hash, updated_at=received)
                )
                result.first_sequence = last_sequence + 1
                result.last_sequence = sequence
            conn.commit()
        result.accepted = len(result.accepted_indexes)
        result.rejected.sort(key=lambda r: r.index)
        result.duplicate_indexes.sort()
        result.duplicates = len(result.duplicate_indexes)
        return result

    def _row(
        self,
        organisation_id: str,
        record: LogRecord,
        activity: ResolvedActivity,
        received: datetime,
    ) -> dict[str, Any]:
        pseudonym = None
        if record.data_subject_id is not None and record.data_subject_id_type is not None:
            pseudonym = self.pseudonymizer.pseudonym(
                organisation_id, record.data_subject_id_type, record.data_subject_id
            )
        return {
            "organisation_id": organisation_id,
            "chain_partition": self.partition,
            "trace_id": record.trace_id,
            "span_id": record.span_id,
            "parent_span_id": record.parent_span_id,
            "name": record.name,
            "start_time_ms": record.start_time,
            "end_time_ms": record.end_time,
            "status": record.status,
            "processing_activity_id": record.processing_activity_id,
            "activity_known": activity.known,
            "activity_version": activity.version,
            "data_subject_pseudonym": pseudonym,
            "data_subject_id_type": record.data_subject_id_type,
            "processor": record.processor,
            "resource": record.resource,
            "attributes": record.attributes,
            "received_at": received,
        }

    def _begin_write(self, conn: Connection) -> None:
        """On SQLite take the write lock now, before reading the chain head."""
        if conn.dialect.name == "sqlite":
            # pysqlite would only BEGIN (deferred) at the first write; a deferred transaction
            # that read the head could then fail to upgrade, or two could read the same head.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def _lock_head(self, conn: Connection, organisation_id: str) -> tuple[int, str]:
        """Create the chain head when new, lock it, and return (last sequence, last hash)."""
        values = {
            "organisation_id": organisation_id,
            "chain_partition": self.partition,
            "last_sequence": 0,
            "last_hash": GENESIS_HASH,
            "updated_at": utcnow(),
        }
        if conn.dialect.name == "postgresql":
            conn.execute(
                postgresql.insert(log_chain_head).values(**values).on_conflict_do_nothing()
            )
        else:
            conn.execute(sqlite.insert(log_chain_head).values(**values).on_conflict_do_nothing())
        query = select(log_chain_head.c.last_sequence, log_chain_head.c.last_hash).where(
            log_chain_head.c.organisation_id == organisation_id,
            log_chain_head.c.chain_partition == self.partition,
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).one()
        return int(row.last_sequence), str(row.last_hash)

    def _existing(
        self, conn: Connection, organisation_id: str, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """The stored content of those `keys` that are already in the logbook."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        t = log_record
        columns = [t.c.trace_id, t.c.span_id, t.c.data_subject_pseudonym]
        columns += [t.c[name] for name in _COMPARED]
        wanted = set(keys)
        spans = sorted({span for _, span in keys})
        for start in range(0, len(spans), _LOOKUP_CHUNK):
            query = select(*columns).where(
                t.c.organisation_id == organisation_id,
                t.c.span_id.in_(spans[start : start + _LOOKUP_CHUNK]),
            )
            for r in conn.execute(query):
                if (r.trace_id, r.span_id) in wanted:
                    found[(r.trace_id, r.span_id)] = dict(r._mapping)
        return found

    def _same(
        self,
        organisation_id: str,
        record: LogRecord,
        row: dict[str, Any],
        stored: dict[str, Any],
    ) -> bool:
        """Is a re-sent record the one already stored? (Its pseudonym may be under an old key.)"""
        if any(row[name] != stored[name] for name in _COMPARED):
            return False
        if row["data_subject_pseudonym"] == stored["data_subject_pseudonym"]:
            return True
        if record.data_subject_id is None or record.data_subject_id_type is None:
            return False
        return stored["data_subject_pseudonym"] in self.pseudonymizer.all_pseudonyms(
            organisation_id, record.data_subject_id_type, record.data_subject_id
        )

    def records_for_subject(
        self, organisation_id: str, id_type: str, subject_id: str
    ) -> list[dict[str, Any]]:
        """Every stored record of one data subject under any known key, oldest first."""
        pseudonyms = self.pseudonymizer.all_pseudonyms(organisation_id, id_type, subject_id)
        t = log_record
        query = (
            select(t)
            .where(
                t.c.data_subject_pseudonym.in_(pseudonyms),
                t.c.organisation_id == organisation_id,
            )
            .order_by(t.c.start_time_ms, t.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
