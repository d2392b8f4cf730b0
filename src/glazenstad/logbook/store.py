"""Writing log records: validate, pseudonymise, resolve the activity, chain, commit in one go.

`LogStore.ingest` takes a batch of records for one organisation and returns only after the
transaction that stores them has committed, so whatever it reports as accepted is durable.
Records are written in bulk, `COPY` on PostgreSQL and one executemany on SQLite (no ORM object
per record). Each batch joins one hash chain of the organisation: the writer locks that chain's
head (on PostgreSQL the first of the organisation's chains no one else holds, `FOR UPDATE SKIP
LOCKED`; on SQLite, which has one writer at a time and one chain, `BEGIN IMMEDIATE`), so
concurrent batches never fork a chain. Everything that does not depend on the chain
(validation, pseudonyms, register lookups, serialization, content digests, COPY text) is done
before the lock is taken; under it each record costs one small hash and a string format, then
come the bulk write and the commit. See ADR 7.

Re-sending a record with the same (trace_id, span_id) for the same organisation is idempotent:
it is counted as a duplicate and not stored or chained again. A record with the ids of a stored
one but different content is rejected: stored records cannot be changed (the first write wins).
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from glazenstad.db.base import utcnow
from glazenstad.db.copy import copy_lines, copy_text
from glazenstad.db.dialect import dialect_insert
from glazenstad.logbook.chain import content_digest, json_text, link, timestamp_text
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.record import EPOCH, LogRecord, RecordError, Rejected, parse_record
from glazenstad.logbook.tables import (
    DEFAULT_PARTITION,
    GENESIS_HASH,
    log_chain_head,
    log_record,
)
from glazenstad.register.model import KIND_ACTIVITY
from glazenstad.register.store import RegisterStore
from glazenstad.register.tables import register_entry_version

DEFAULT_CHAINS = 4
_ATTEMPTS = 3
_LOOKUP_CHUNK = 1000

# The columns the writer fills, in the order of its rows.
COLUMNS = (
    "organisation_id",
    "chain_partition",
    "sequence",
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "start_time_ms",
    "end_time_ms",
    "status",
    "processing_activity_id",
    "activity_known",
    "activity_version",
    "data_subject_pseudonym",
    "data_subject_id_type",
    "processor",
    "resource",
    "attributes",
    "received_at",
    "prev_hash",
    "record_hash",
)
COPY_SQL = f"COPY log_record ({', '.join(COLUMNS)}) FROM STDIN"
INSERT_SQL = (
    f"INSERT INTO log_record ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
)

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


def sqlite_timestamp(moment: datetime) -> str:
    """The text SQLAlchemy's UTCDateTime stores on SQLite, for rows written past SQLAlchemy."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _attributes_json(attributes: dict[str, Any], seen: dict[Any, str]) -> str:
    """Canonical JSON of an attribute map, once per distinct map in a batch.

    The records of a batch nearly always come from one or a few services (the same resource)
    and carry few distinct other attributes (a zone, an outcome); a tuple of the items is a
    cheaper key than serializing. The key holds the values' types too, because `1` and `True`
    are equal as keys but not as JSON; maps with a float (0.0 and -0.0 are equal keys) or a list
    (not hashable) are serialized on their own.
    """
    if not attributes:
        return "{}"
    types = tuple(map(type, attributes.values()))
    if float in types:  # 0.0 and -0.0 are equal keys too
        return json_text(attributes)
    key = (tuple(attributes.items()), types)
    try:
        text = seen.get(key)
    except TypeError:  # a list value
        return json_text(attributes)
    if text is None:
        text = seen[key] = json_text(attributes)
    return text


