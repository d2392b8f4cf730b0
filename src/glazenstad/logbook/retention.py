"""Retention of the logbook: delete records whose retention has passed, with a deletion receipt.

Which retention applies to a record is decided by the register version of its processing
activity at the record's start time (`activity_version`, resolved at ingest), never by today's
register: a period shortened later must not remove evidence that was promised a longer life,
and a period lengthened later does not keep records the register of their time let go.

Choosing the rule of a record:
- When its attributes carry `glazenstad.retention_outcome` (`OUTCOME_ATTRIBUTE`) naming an outcome
  of the activity's retention rules (e.g. "betaald"), that rule applies. The outcome is known to
  the system that did the processing, not to the logbook, so the record has to say it.
- Otherwise, or when the named outcome is not one of the activity's, the rule that keeps the
  record longest applies (the latest expiry; calendar periods such as P6M are added with calendar
  arithmetic, so "longest" is decided per record): deleting evidence early cannot be undone,
  keeping it a little longer can.
- A rule with a trigger ("einde bezwaar- en beroepstermijn") counts from an event the logbook is
  never told about, so such a record is kept and reported as waiting for its trigger. When the
  default applies and any rule has a trigger, the record waits too (the triggered rule might be
  the longest).
- Records whose activity was not in the register at their start time (`activity_known` false)
  and activities without retention rules are kept and reported: nobody decided how long they may
  be kept, and they are the evidence of exactly that.
A record expires at its end time plus the period.

Deleting: each chain (organisation, partition) is read in sequence order in pages, and expired
records are deleted in batches (`batch_size`, default 10,000) of one transaction each, so a large
backlog never holds locks for long and a killed job loses at most the batch in progress. In the
same transaction, before the DELETE, the batch's deletion receipt and its ranges (one per
contiguous run of deleted sequence numbers, with the chain anchors around it; see
`glazenstad.logbook.receipts`) are inserted: nothing is ever deleted without its receipt. The
database lets the DELETE through only for this: on PostgreSQL `SET LOCAL glazenstad.retention`
(migration 0004), on SQLite a receipt range covering the record (migration 0005). Receipts of a
chain are numbered and chained, so batches of one chain are serialised: `BEGIN IMMEDIATE` on
SQLite (one writer anyway), a transaction-scoped advisory lock per chain on PostgreSQL (which
does not block ingest into the chain, unlike locking its head row would).

Dropping partitions (PostgreSQL, where log_record is partitioned by month of start time; see
`glazenstad.logbook.partitions` and ADR 14): before the chains are walked, every monthly
partition whose month has passed is read, and when every record in it is due under the rules
above (and, in a run for one organisation, belongs to that organisation), its receipts are
written exactly as the batch path would write them (per chain, in sequence order, `batch_size`
records a receipt, the same ranges and anchors) and the partition is detached and dropped in the
same transaction. Dropping leaves no dead rows and no index entries to clean up, where deleting
a month row by row leaves millions. A partition with any record not due (kept, waiting for a
trigger, not yet expired) is left alone and its expired records go the batch way. The run's
`dropped` says how many of its deleted records went with dropped partitions. Dry runs never
drop: they report the same records as due. The DEFAULT partition is never dropped.

Lateness: retention is due at a record's expiry; the job deletes it later, when it runs. For every
deleted record the lateness is the deletion time ("now" of the run) minus its expiry. Each receipt
stores the maximum, median and 95th percentile (nearest rank) of its batch, and each run stores
the same over the whole run in `log_retention_run`, with what it kept and why. `retention_status`
gives other code the current picture: records overdue now but not yet deleted, how long the
oldest of them has been overdue, and the last run.
"""

from __future__ import annotations

import logging
import math
import uuid
from array import array
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final

import isodate
import psycopg
from sqlalchemy import Connection, Engine, delete, insert, or_, select, text
from sqlalchemy.exc import OperationalError

