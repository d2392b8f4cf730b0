"""Monthly partitions of log_record on PostgreSQL (migration 0014, ADR 14), SQLite unchanged.

Records are placed in months by their start time; retention's "now" is moved forward with its
parameter, never by waiting.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from glazenstad.db.engine import alembic_config, make_engine, migrate
from glazenstad.logbook.partitions import (
    DEFAULT_TABLE,
    ensure_partitions,
    list_partitions,
    month_bounds,
    months_from,
    partition_name,
)
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.retention import apply_retention, last_run
from glazenstad.logbook.store import CONFLICT_STORED, LogStore
from glazenstad.logbook.tables import log_deletion_range, log_deletion_receipt, log_record
from glazenstad.logbook.verify import verify
from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from tests.conftest import TEST_REGISTER
from tests.logbook.conftest import ORG, make_record, span_id
from tests.logbook.test_retention import ARCHIEF, PARKEREN, WMO, ZONDER, record, write_register

postgres = pytest.mark.postgres


def month(offset: int) -> tuple[int, int]:
    """The (year, month) `offset` months after the current one (UTC)."""
    return months_from(datetime.now(UTC), offset)[-1]


def in_month(offset: int, base: dict[str, Any] | None = None, day: int = 15) -> dict[str, Any]:
    """A record starting at noon on `day` of the month `offset` months from now."""
    year, number = month(offset)
    start = int(datetime(year, number, day, 12, tzinfo=UTC).timestamp() * 1000)
    return {**(base or make_record()), "start_time": start, "end_time": start + 5}


def at_ms(ms: int, base: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**(base or make_record()), "start_time": ms, "end_time": ms + 5}


def name_of(offset: int) -> str:
    return partition_name(*month(offset))


def placement(engine: Engine) -> dict[str, int]:
    """Records per partition, by where PostgreSQL stored them."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT tableoid::regclass::text, count(*) FROM log_record GROUP BY 1")
        ).all()
    return {str(name): int(count) for name, count in rows}