@dataclass
class IngestResult:
    """What happened to each record of a batch; `accepted` records are committed."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    unknown_activity: int = 0
    accepted_indexes: list[int] = field(default_factory=list)
    duplicate_indexes: list[int] = field(default_factory=list)
    # The chain the accepted records joined, and their sequence numbers in it (None when none).
    chain_partition: str | None = None
    first_sequence: int | None = None
    last_sequence: int | None = None


@dataclass(frozen=True)
class ResolvedActivity:
    known: bool
    version: int | None


UNRESOLVED = ResolvedActivity(False, None)


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (a float timestamp would round)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


class ActivityResolver:
    """Resolves processing activity URIs at moments in time, one query per batch.

    Same answer as `RegisterStore.by_uri_as_of` (newest version recorded at or before the
    moment), but for a whole batch: all versions of the batch's URIs are read once and each
    record's moment (milliseconds since the epoch, as records carry it) is looked up by
    bisection over the versions' times in microseconds.
    """

    def __init__(self, register_store: RegisterStore) -> None:
        self.register_store = register_store

    def resolve(
        self,
        organisation_id: str,
        items: Sequence[tuple[str, int]],
        conn: Connection | None = None,
    ) -> list[ResolvedActivity]:
        """One version per item; on `conn` if given (a writer's, saving a connection checkout
        and its liveness ping per batch), else on a connection of its own."""
        if conn is None:
            with self.register_store.engine.connect() as own:
                return self.resolve(organisation_id, items, own)
        uris = sorted({uri for uri, _ in items})
        versions: dict[str, list[ResolvedActivity]] = defaultdict(list)
        times: dict[str, list[int]] = defaultdict(list)
        v = register_entry_version
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
                known = (
                    row.kind == KIND_ACTIVITY
                    and not row.removed
                    and row.organisation_id == organisation_id
                )
                versions[row.uri].append(
                    ResolvedActivity(True, row.version) if known else UNRESOLVED
                )
                times[row.uri].append(_micros(row.recorded_at))
        result: list[ResolvedActivity] = []
        for uri, moment_ms in items:
            position = bisect.bisect_right(times[uri], moment_ms * 1000) if uri in times else 0
            result.append(versions[uri][position - 1] if position else UNRESOLVED)
        return result


@dataclass(slots=True)
class _Batch:
    """A batch's new records, with everything computed that does not need the chain's lock.

    Per record: its content digest, and its row without the four chain columns (partition,
    sequence, prev_hash, record_hash), which are filled in under the lock. On PostgreSQL the
    row is `COPY` text already (`texts`: the columns from trace_id to received_at, escaped and
    tab-separated), so that under the lock a line is one small string format; on SQLite it is a
    list for executemany (`rows`).
    """

    indexes: list[int] = field(default_factory=list)
    records: list[LogRecord] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)
    pseudonyms: list[str | None] = field(default_factory=list)
    known: list[bool] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)


_PARTITION = COLUMNS.index("chain_partition")
_SEQUENCE = COLUMNS.index("sequence")
_PREV_HASH = COLUMNS.index("prev_hash")
_RECORD_HASH = COLUMNS.index("record_hash")


def screen(records: Iterable[Any]) -> tuple[list[tuple[int, LogRecord]], IngestResult]:
    """Validate a batch without writing: the records to store, and a result with the rest.

    The result holds every rejection (index and reason) and the repeats within the batch; the
    candidates are the first occurrence of each (trace_id, span_id). Records are raw dicts,
    LogRecords, or the RecordError a decoder gave for a record. A front node behind a queue
    answers rejections with this before publishing, exactly as `LogStore.ingest` would.
    """
    result = IngestResult()
    candidates: list[tuple[int, LogRecord]] = []
    seen: dict[tuple[str, str], LogRecord] = {}
    for index, raw in enumerate(records):
        try:
            if isinstance(raw, RecordError):  # refused while decoding the batch
                raise raw
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
    return candidates, result


class LogStore:
    def __init__(
        self,
        engine: Engine,
        register_store: RegisterStore,
        pseudonymizer: Pseudonymizer,
        *,
        partition: str = DEFAULT_PARTITION,
        chains: int | None = None,
    ) -> None:
        self.engine = engine
        self.register_store = register_store
        self.pseudonymizer = pseudonymizer
        self.partition = partition
        self.resolver = ActivityResolver(register_store)
        # On PostgreSQL every organisation writes `chains` chains side by side: a writer takes
        # the first chain no other writer holds (`FOR UPDATE SKIP LOCKED`), so concurrent
        # batches are written in parallel instead of queueing for one lock. SQLite has one
        # writer at a time anyway.
        postgres = engine.dialect.name == "postgresql"
        count = chains or (DEFAULT_CHAINS if postgres else 1)
        self.chains = [partition] + [f"{partition}-{n}" for n in range(2, count + 1)]
        self._heads_ready: set[str] = set()

    def ingest(
        self,
        organisation_id: str,
        records: Iterable[Any],
        *,
        received_at: datetime | None = None,
        also: Callable[[Connection], None] | None = None,
        pseudonymised: bool = False,
    ) -> IngestResult:
        """Validate and store a batch; returns after commit.

        Records are raw dicts, LogRecords, or the RecordError a decoder gave for a record.
        `also` writes rows that must commit in the same transaction as the records (the
        gateway's decisions: one commit, not two, before an answer may leave); it runs only
        when at least one record is valid, and again if the transaction is retried.
        `pseudonymised` says the LogRecords' data_subject_id already holds the pseudonym
        (`pseudonymise` ran where the batch was received: a logbook writer behind a queue never
        sees a plain identifier).
        """
        candidates, result = screen(records)
        if candidates:
            received = received_at or utcnow()
            with self.engine.connect() as conn:
                batch = self._prepare(organisation_id, candidates, received, pseudonymised, conn)
                # On PostgreSQL the batch is written without looking for stored duplicates
                # first: they are rare (a client re-sending after a lost answer), and the
                # unique index refuses them anyway. When it does, the batch is written again,
                # looking first; once more if a writer on another chain committed one of the
                # same records in between. SQLite's lookup is cheap enough to always do.
                careful = conn.dialect.name != "postgresql"
                for attempt in range(_ATTEMPTS):
                    try:
                        self._store(
                            conn,
                            organisation_id,
                            batch,
                            received,
                            careful,
                            result,
                            also,
                            pseudonymised,
                        )
                        break
                    except IntegrityError:
                        conn.rollback()
                        if attempt == _ATTEMPTS - 1:
                            raise
                        careful = True
        result.accepted = len(result.accepted_indexes)
        result.rejected.sort(key=lambda r: r.index)
        result.duplicate_indexes.sort()
        result.duplicates = len(result.duplicate_indexes)
        return result

    def _store(
        self,
        conn: Connection,
        organisation_id: str,
        batch: _Batch,
        received: datetime,
        careful: bool,
        result: IngestResult,
        also: Callable[[Connection], None] | None = None,
        pseudonymised: bool = False,
    ) -> None:
        """Chain and write the batch in one transaction; fills `result` only once committed."""
        self._begin_write(conn)
        if also is not None:  # before the chain lock: other writers wait less
            also(conn)
        partition, last_sequence, last_hash = self._lock_head(conn, organisation_id)
        existing = self._existing(conn, organisation_id, batch.records) if careful else {}
        accepted: list[int] = []
        duplicates: list[int] = []
        rejected: list[Rejected] = []
        lines: list[str] = []
        rows: list[list[Any]] = []
        head = f"{copy_text(organisation_id)}\t{copy_text(partition)}\t"
        unknown = 0
        sequence, prev_hash = last_sequence, last_hash
        for i, (index, record, digest) in enumerate(
            zip(batch.indexes, batch.records, batch.digests, strict=True)
        ):
            if existing and record.key in existing:
                if self._same(
                    organisation_id,
                    record,
                    batch.pseudonyms[i],
                    existing[record.key],
                    pseudonymised,
                ):
                    duplicates.append(index)
                else:
                    rejected.append(Rejected(index, CONFLICT_STORED))
                continue
            sequence += 1
            record_hash = link(digest, partition, sequence, prev_hash)
            if batch.texts:
                lines.append(f"{head}{sequence}\t{batch.texts[i]}\t{prev_hash}\t{record_hash}\n")
            else:
                row = batch.rows[i]
                row[_PARTITION] = partition
                row[_SEQUENCE] = sequence
                row[_PREV_HASH] = prev_hash
                row[_RECORD_HASH] = record_hash
                rows.append(row)
            prev_hash = record_hash
            accepted.append(index)
            if not batch.known[i]:
                unknown += 1
        if accepted:
            self._write(conn, lines, rows)
            conn.execute(
                update(log_chain_head)
                .where(
                    log_chain_head.c.organisation_id == organisation_id,
                    log_chain_head.c.chain_partition == partition,
                )
                .values(last_sequence=sequence, last_hash=prev_hash, updated_at=received)
            )
        conn.commit()
        self._heads_ready.add(organisation_id)
        if accepted:
            result.chain_partition = partition
            result.first_sequence = last_sequence + 1
            result.last_sequence = sequence
        result.accepted_indexes.extend(accepted)
        result.duplicate_indexes.extend(duplicates)
        result.rejected.extend(rejected)
        result.unknown_activity += unknown

    def _prepare(
        self,
        organisation_id: str,
        candidates: list[tuple[int, LogRecord]],
        received: datetime,
        pseudonymised: bool,
        conn: Connection,
    ) -> _Batch:
        """Pseudonyms, register lookups, serialization and content digests: all before locking.

        The register is read on the writer's connection, before its transaction writes.
        """
        resolved = self.resolver.resolve(
            organisation_id,
            [(r.processing_activity_id, r.start_time) for _, r in candidates],
            conn,
        )
        received_text = timestamp_text(received)
        copy = self.engine.dialect.name == "postgresql"
        stamp = received_text if copy else sqlite_timestamp(received)
        pseudonyms: dict[tuple[str, str], str] = {}
        seen: dict[Any, str] = {}
        batch = _Batch()
        for (index, record), activity in zip(candidates, resolved, strict=True):
            pseudonym = None
            if pseudonymised:
                pseudonym = record.data_subject_id
            elif record.data_subject_id is not None and record.data_subject_id_type is not None:
                subject = (record.data_subject_id_type, record.data_subject_id)
                pseudonym = pseudonyms.get(subject)
                if pseudonym is None:
                    pseudonym = pseudonyms[subject] = self.pseudonymizer.pseudonym(
                        organisation_id, *subject
                    )
            resource_json = (
                "null"
                if record.resource is None
                else f'{{"attributes":{_attributes_json(record.resource["attributes"], seen)}}}'
            )
            attributes_json = _attributes_json(record.attributes, seen)
            batch.indexes.append(index)
            batch.records.append(record)
            batch.digests.append(
                content_digest(
                    activity.known,
                    activity.version,
                    attributes_json,
                    record.data_subject_id_type,
                    pseudonym,
                    record.end_time,
                    record.name,
                    organisation_id,
                    record.parent_span_id,
                    record.processing_activity_id,
                    record.processor,
                    received_text,
                    resource_json,
                    record.span_id,
                    record.start_time,
                    record.status,
                    record.trace_id,
                )
            )
            batch.pseudonyms.append(pseudonym)
            batch.known.append(activity.known)
            if copy:
                batch.texts.append(
                    "\t".join(
                        (
                            record.trace_id,
                            record.span_id,
                            record.parent_span_id or "\\N",
                            copy_text(record.name),
                            str(record.start_time),
                            str(record.end_time),
                            record.status,
                            copy_text(record.processing_activity_id),
                            "t" if activity.known else "f",
                            "\\N" if activity.version is None else str(activity.version),
                            copy_text(pseudonym),
                            copy_text(record.data_subject_id_type),
                            copy_text(record.processor),
                            copy_text(resource_json),
                            copy_text(attributes_json),
                            stamp,
                        )
                    )
                )
            else:
                batch.rows.append(
                    [
                        organisation_id,
                        None,  # chain_partition, under the lock
                        None,  # sequence, under the lock
                        record.trace_id,
                        record.span_id,
                        record.parent_span_id,
                        record.name,
                        record.start_time,
                        record.end_time,
                        record.status,
                        record.processing_activity_id,
                        int(activity.known),
                        activity.version,
                        pseudonym,
                        record.data_subject_id_type,
                        record.processor,
                        resource_json,
                        attributes_json,
                        stamp,
                        None,  # prev_hash, under the lock
                        None,  # record_hash, under the lock
                    ]
                )
        return batch

    def _write(self, conn: Connection, lines: list[str], rows: list[list[Any]]) -> None:
        """Bulk-insert in the transaction of `conn`: COPY text lines, or rows for executemany."""
        if lines:
            copy_lines(conn, COPY_SQL, lines)
        else:
            cursor = conn.connection.cursor()
            try:
                cursor.executemany(INSERT_SQL, rows)
            finally:
                cursor.close()

    def _begin_write(self, conn: Connection) -> None:
        """On SQLite take the write lock now, before reading the chain head."""
        if conn.dialect.name == "sqlite":
            # pysqlite would only BEGIN (deferred) at the first write; a deferred transaction
            # that read the head could then fail to upgrade, or two could read the same head.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def _lock_head(self, conn: Connection, organisation_id: str) -> tuple[str, int, str]:
        """Lock a chain of the organisation; (partition, last sequence, last hash).

        The heads are created on the organisation's first write. On PostgreSQL the first head
        no other transaction holds is taken, or, when all are held, the first one is waited for.
        """
        head = log_chain_head.c
        if organisation_id not in self._heads_ready:
            conn.execute(
                dialect_insert(conn, log_chain_head)
                .values(
                    [
                        {
                            "organisation_id": organisation_id,
                            "chain_partition": chain,
                            "last_sequence": 0,
                            "last_hash": GENESIS_HASH,
                            "updated_at": utcnow(),
                        }
                        for chain in self.chains
                    ]
                )
                .on_conflict_do_nothing()
            )
        query = select(head.chain_partition, head.last_sequence, head.last_hash).where(
            head.organisation_id == organisation_id
        )
        row = None
        if conn.dialect.name == "postgresql":
            free = (
                query.where(head.chain_partition.in_(self.chains))
                .order_by(head.chain_partition)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            row = conn.execute(free).first()
            query = query.with_for_update()
        if row is None:
            row = conn.execute(query.where(head.chain_partition == self.chains[0])).one()
        return str(row.chain_partition), int(row.last_sequence), str(row.last_hash)

    def _existing(
        self, conn: Connection, organisation_id: str, records: list[LogRecord]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """The stored content of those records that are already in the logbook.

        Indexed probes passed as one array parameter (PostgreSQL `= ANY`, SQLite `json_each`)
        on the idempotency index of each database (see migration 0006). The full rows are read
        only for the keys found.
        """
        if conn.dialect.name == "postgresql":  # on uq_log_record_trace
            probe = conn.exec_driver_sql(
                "SELECT trace_id, span_id FROM log_record "
                "WHERE organisation_id = %(org)s AND trace_id = ANY(%(traces)s)",
                {"org": organisation_id, "traces": sorted({r.trace_id for r in records})},
            )
        else:
            probe = conn.exec_driver_sql(  # on uq_log_record_span
                "SELECT trace_id, span_id FROM log_record WHERE organisation_id = ? "
                "AND span_id IN (SELECT value FROM json_each(?))",
                (organisation_id, json.dumps(sorted({r.span_id for r in records}))),
            )
        wanted = {r.key for r in records}
        found_keys = [key for key in ((str(a), str(b)) for a, b in probe) if key in wanted]
        found: dict[tuple[str, str], dict[str, Any]] = {}
        if not found_keys:
            return found
        t = log_record
        columns = [t.c.trace_id, t.c.span_id, t.c.data_subject_pseudonym]
        columns += [t.c[name] for name in _COMPARED]
        for start in range(0, len(found_keys), _LOOKUP_CHUNK):
            chunk = found_keys[start : start + _LOOKUP_CHUNK]
            query = select(*columns).where(
                t.c.organisation_id == organisation_id,
                t.c.trace_id.in_(sorted({trace for trace, _ in chunk})),
                t.c.span_id.in_(sorted({span for _, span in chunk})),
            )
            for r in conn.execute(query):
                if (r.trace_id, r.span_id) in wanted:
                    found[(r.trace_id, r.span_id)] = dict(r._mapping)
        return found

    def _same(
        self,
        organisation_id: str,
        record: LogRecord,
        pseudonym: str | None,
        stored: dict[str, Any],
        pseudonymised: bool = False,
    ) -> bool:
        """Is a re-sent record the one already stored? (Its pseudonym may be under an old key.)

        A pseudonymised record carries only the current key's pseudonym, so one stored under an
        older key cannot be recognised: it counts as different.
        """
        sent = {
            "parent_span_id": record.parent_span_id,
            "name": record.name,
            "start_time_ms": record.start_time,
            "end_time_ms": record.end_time,
            "status": record.status,
            "processing_activity_id": record.processing_activity_id,
            "data_subject_id_type": record.data_subject_id_type,
            "processor": record.processor,
            "resource": record.resource,
            "attributes": record.attributes,
        }
        if any(sent[name] != stored[name] for name in _COMPARED):
            return False
        if pseudonym == stored["data_subject_pseudonym"]:
            return True
        if pseudonymised or record.data_subject_id is None or record.data_subject_id_type is None:
            return False
        return stored["data_subject_pseudonym"] in self.pseudonymizer.all_pseudonyms(
            organisation_id, record.data_subject_id_type, record.data_subject_id
        )

    def pseudonymise(self, organisation_id: str, records: Iterable[LogRecord]) -> list[LogRecord]:
        """Copies of validated records whose data_subject_id is the current key's pseudonym.

        For a batch that leaves this process before it is written (a queue): the plain
        identifier never does. Store the copies with `ingest(..., pseudonymised=True)`.
        """
        result: list[LogRecord] = []
        pseudonyms: dict[tuple[str, str], str] = {}
        for record in records:
            if record.data_subject_id is not None and record.data_subject_id_type is not None:
                subject = (record.data_subject_id_type, record.data_subject_id)
                pseudonym = pseudonyms.get(subject)
                if pseudonym is None:
                    pseudonym = pseudonyms[subject] = self.pseudonymizer.pseudonym(
                        organisation_id, *subject
                    )
                record = replace(record, data_subject_id=pseudonym)
            elif record.data_subject_id is not None:  # never without its type; never plain
                record = replace(record, data_subject_id=None)
            result.append(record)
        return result

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