from glazenstad.db.base import utcnow
from glazenstad.logbook import partitions
from glazenstad.logbook.receipts import receipt_hash
from glazenstad.logbook.record import ms_to_datetime
from glazenstad.logbook.tables import (
    GENESIS_HASH,
    log_chain_head,
    log_deletion_range,
    log_deletion_receipt,
    log_record,
    log_retention_run,
)
from glazenstad.register.model import KIND_ACTIVITY, ProcessingActivity, RetentionRule, parse_entry
from glazenstad.register.tables import register_entry_version

_log = logging.getLogger(__name__)

OUTCOME_ATTRIBUTE: Final = "glazenstad.retention_outcome"
DEFAULT_BATCH_SIZE: Final = 10_000
_PAGE: Final = 5_000
_DELETE_CHUNK: Final = 5_000

DELETED: Final = "deleted"
DUE: Final = "due"
NOT_DUE: Final = "not-due"
WAITING_FOR_TRIGGER: Final = "waiting-for-trigger"
NO_RETENTION_RULE: Final = "no-retention-rule"
UNKNOWN_ACTIVITY: Final = "unknown-activity"
KEPT_REASONS: Final = (NOT_DUE, WAITING_FOR_TRIGGER, NO_RETENTION_RULE, UNKNOWN_ACTIVITY)


class RetentionError(RuntimeError):
    """A batch could not be deleted as planned; its transaction was rolled back."""


def _ms(delta: timedelta) -> int:
    return delta // timedelta(milliseconds=1)


@lru_cache(maxsize=256)
def _duration(period: str) -> Any:
    return isodate.parse_duration(period)


def expiry(rule: RetentionRule, end: datetime) -> datetime | None:
    """When a record that ended at `end` expires under `rule` (None: it waits for a trigger)."""
    if rule.trigger is not None or rule.period is None:
        return None
    moment: datetime = end + _duration(rule.period)
    return moment


@dataclass(frozen=True)
class Decision:
    """What retention makes of one record: DUE or a kept reason, and its expiry when known."""

    reason: str
    expiry: datetime | None = None
    # The record named an outcome that its activity's retention rules do not have.
    unknown_outcome: bool = False


def decide(
    rules: Sequence[RetentionRule] | None,
    attributes: Any,
    end: datetime,
    now: datetime,
) -> Decision:
    """Apply the rule choice of this module to one record (`rules` None: activity unknown)."""
    if rules is None:
        return Decision(UNKNOWN_ACTIVITY)
    if not rules:
        return Decision(NO_RETENTION_RULE)
    outcome = attributes.get(OUTCOME_ATTRIBUTE) if isinstance(attributes, dict) else None
    chosen = [r for r in rules if outcome is not None and r.outcome == outcome]
    unknown_outcome = outcome is not None and not chosen
    if not chosen:
        chosen = list(rules)
    expiries = [expiry(rule, end) for rule in chosen]
    if any(moment is None for moment in expiries):
        return Decision(WAITING_FOR_TRIGGER, None, unknown_outcome)
    latest = max(moment for moment in expiries if moment is not None)
    return Decision(DUE if latest <= now else NOT_DUE, latest, unknown_outcome)