def stored(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = select(log_record).order_by(log_record.c.chain_partition, log_record.c.sequence)
        return [dict(r._mapping) for r in conn.execute(query)]


def keys(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM log_record_key")).scalar_one())


def ranges_of(engine: Engine) -> list[tuple[str, int, int]]:
    r = log_deletion_range
    with engine.connect() as conn:
        query = select(r.c.chain_partition, r.c.first_sequence, r.c.last_sequence)
        return sorted((str(a), int(b), int(c)) for a, b, c in conn.execute(query))


def covered(spans: list[tuple[str, int, int]]) -> set[tuple[str, int]]:
    return {(chain, s) for chain, first, last in spans for s in range(first, last + 1)}


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_store(pg_engine: Engine, tmp_path: Path, pseudonymizer: Pseudonymizer) -> LogStore:
    """A migrated PostgreSQL logbook with the retention test register; one chain, so that
    sequence numbers follow the order of ingest."""
    load_register(pg_engine, write_register(tmp_path / "register"), approved_by="test-approver")
    time.sleep(0.002)
    return LogStore(pg_engine, RegisterStore(pg_engine), pseudonymizer, chains=1)


# SQLite: nothing changes.


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_has_no_partitions_and_retention_works_unchanged(
    engine: Engine, tmp_path: Path, pseudonymizer: Pseudonymizer
) -> None:
    assert ensure_partitions(engine) == []
    assert list_partitions(engine) == []
    assert "log_record_key" not in inspect(engine).get_table_names()
    load_register(engine, write_register(tmp_path / "register"), approved_by="test-approver")
    time.sleep(0.002)
    store = LogStore(engine, RegisterStore(engine), pseudonymizer)
    assert store.ingest(ORG, [record(ARCHIEF, "kort") for _ in range(3)]).accepted == 3
    report = apply_retention(engine, now=datetime.now(UTC) + timedelta(days=40))
    assert (report.deleted, report.dropped, report.dropped_partitions) == (3, 0, [])
    run = last_run(engine)
    assert run is not None and (run.deleted, run.dropped) == (3, 0)
    assert verify(engine).ok


# The migration.


@postgres
def test_migration_keeps_every_record_and_the_chain_verifies(
    postgres_url: str, pseudonymizer: Pseudonymizer
) -> None:
    engine = make_engine(postgres_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0013")
        load_register(engine, TEST_REGISTER, approved_by="test-approver")
        time.sleep(0.002)
        store = LogStore(engine, RegisterStore(engine), pseudonymizer, chains=2)
        batches = [
            [make_record() for _ in range(5)],  # this month
            [at_ms(month_bounds(2025, 3)[0] + 1) for _ in range(3)],  # a past month
            [in_month(1), in_month(2)],
            [at_ms(86_400_000)],  # 1970: before any partition, to DEFAULT
        ]
        for batch in batches:
            assert store.ingest(ORG, batch).accepted == len(batch)
        before = stored(engine)
        assert not list_partitions(engine)  # not partitioned yet

        command.upgrade(config, "head")

        assert stored(engine) == before  # every record, every column, ids included
        assert keys(engine) == len(before) == 11
        result = verify(engine)
        assert result.ok and result.records == 11
        where = placement(engine)
        assert where[partition_name(2025, 3)] == 3
        assert where[DEFAULT_TABLE] == 1
        assert where[name_of(0)] == 5
        names = {p.name for p in list_partitions(engine)}
        assert {name_of(n) for n in range(4)} <= names  # this month and three ahead
        # The idempotency key still holds for records moved by the migration.
        again = store.ingest(ORG, [r for batch in batches for r in batch])
        assert (again.accepted, again.duplicates) == (0, 11)
        # New records get new ids after the moved ones.
        fresh = store.ingest(ORG, [make_record()])
        assert fresh.accepted == 1
        new_id = max(int(r["id"]) for r in stored(engine))
        assert new_id > max(int(r["id"]) for r in before)
    finally:
        engine.dispose()


@postgres
def test_migration_down_and_up_again_keeps_the_records(
    pg_store: LogStore, postgres_url: str
) -> None:
    engine = pg_store.engine
    records = [make_record(), in_month(2), at_ms(1)]
    assert pg_store.ingest(ORG, records).accepted == 3
    before = stored(engine)
    config = alembic_config(engine)
    command.downgrade(config, "0013")
    assert (
        list_partitions(engine) == [] and "log_record_key" not in inspect(engine).get_table_names()
    )
    assert stored(engine) == before and verify(engine).ok
    with pytest.raises(IntegrityError, match="uq_log_record_trace"), engine.begin() as conn:
        row = {k: v for k, v in before[0].items() if k != "id"}
        conn.execute(insert(log_record).values({**row, "sequence": 99}))
    command.upgrade(config, "head")
    assert stored(engine) == before and keys(engine) == 3 and verify(engine).ok
    assert pg_store.ingest(ORG, records).duplicates == 3


# Ingest and ensure-ahead.


@postgres
def test_records_land_in_the_partition_of_their_month_or_default(pg_store: LogStore) -> None:
    far_future = month_bounds(2300, 6)[0]
    records = [make_record(), in_month(1), in_month(1), in_month(3), at_ms(1), at_ms(far_future)]
    result = pg_store.ingest(ORG, records)
    assert result.accepted == 6 and not result.rejected  # never refused for its time
    assert placement(pg_store.engine) == {
        name_of(0): 1,
        name_of(1): 2,
        name_of(3): 1,
        DEFAULT_TABLE: 2,
    }
    counts = {p.name: p.rows for p in list_partitions(pg_store.engine)}
    assert counts[name_of(2)] == 0 and counts[DEFAULT_TABLE] == 2
    assert verify(pg_store.engine).ok


@postgres
def test_ensure_ahead_is_idempotent(pg_engine: Engine) -> None:
    start = datetime.now(UTC)
    assert ensure_partitions(pg_engine, now=start) == []  # migration created them
    before = list_partitions(pg_engine)
    assert ensure_partitions(pg_engine, now=start) == []
    assert list_partitions(pg_engine) == before
    later = months_from(start, 5)[-1]
    moment = datetime(later[0], later[1], 1, tzinfo=UTC)
    created = ensure_partitions(pg_engine, now=moment, ahead=1)
    assert created == [name_of(5), name_of(6)]
    assert ensure_partitions(pg_engine, now=moment, ahead=1) == []
    with pytest.raises(ValueError):
        ensure_partitions(pg_engine, ahead=-1)


@postgres
def test_a_new_month_takes_its_records_out_of_default(pg_store: LogStore) -> None:
    engine = pg_store.engine
    early = in_month(6)  # no partition yet: DEFAULT
    assert pg_store.ingest(ORG, [make_record(), early, in_month(7)]).accepted == 3
    assert placement(engine)[DEFAULT_TABLE] == 2
    year, number = month(6)
    created = ensure_partitions(engine, now=datetime(year, number, 2, tzinfo=UTC), ahead=0)
    assert created == [name_of(6)]
    assert placement(engine) == {name_of(0): 1, name_of(6): 1, DEFAULT_TABLE: 1}
    assert verify(engine).ok
    again = pg_store.ingest(ORG, [early])
    assert (again.accepted, again.duplicates) == (0, 1)
    # The moved partition is guarded like the others.
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {name_of(6)}"))


# Uniqueness: the keys live in log_record_key, across all partitions.


@postgres
def test_duplicates_are_idempotent_and_conflicts_refused_across_months(
    pg_store: LogStore,
) -> None:
    engine = pg_store.engine
    first = in_month(1)
    assert pg_store.ingest(ORG, [first]).accepted == 1
    same = pg_store.ingest(ORG, [first])
    assert (same.accepted, same.duplicates) == (0, 1)
    # Same ids, another month: still the stored record's ids; a log record cannot change.
    moved = pg_store.ingest(ORG, [in_month(2, first)])
    assert moved.accepted == 0 and [r.reason for r in moved.rejected] == [CONFLICT_STORED]
    # The database itself refuses a second row with those ids, or that chain position,
    # whatever its start time.
    row = stored(engine)[0]
    del row["id"]
    for changes in (
        {"start_time_ms": row["start_time_ms"] + 40 * 86_400_000, "sequence": 99},
        {"start_time_ms": row["start_time_ms"] + 40 * 86_400_000, "span_id": span_id()},
    ):
        with pytest.raises(IntegrityError, match="uq_log_record_"), engine.begin() as conn:
            conn.execute(insert(log_record).values({**row, **changes}))
    assert len(stored(engine)) == 1 and keys(engine) == 1
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM log_record_key"))


# Retention.


@postgres
def test_retention_drops_fully_expired_partitions_and_the_chain_verifies(
    pg_store: LogStore,
) -> None:
    engine = pg_store.engine
    # Interleaved in the chain: months 1 and 2 expire entirely (P1D / PT24H); month 3 holds
    # a record without retention rules, so only its expired records go, one by one.
    plan = [
        (3, ARCHIEF, "kort"),
        (1, ARCHIEF, "kort"),
        (2, PARKEREN, "betaald"),
        (1, PARKEREN, "betaald"),
        (3, ZONDER, None),
        (2, ARCHIEF, "kort"),
        (1, ARCHIEF, "kort"),
        (3, ARCHIEF, "kort"),
        (1, PARKEREN, "betaald"),
    ]
    records = [in_month(offset, record(activity, outcome)) for offset, activity, outcome in plan]
    assert pg_store.ingest(ORG, records).accepted == len(plan)
    before = {int(r["sequence"]): r for r in stored(engine)}
    year, number = month(6)
    now = datetime(year, number, 1, tzinfo=UTC)

    report = apply_retention(engine, now=now, batch_size=2)

    # This month's partition is empty and its month has passed: it goes too.
    assert report.dropped_partitions == [name_of(0), name_of(1), name_of(2)]
    assert report.dropped == 6 and report.deleted == 8 and report.examined == 9
    assert report.kept == {"no-retention-rule": 1}
    names = {p.name for p in list_partitions(engine)}
    assert name_of(1) not in names and name_of(2) not in names and name_of(3) in names
    assert [int(r["sequence"]) for r in stored(engine)] == [5]
    assert keys(engine) == 1
    # The receipts cover exactly the deleted records, dropped or deleted one by one.
    deleted = {("main", s) for s in before if s != 5}
    assert covered(ranges_of(engine)) == deleted
    with engine.connect() as conn:
        numbers = conn.execute(
            select(log_deletion_receipt.c.receipt_number, log_deletion_receipt.c.deleted).order_by(
                log_deletion_receipt.c.receipt_number
            )
        ).all()
    # Batches of two: 6 dropped records in 3 receipts, then the batch path's 2 in 1.
    assert [(int(a), int(b)) for a, b in numbers] == [(1, 2), (2, 2), (3, 2), (4, 2)]
    result = verify(engine)
    assert result.ok, result.first_break
    assert (result.records, result.pruned) == (1, 8)
    run = last_run(engine)
    assert run is not None and (run.deleted, run.dropped) == (8, 6)
    # A dropped record sent again is stored again, as after any deletion by retention.
    again = pg_store.ingest(ORG, [records[1]])
    assert again.accepted == 1
    assert placement(engine)[DEFAULT_TABLE] == 1  # its month has gone
    assert verify(engine).ok


@postgres
def test_a_partly_expired_partition_is_not_dropped(pg_store: LogStore) -> None:
    engine = pg_store.engine
    plan = [(ARCHIEF, "kort"), (WMO, None), (ARCHIEF, "kort")]  # WMO keeps 15 years
    assert pg_store.ingest(ORG, [in_month(1, record(a, o)) for a, o in plan]).accepted == 3
    year, number = month(4)
    report = apply_retention(engine, now=datetime(year, number, 1, tzinfo=UTC))
    assert (report.dropped, report.deleted) == (0, 2)
    assert report.dropped_partitions == [name_of(0), name_of(2), name_of(3)]  # empty
    assert placement(engine) == {name_of(1): 1}
    assert covered(ranges_of(engine)) == {("main", 1), ("main", 3)}
    assert verify(engine).ok


@postgres
def test_dry_run_drops_nothing(pg_store: LogStore) -> None:
    engine = pg_store.engine
    assert pg_store.ingest(ORG, [in_month(1, record(ARCHIEF, "kort"))]).accepted == 1
    year, number = month(4)
    report = apply_retention(engine, now=datetime(year, number, 1, tzinfo=UTC), dry_run=True)
    assert (report.due, report.dropped, report.dropped_partitions) == (1, 0, [])
    assert placement(engine) == {name_of(1): 1}


@postgres
def test_a_run_for_one_organisation_drops_only_its_own_partitions(pg_store: LogStore) -> None:
    engine = pg_store.engine
    assert pg_store.ingest(ORG, [in_month(1, record(ARCHIEF, "kort"))]).accepted == 1
    assert pg_store.ingest("anderstad", [in_month(1, record(ARCHIEF, "kort"))]).accepted == 1
    assert pg_store.ingest(ORG, [in_month(2, record(ARCHIEF, "kort"))]).accepted == 1
    year, number = month(4)
    report = apply_retention(engine, organisation_id=ORG, now=datetime(year, number, 1, tzinfo=UTC))
    # Month 1 holds another organisation's record: batch path; month 2 is ORG's alone.
    assert report.dropped_partitions == [name_of(0), name_of(2), name_of(3)]
    assert report.deleted == 2
    assert placement(engine) == {name_of(1): 1}
    assert verify(engine).ok


@postgres
def test_dropping_writes_the_receipts_the_batch_path_writes(
    sqlite_url: str, postgres_url: str, tmp_path: Path, pseudonymizer: Pseudonymizer
) -> None:
    """The same records, deleted one by one on SQLite and by dropping on PostgreSQL: the same
    receipts (numbers, counts, activities, ranges; hashes differ with the receipt times)."""
    register = write_register(tmp_path / "register")
    plan = [(ARCHIEF, "kort"), (PARKEREN, "betaald"), (ARCHIEF, "lang")] * 3
    records = [in_month(1, record(a, o)) for a, o in plan]
    year, number = month(4)
    now = datetime(year, number, 1, tzinfo=UTC)
    found = []
    for url in (sqlite_url, postgres_url):
        engine = make_engine(url)
        try:
            migrate(engine)
            load_register(engine, register, approved_by="test-approver")
            time.sleep(0.002)
            store = LogStore(engine, RegisterStore(engine), pseudonymizer, chains=1)
            assert store.ingest(ORG, records).accepted == len(records)
            report = apply_retention(engine, now=now, batch_size=4)
            assert report.deleted == len(records)
            assert report.dropped == (len(records) if url == postgres_url else 0)
            receipt = log_deletion_receipt
            with engine.connect() as conn:
                found.append(
                    (
                        [
                            (
                                r.receipt_number,
                                r.deleted,
                                r.first_sequence,
                                r.last_sequence,
                                r.by_activity,
                            )
                            for r in conn.execute(
                                select(receipt).order_by(receipt.c.receipt_number)
                            )
                        ],
                        ranges_of(engine),
                    )
                )
            assert verify(engine).ok
        finally:
            engine.dispose()
    assert found[0] == found[1]
    assert [r[1] for r in found[0][0]] == [4, 4, 1]


# The command line.


@postgres
def test_cli_lists_and_ensures_partitions(
    monkeypatch: pytest.MonkeyPatch, pg_store: LogStore, postgres_url: str
) -> None:
    from glazenstad.cli import app
    from glazenstad.settings import get_settings

    assert pg_store.ingest(ORG, [in_month(1), in_month(1), at_ms(1)]).accepted == 3
    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["logbook", "partitions", "--ensure", "--ahead", "5"])
        assert result.exit_code == 0, result.output
        assert f"Created: {name_of(4)}, {name_of(5)}" in result.output
        lines = {
            line.split()[1]: line for line in result.output.splitlines() if "log_record_" in line
        }
        assert lines[name_of(1)].split()[-2] == "2"
        year, number = month(1)
        assert f"{year:04d}-{number:02d}-01" in lines[name_of(1)]
        assert lines[DEFAULT_TABLE].split()[-2] == "1"
        again = runner.invoke(app, ["logbook", "partitions", "--ensure", "--ahead", "5"])
        assert "Every partition was there already." in again.output
    finally:
        get_settings.cache_clear()


@postgres
def test_a_record_arriving_while_a_partition_is_dropped_keeps_it(
    pg_store: LogStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A late record stored in a partition after retention read it: the partition is not
    dropped (its row count changed), and the batch path deletes what is due, the late record
    included, with receipts."""
    from glazenstad.logbook import retention

    engine = pg_store.engine
    assert pg_store.ingest(ORG, [in_month(1, record(ARCHIEF, "kort")) for _ in range(3)]).accepted
    late = in_month(1, record(ARCHIEF, "kort"))
    original = retention._insert_receipt
    arrived: list[int] = []

    def insert_receipt(*args: Any, **kwargs: Any) -> Any:
        if not arrived:  # inside the dropping transaction, after the partition was read
            arrived.append(pg_store.ingest(ORG, [late]).accepted)
        return original(*args, **kwargs)

    monkeypatch.setattr(retention, "_insert_receipt", insert_receipt)
    year, number = month(4)
    report = apply_retention(engine, now=datetime(year, number, 1, tzinfo=UTC))
    assert arrived == [1]
    assert name_of(1) not in report.dropped_partitions
    assert report.dropped == 0 and report.deleted == 4
    assert placement(engine) == {} and keys(engine) == 0
    assert covered(ranges_of(engine)) == {("main", s) for s in (1, 2, 3, 4)}
    result = verify(engine)
    assert result.ok and result.pruned == 4


@postgres
def test_a_busy_log_record_delays_partition_work_without_failing(
    pg_store: LogStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long read holds log_record: creating months ahead and dropping a partition give up
    after the lock timeout instead of queueing ingest behind them; retention deletes the
    expired records the batch way meanwhile."""
    from sqlalchemy.exc import OperationalError

    from glazenstad.logbook import partitions

    engine = pg_store.engine
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "200ms")
    assert pg_store.ingest(ORG, [in_month(1, record(ARCHIEF, "kort")) for _ in range(3)]).accepted
    year, number = month(6)
    later = datetime(year, number, 1, tzinfo=UTC)
    with engine.connect() as reader:
        reader.execute(text("SELECT count(*) FROM log_record")).scalar_one()  # holds its lock
        assert ensure_partitions(engine, now=later) == []
        with pytest.raises(OperationalError, match="lock timeout"):
            ensure_partitions(engine, now=later, strict=True)
        year, number = month(4)
        report = apply_retention(engine, now=datetime(year, number, 1, tzinfo=UTC))
        assert (report.dropped, report.dropped_partitions, report.deleted) == (0, [], 3)
        reader.rollback()
    assert placement(engine) == {}
    assert verify(engine).ok
    assert ensure_partitions(engine, now=later) == [name_of(n) for n in range(6, 10)]