class RetentionRules:
    """The retention rules of activity versions, read from the register once per version."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: dict[tuple[str, str, int], list[RetentionRule] | None] = {}

    def rules(
        self, organisation_id: str, uri: str, known: bool, version: int | None
    ) -> list[RetentionRule] | None:
        """The rules of the activity version a record was logged under; None when unknown."""
        if not known or version is None:
            return None
        key = (organisation_id, uri, version)
        if key not in self._cache:
            v = register_entry_version
            query = select(v.c.document).where(
                v.c.uri == uri,
                v.c.version == version,
                v.c.organisation_id == organisation_id,
                v.c.kind == KIND_ACTIVITY,
                v.c.removed.is_(False),
            )
            with self.engine.connect() as conn:
                document = conn.execute(query).scalar()
            entry = parse_entry(document) if document is not None else None
            self._cache[key] = (
                list(entry.retention) if isinstance(entry, ProcessingActivity) else None
            )
        return self._cache[key]


@dataclass(frozen=True)
class Lateness:
    """How late records were deleted after their expiry, in milliseconds."""

    count: int
    max_ms: int
    median_ms: int
    p95_ms: int

    @classmethod
    def of(cls, values: Sequence[int]) -> Lateness | None:
        if not values:
            return None
        ordered = sorted(values)
        return cls(
            len(ordered), ordered[-1], _nearest_rank(ordered, 0.5), _nearest_rank(ordered, 0.95)
        )

    def __str__(self) -> str:
        return (
            f"max {format_duration(self.max_ms)}, median {format_duration(self.median_ms)}, "
            f"p95 {format_duration(self.p95_ms)}"
        )


def _nearest_rank(ordered: Sequence[int], q: float) -> int:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def format_duration(ms: int) -> str:
    """A lateness for people: 2d 3h 4m 5s (no unit larger than days)."""
    seconds, rest = divmod(ms, 1000)
    if seconds == 0:
        return f"{rest} ms"
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    return " ".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


@dataclass(frozen=True)
class Receipt:
    """A deletion receipt as written (or, in a dry run, as it would be written)."""

    organisation_id: str
    chain_partition: str
    receipt_number: int | None
    deleted: int
    ranges: list[tuple[int, int]]
    lateness: Lateness


@dataclass
class RetentionReport:
    """What a run did (or, with `dry_run`, would do)."""

    run_id: str
    now: datetime
    dry_run: bool
    organisation_id: str | None
    examined: int = 0
    deleted: int = 0
    # Of `deleted`, the records removed by dropping whole partitions, and those partitions.
    dropped: int = 0
    dropped_partitions: list[str] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    # Per processing activity URI: records per outcome (DELETED or DUE, or a kept reason).
    per_activity: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # Records whose retention outcome attribute named no outcome of their activity.
    unknown_outcome: int = 0
    lateness: Lateness | None = None

    @property
    def kept(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.per_activity.values():
            for reason in KEPT_REASONS:
                total[reason] += counts[reason]
        return +total

    @property
    def due(self) -> int:
        """Records past their retention: deleted, or in a dry run to be deleted."""
        return sum(c[DELETED] + c[DUE] for c in self.per_activity.values())


@dataclass
class _Pending:
    sequences: list[int] = field(default_factory=list)
    prev_hashes: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    activities: list[str] = field(default_factory=list)
    lateness: list[int] = field(default_factory=list)

    def add(self, row: Any, lateness_ms: int) -> None:
        self.sequences.append(int(row.sequence))
        self.prev_hashes.append(str(row.prev_hash))
        self.hashes.append(str(row.record_hash))
        self.activities.append(str(row.processing_activity_id))
        self.lateness.append(lateness_ms)

    def __len__(self) -> int:
        return len(self.sequences)

    def ranges(self) -> list[dict[str, Any]]:
        """Contiguous runs of sequence numbers, with the chain anchors around each."""
        runs: list[dict[str, Any]] = []
        for index, sequence in enumerate(self.sequences):
            if runs and runs[-1]["last_sequence"] == sequence - 1:
                run = runs[-1]
                run["last_sequence"] = sequence
                run["count"] += 1
                run["last_hash"] = self.hashes[index]
            else:
                runs.append(
                    {
                        "first_sequence": sequence,
                        "last_sequence": sequence,
                        "count": 1,
                        "first_prev_hash": self.prev_hashes[index],
                        "last_hash": self.hashes[index],
                    }
                )
        return runs


def _chains(engine: Engine, organisation_id: str | None) -> list[tuple[str, str]]:
    query = select(log_chain_head.c.organisation_id, log_chain_head.c.chain_partition)
    if organisation_id is not None:
        query = query.where(log_chain_head.c.organisation_id == organisation_id)
    with engine.connect() as conn:
        return sorted((str(r[0]), str(r[1])) for r in conn.execute(query))


def _begin_delete(conn: Connection, organisation_id: str, partition: str) -> None:
    """Start the deleting transaction: write lock, the retention switch, the chain's lock."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    conn.execute(text("SET LOCAL glazenstad.retention = 'on'"))
    _lock_chain(conn, organisation_id, partition)


def _insert_receipt(
    conn: Connection,
    organisation_id: str,
    partition: str,
    pending: _Pending,
    run_id: str,
    now: datetime,
) -> Receipt:
    """Insert a batch's receipt and its ranges in the caller's deleting transaction."""
    ranges = pending.ranges()
    lateness = Lateness.of(pending.lateness)
    assert lateness is not None
    r = log_deletion_receipt
    last = conn.execute(
        select(r.c.receipt_number, r.c.receipt_hash)
        .where(r.c.organisation_id == organisation_id, r.c.chain_partition == partition)
        .order_by(r.c.receipt_number.desc())
        .limit(1)
    ).first()
    receipt: dict[str, Any] = {
        "organisation_id": organisation_id,
        "chain_partition": partition,
        "receipt_number": 1 if last is None else int(last.receipt_number) + 1,
        "run_id": run_id,
        "ran_at": now,
        "deleted": len(pending),
        "first_sequence": pending.sequences[0],
        "last_sequence": pending.sequences[-1],
        "by_activity": dict(sorted(Counter(pending.activities).items())),
        "lateness_max_ms": lateness.max_ms,
        "lateness_median_ms": lateness.median_ms,
        "lateness_p95_ms": lateness.p95_ms,
        "prev_receipt_hash": GENESIS_HASH if last is None else str(last.receipt_hash),
    }
    receipt["receipt_hash"] = receipt_hash(receipt, ranges)
    inserted = conn.execute(insert(r).values(**receipt)).inserted_primary_key
    assert inserted is not None
    receipt_id = inserted[0]
    conn.execute(
        insert(log_deletion_range),
        [
            {
                **span,
                "receipt_id": receipt_id,
                "organisation_id": organisation_id,
                "chain_partition": partition,
            }
            for span in ranges
        ],
    )
    return Receipt(
        organisation_id,
        partition,
        int(receipt["receipt_number"]),
        len(pending),
        [(s["first_sequence"], s["last_sequence"]) for s in ranges],
        lateness,
    )


def _lock_chain(conn: Connection, organisation_id: str, partition: str) -> None:
    """Serialise the receipts of one chain (PostgreSQL; see the module docstring)."""
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
        {"key": f"glazenstad-retention:{organisation_id}/{partition}"},
    )


def _write_batch(
    engine: Engine,
    organisation_id: str,
    partition: str,
    pending: _Pending,
    run_id: str,
    now: datetime,
) -> Receipt:
    """Insert the receipt and its ranges, then delete the records, in one transaction."""
    with engine.connect() as conn:
        _begin_delete(conn, organisation_id, partition)
        receipt = _insert_receipt(conn, organisation_id, partition, pending, run_id, now)
        # By sequence numbers in chunks, not one statement per range: records of activities
        # with different retention interleave, so a batch can have nearly as many ranges as
        # records.
        deleted = 0
        sequences = pending.sequences
        for start in range(0, len(sequences), _DELETE_CHUNK):
            deleted += conn.execute(
                delete(log_record).where(
                    log_record.c.organisation_id == organisation_id,
                    log_record.c.chain_partition == partition,
                    log_record.c.sequence.in_(sequences[start : start + _DELETE_CHUNK]),
                )
            ).rowcount
        if deleted != len(pending):
            conn.rollback()
            raise RetentionError(
                f"{organisation_id}/{partition}: planned to delete {len(pending)} record(s) but "
                f"{deleted} matched (another retention run?); nothing of this batch was deleted"
            )
        conn.commit()
    return receipt


_DECISION_COLUMNS: Final = (
    "id",
    "organisation_id",
    "chain_partition",
    "sequence",
    "end_time_ms",
    "processing_activity_id",
    "activity_known",
    "activity_version",
    "attributes",
    "prev_hash",
    "record_hash",
)


@dataclass
class _PartitionDrop:
    """What dropping one partition did; merged into the run's report only once committed."""

    examined: int = 0
    unknown_outcome: int = 0
    receipts: list[Receipt] = field(default_factory=list)
    per_activity: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    lateness: list[int] = field(default_factory=list)
    id_sum: int = 0


def _page(conn: Connection, name: str, order: str, after: tuple[Any, ...] | None) -> list[Any]:
    """One page of a partition's rows, by keyset on `order` (a column list)."""
    where = (
        f" WHERE ({order}) > ({', '.join(f':k{i}' for i in range(len(after)))})" if after else ""
    )
    sql = (
        f'SELECT {", ".join(_DECISION_COLUMNS)} FROM "{name}"{where} ORDER BY {order} LIMIT {_PAGE}'
    )
    params = {f"k{i}": value for i, value in enumerate(after or ())}
    return list(conn.execute(text(sql), params).all())


def _decision(rules: RetentionRules, row: Any, now: datetime) -> Decision:
    return decide(
        rules.rules(
            str(row.organisation_id),
            str(row.processing_activity_id),
            bool(row.activity_known),
            row.activity_version,
        ),
        row.attributes,
        ms_to_datetime(int(row.end_time_ms)),
        now,
    )


def _all_due(
    engine: Engine,
    name: str,
    rules: RetentionRules,
    now: datetime,
    organisation_id: str | None,
) -> bool:
    """Has every record of the partition expired (and, for a run of one organisation, is every
    record that organisation's)? Reads only; stops at the first record that has not."""
    after: tuple[Any, ...] | None = None
    while True:
        with engine.connect() as conn:
            page = _page(conn, name, "id", after)
        if not page:
            return True
        for row in page:
            if organisation_id is not None and row.organisation_id != organisation_id:
                return False
            if _decision(rules, row, now).reason != DUE:
                return False
        after = (page[-1].id,)


def _drop_partition(
    engine: Engine,
    name: str,
    rules: RetentionRules,
    now: datetime,
    run_id: str,
    batch_size: int,
) -> _PartitionDrop | None:
    """Write the receipts of every record of an expired partition, then detach and drop it.

    One transaction: the receipts (per chain, in sequence order and `batch_size` records each,
    exactly as the batch path writes them) commit with the drop or not at all. The partition is
    read again inside it, and just before the drop, with log_record locked, its row count and
    id sum must still be what was read: a record that arrived late in between (or a concurrent
    run's deletion) leaves the partition for the batch path. None: not dropped.
    """
    done = _PartitionDrop()
    with engine.connect() as conn:
        conn.execute(text("SET LOCAL glazenstad.retention = 'on'"))
        conn.execute(text(f"SET LOCAL lock_timeout = '{partitions.LOCK_TIMEOUT}'"))
        chain: tuple[str, str] | None = None
        pending = _Pending()

        def flush() -> None:
            nonlocal pending
            if pending and chain is not None:
                done.receipts.append(
                    _insert_receipt(conn, chain[0], chain[1], pending, run_id, now)
                )
            pending = _Pending()

        after: tuple[Any, ...] | None = None
        order = "organisation_id, chain_partition, sequence"
        while True:
            page = _page(conn, name, order, after)
            if not page:
                break
            after = (page[-1].organisation_id, page[-1].chain_partition, page[-1].sequence)
            for row in page:
                key = (str(row.organisation_id), str(row.chain_partition))
                if key != chain:
                    flush()
                    chain = key
                    _lock_chain(conn, *key)
                decision = _decision(rules, row, now)
                if decision.reason != DUE:
                    conn.rollback()
                    return None
                assert decision.expiry is not None
                lateness_ms = _ms(now - decision.expiry)
                done.examined += 1
                done.unknown_outcome += decision.unknown_outcome
                done.per_activity[str(row.processing_activity_id)][DELETED] += 1
                done.lateness.append(lateness_ms)
                done.id_sum += int(row.id)
                pending.add(row, lateness_ms)
                if len(pending) >= batch_size:
                    flush()
        flush()
        # The keys go before log_record is locked: the lock is held until commit.
        conn.execute(
            text(
                f'DELETE FROM log_record_key k USING "{name}" r '
                "WHERE k.organisation_id = r.organisation_id AND k.trace_id = r.trace_id "
                "AND k.span_id = r.span_id"
            )
        )
        conn.execute(text(f"LOCK TABLE {partitions.PARENT} IN ACCESS EXCLUSIVE MODE"))
        count, id_sum = conn.execute(
            text(f'SELECT count(*), coalesce(sum(id), 0) FROM "{name}"')
        ).one()
        if int(count) != done.examined or int(id_sum) != done.id_sum:
            conn.rollback()
            return None
        conn.execute(text(f'ALTER TABLE {partitions.PARENT} DETACH PARTITION "{name}"'))
        conn.execute(text(f'DROP TABLE "{name}"'))
        conn.commit()
    return done


def _drop_expired_partitions(
    engine: Engine,
    report: RetentionReport,
    rules: RetentionRules,
    batch_size: int,
    all_lateness: array[int],
) -> None:
    """Drop every monthly partition all of whose records have expired (PostgreSQL)."""
    now_ms = _ms(report.now - ms_to_datetime(0))
    with engine.connect() as conn:
        candidates = [
            p
            for p in partitions.partitions(conn)
            if p.upper_ms is not None and p.upper_ms <= now_ms
        ]
    for candidate in candidates:
        if not _all_due(engine, candidate.name, rules, report.now, report.organisation_id):
            continue
        try:
            done = _drop_partition(
                engine, candidate.name, rules, report.now, report.run_id, batch_size
            )
        except OperationalError as exc:
            # lock_timeout (ingest or reads held log_record), or a deadlock with a writer
            # storing a late record in this partition: the records wait for the batch path.
            if not isinstance(
                exc.orig, psycopg.errors.LockNotAvailable | psycopg.errors.DeadlockDetected
            ):
                raise
            _log.warning("retention: partition %s not dropped now (%s)", candidate.name, exc.orig)
            continue
        if done is None:
            continue
        report.dropped_partitions.append(candidate.name)
        report.examined += done.examined
        report.deleted += done.examined
        report.dropped += done.examined
        report.unknown_outcome += done.unknown_outcome
        report.receipts.extend(done.receipts)
        for uri, counts in done.per_activity.items():
            report.per_activity[uri].update(counts)
        all_lateness.extend(done.lateness)


def apply_retention(
    engine: Engine,
    *,
    organisation_id: str | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> RetentionReport:
    """Delete the records whose retention has passed at `now` (default: the clock).

    With `dry_run` nothing is written: the report says what would be deleted and kept.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    moment = (now or utcnow()).astimezone(UTC)
    report = RetentionReport(uuid.uuid4().hex, moment, dry_run, organisation_id)
    rules = RetentionRules(engine)
    all_lateness = array("q")
    t = log_record
    columns = (
        t.c.sequence,
        t.c.end_time_ms,
        t.c.processing_activity_id,
        t.c.activity_known,
        t.c.activity_version,
        t.c.attributes,
        t.c.prev_hash,
        t.c.record_hash,
    )
    if not dry_run and engine.dialect.name == "postgresql":
        partitions.ensure_partitions(engine)  # the months ahead, on every run
        _drop_expired_partitions(engine, report, rules, batch_size, all_lateness)
    for org, partition in _chains(engine, organisation_id):
        pending = _Pending()

        def flush(org: str = org, partition: str = partition) -> None:
            nonlocal pending
            if not pending:
                return
            if dry_run:
                lateness = Lateness.of(pending.lateness)
                assert lateness is not None
                spans = [(s["first_sequence"], s["last_sequence"]) for s in pending.ranges()]
                report.receipts.append(Receipt(org, partition, None, len(pending), spans, lateness))
            else:
                report.receipts.append(
                    _write_batch(engine, org, partition, pending, report.run_id, moment)
                )
                report.deleted += len(pending)
            pending = _Pending()

        after = 0
        while True:
            query = (
                select(*columns)
                .where(
                    t.c.organisation_id == org,
                    t.c.chain_partition == partition,
                    t.c.sequence > after,
                )
                .order_by(t.c.sequence)
                .limit(_PAGE)
            )
            with engine.connect() as conn:
                page = conn.execute(query).all()
            if not page:
                break
            after = int(page[-1].sequence)
            for row in page:
                report.examined += 1
                uri = str(row.processing_activity_id)
                decision = decide(
                    rules.rules(org, uri, bool(row.activity_known), row.activity_version),
                    row.attributes,
                    ms_to_datetime(int(row.end_time_ms)),
                    moment,
                )
                report.unknown_outcome += decision.unknown_outcome
                if decision.reason != DUE:
                    report.per_activity[uri][decision.reason] += 1
                    continue
                assert decision.expiry is not None
                lateness_ms = _ms(moment - decision.expiry)
                report.per_activity[uri][DUE if dry_run else DELETED] += 1
                all_lateness.append(lateness_ms)
                pending.add(row, lateness_ms)
                if len(pending) >= batch_size:
                    flush()
        flush()
    report.lateness = Lateness.of(all_lateness)
    if not dry_run:
        _record_run(engine, report)
    return report


def _record_run(engine: Engine, report: RetentionReport) -> None:
    lateness = report.lateness
    with engine.begin() as conn:
        conn.execute(
            insert(log_retention_run).values(
                run_id=report.run_id,
                organisation_id=report.organisation_id,
                ran_at=report.now,
                finished_at=utcnow(),
                examined=report.examined,
                deleted=report.deleted,
                dropped=report.dropped,
                receipts=len(report.receipts),
                lateness_max_ms=lateness.max_ms if lateness else None,
                lateness_median_ms=lateness.median_ms if lateness else None,
                lateness_p95_ms=lateness.p95_ms if lateness else None,
                kept=dict(sorted(report.kept.items())),
            )
        )


@dataclass(frozen=True)
class RetentionRun:
    """One stored retention run."""

    run_id: str
    organisation_id: str | None
    ran_at: datetime
    finished_at: datetime
    examined: int
    deleted: int
    receipts: int
    lateness: Lateness | None
    kept: dict[str, int]
    # Of `deleted`, removed by dropping whole partitions.
    dropped: int = 0


@dataclass(frozen=True)
class RetentionStatus:
    """How retention is doing now: what is overdue, and the last run."""

    now: datetime
    overdue: int
    # How long the longest-overdue record has been past its expiry (None: nothing overdue).
    overdue_max_ms: int | None
    kept: dict[str, int]
    last_run: RetentionRun | None


def last_run(engine: Engine, organisation_id: str | None = None) -> RetentionRun | None:
    """The newest run that covered the organisation (or, without one, the newest run)."""
    t = log_retention_run
    query = select(t).order_by(t.c.id.desc()).limit(1)
    if organisation_id is not None:
        query = query.where(
            or_(t.c.organisation_id == organisation_id, t.c.organisation_id.is_(None))
        )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    lateness = None
    if row.lateness_max_ms is not None:
        lateness = Lateness(
            int(row.deleted),
            int(row.lateness_max_ms),
            int(row.lateness_median_ms),
            int(row.lateness_p95_ms),
        )
    return RetentionRun(
        str(row.run_id),
        row.organisation_id,
        row.ran_at,
        row.finished_at,
        int(row.examined),
        int(row.deleted),
        int(row.receipts),
        lateness,
        dict(row.kept),
        int(row.dropped),
    )


def retention_status(
    engine: Engine, organisation_id: str | None = None, now: datetime | None = None
) -> RetentionStatus:
    """Retention performance for dashboards and compliance figures; reads only."""
    plan = apply_retention(engine, organisation_id=organisation_id, now=now, dry_run=True)
    return RetentionStatus(
        plan.now,
        plan.due,
        plan.lateness.max_ms if plan.lateness else None,
        dict(sorted(plan.kept.items())),
        last_run(engine, organisation_id),
    )
