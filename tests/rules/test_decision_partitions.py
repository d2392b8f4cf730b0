"""Monthly partitions of decision_log on PostgreSQL (migration 0015, ADR 16), SQLite unchanged.

Decisions are placed in months by `decided_at`; rows are written as the writers write them
(`write_decisions`, `DecisionWriter`), with the times the tests choose.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from alembic import command
from sqlalchemy import Engine, delete, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from glazenstad.db.engine import alembic_config, make_engine, migrate
from glazenstad.logbook.partitions import create_month, months_from
from glazenstad.logbook.stream import QueueConfig
from glazenstad.rules.decision_queue import FORMAT, DecisionWriter, QueuedDecision, QueuedDecisions
from glazenstad.rules.decisionlog import stored_decision, write_decisions
from glazenstad.rules.partitions import (
    DECISION_LOG,
    drop_months_before,
    ensure_decision_partitions,
    list_decision_partitions,
)
from glazenstad.rules.tables import decision_log

postgres = pytest.mark.postgres
# The refusal of a second row of one decision id, as PostgreSQL and SQLite word it.
DUPLICATE = r"uq_decision_log_decision_id|UNIQUE constraint failed: decision_log\.decision_id"
DEFAULT = DECISION_LOG.default_table
ORG = "teststad"


def month(offset: int) -> tuple[int, int]:
    """The (year, month) `offset` (0 or more) months after the current one (UTC)."""
    return months_from(datetime.now(UTC), offset)[-1]


def name_of(offset: int) -> str:
    return DECISION_LOG.partition_name(*month(offset))


def in_month(offset: int, day: int = 15) -> datetime:
    year, number = month(offset)
    return datetime(year, number, day, 12, tzinfo=UTC)


def row(
    decided_at: datetime, decision_id: str | None = None, *, break_glass: bool = False
) -> dict[str, Any]:
    """A decision-log row as `decision_row` makes it."""
    return {
        "decision_id": decision_id or uuid.uuid4().hex,
        "decided_at": decided_at,
        "organisation_id": ORG,
        "policy_version": "a" * 64,
        "compiled_hash": "b" * 64,
        "engine_version": "1",
        "input_hash": "c" * 64,
        "purpose": "wmo-maatwerkvoorziening",
        "action": "read",
        "data_category": "gezondheid",
        "role": "wmo-consulent",
        "department": "Zorg",
        "effect": "permit",
        "reason": "permitted",
        "rules": ["r1"],
        "break_glass": break_glass,
        "request": {"purpose": "wmo-maatwerkvoorziening", "context": {"time": 0}},
    }


def write(engine: Engine, rows: list[dict[str, Any]], *, skip_stored: bool = False) -> int:
    with engine.begin() as conn:
        return write_decisions(conn, rows, skip_stored=skip_stored)


def stored(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(decision_log).order_by("id"))]


def placement(engine: Engine) -> dict[str, int]:
    """Decisions per partition, by where PostgreSQL stored them."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT tableoid::regclass::text, count(*) FROM decision_log GROUP BY 1")
        ).all()
    return {str(name): int(count) for name, count in rows}


def keys(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM decision_log_key")).scalar_one())


def queued(rows: list[dict[str, Any]]) -> Any:
    """A JetStream message as DecisionWriter receives it (only its body is read)."""
    body = QueuedDecisions(format=FORMAT, decisions=[QueuedDecision(**r) for r in rows])
    return SimpleNamespace(data=msgspec.json.encode(body))


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    migrate(engine)
    yield engine
    engine.dispose()


# Both databases: idempotent writes and reads by id.


def test_retried_writes_store_each_decision_once(engine: Engine) -> None:
    first = [row(in_month(0)), row(in_month(1)), row(datetime(2025, 3, 2, tzinfo=UTC))]
    assert write(engine, first) == 3
    # The same batch again (a retried batch whose commit went through after all).
    assert write(engine, first, skip_stored=True) == 0
    # A pipeline deciding a redelivered scan again: the same ids, later times, one of them in
    # another month; and one id twice in one batch.
    again = [row(d["decided_at"] + timedelta(days=40), d["decision_id"]) for d in first]
    fresh = row(in_month(0))
    assert write(engine, [*again, fresh, dict(fresh)], skip_stored=True) == 1
    rows = stored(engine)
    assert len(rows) == 4 and len({r["decision_id"] for r in rows}) == 4
    # The stored rows were kept as they were.
    by_id = {r["decision_id"]: r for r in rows}
    assert [by_id[d["decision_id"]]["decided_at"] for d in first] == [
        d["decided_at"] for d in first
    ]
    # Without skip_stored the database itself refuses a second row of an id, in any month.
    with pytest.raises(IntegrityError, match=DUPLICATE):
        write(engine, [again[0]])
    with pytest.raises(IntegrityError, match=DUPLICATE):
        write(engine, [fresh, dict(fresh)])
    assert len(stored(engine)) == 4


def test_rows_are_stored_as_given_whatever_their_text(engine: Engine) -> None:
    # PostgreSQL takes the rows by COPY, whose text format gives tab, newline, carriage return
    # and backslash a meaning of their own; SQLite by executemany.
    awkward = 'Zorg\tën Welzijn\n\\N \\ \r"quoted" café'
    given = row(datetime(2026, 3, 29, 3, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2))))
    given |= {
        "department": awkward,
        "purpose": awkward,
        "policy_version": None,
        "compiled_hash": None,
        "rules": ["r\t1", "ë"],
        "break_glass": True,
        "request": {"context": {"justification": awkward, "time": 1.5, "consent": []}, "n": None},
    }
    plain = row(in_month(0))
    assert write(engine, [given, plain]) == 2
    first, second = stored(engine)
    assert {k: v for k, v in first.items() if k != "id"} == given
    assert first["decided_at"] == datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=UTC)
    assert {k: v for k, v in second.items() if k != "id"} == plain


def test_a_redelivered_queue_message_is_written_once(engine: Engine) -> None:
    writer = DecisionWriter(QueueConfig(url="nats://127.0.0.1:1"), engine)
    batch = [row(in_month(0)), row(in_month(2)), row(datetime(1999, 5, 1, tzinfo=UTC))]
    message = queued(batch)
    settled = writer.write([message, message])  # fetched twice in one go
    assert (len(settled.ack), settled.retry, settled.terminate) == (2, [], [])
    assert (writer.counts.written, writer.counts.already_stored) == (3, 3)
    writer.write([queued(batch[:2])])  # delivered again after its writer died
    assert (writer.counts.written, writer.counts.already_stored) == (3, 5)
    assert len(stored(engine)) == 3


def test_stored_decision_finds_a_decision_in_any_month(engine: Engine) -> None:
    rows = [row(datetime(2025, 6, 1, tzinfo=UTC)), row(in_month(0)), row(in_month(1))]
    rows.append(row(datetime(2300, 1, 1, tzinfo=UTC)))
    write(engine, rows)
    for wanted in rows:
        found = stored_decision(engine, wanted["decision_id"])
        assert found is not None
        assert (found["decision_id"], found["decided_at"]) == (
            wanted["decision_id"],
            wanted["decided_at"],
        )
    assert stored_decision(engine, uuid.uuid4().hex) is None


def test_deleting_decisions_frees_their_ids(engine: Engine) -> None:
    """The key table follows DELETE (benchmarks empty the log this way)."""
    first = row(in_month(0))
    write(engine, [first])
    with engine.begin() as conn:
        conn.execute(delete(decision_log))
    assert write(engine, [row(in_month(1), first["decision_id"])]) == 1
    assert [r["decided_at"] for r in stored(engine)] == [in_month(1)]


# SQLite: nothing partitioned.


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_has_no_partitions(engine: Engine) -> None:
    assert ensure_decision_partitions(engine) == []
    assert list_decision_partitions(engine) == []
    assert drop_months_before(engine, datetime(2400, 1, 1, tzinfo=UTC)) == []
    assert "decision_log_key" not in inspect(engine).get_table_names()
    names = {c["name"] for c in inspect(engine).get_unique_constraints("decision_log")}
    assert "uq_decision_log_decision_id" in names


# PostgreSQL: the migration.


@postgres
def test_migration_keeps_every_decision(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, "0014")
        rows = [
            row(in_month(0)),
            row(in_month(0), break_glass=True),
            row(datetime(2025, 3, 2, tzinfo=UTC)),
            row(datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC)),
            row(in_month(2)),
            row(datetime(1970, 1, 2, tzinfo=UTC)),  # before any partition: DEFAULT
        ]
        with engine.begin() as conn:
            conn.execute(insert(decision_log), rows)
        before = stored(engine)
        assert list_decision_partitions(engine) == []

        command.upgrade(config, "head")

        assert stored(engine) == before  # every decision, every column, ids included
        assert keys(engine) == 6
        assert placement(engine) == {
            name_of(0): 2,
            DECISION_LOG.partition_name(2025, 3): 2,
            name_of(2): 1,
            DEFAULT: 1,
        }
        names = {p.name for p in list_decision_partitions(engine)}
        assert {name_of(n) for n in range(4)} <= names  # this month and three ahead
        # The ids stay unique across months, and new decisions get new ids after the old ones.
        again = [row(in_month(1), r["decision_id"]) for r in rows]
        assert write(engine, again, skip_stored=True) == 0
        assert write(engine, [row(in_month(1))]) == 1
        assert max(r["id"] for r in stored(engine)) > max(r["id"] for r in before)
    finally:
        engine.dispose()


@postgres
def test_migration_down_and_up_again_keeps_the_decisions(pg_engine: Engine) -> None:
    write(pg_engine, [row(in_month(0)), row(in_month(3)), row(datetime(1990, 1, 1, tzinfo=UTC))])
    before = stored(pg_engine)
    config = alembic_config(pg_engine)
    command.downgrade(config, "0014")
    assert list_decision_partitions(pg_engine) == []
    assert "decision_log_key" not in inspect(pg_engine).get_table_names()
    assert stored(pg_engine) == before
    with pytest.raises(IntegrityError, match="uq_decision_log_decision_id"):
        write(pg_engine, [row(in_month(1), before[0]["decision_id"])])
    command.upgrade(config, "head")
    assert stored(pg_engine) == before and keys(pg_engine) == 3
    assert write(pg_engine, [row(in_month(1), before[0]["decision_id"])], skip_stored=True) == 0


# PostgreSQL: placement, months ahead, reads on indexes.


@postgres
def test_decisions_land_in_the_partition_of_their_month_or_default(pg_engine: Engine) -> None:
    rows = [
        row(in_month(0)),
        row(in_month(1, day=1)),
        row(in_month(1, day=28)),
        row(in_month(3)),
        row(datetime(1980, 6, 1, tzinfo=UTC)),
        row(datetime(2300, 6, 1, tzinfo=UTC)),
    ]
    assert write(pg_engine, rows) == 6  # never refused for its time
    assert placement(pg_engine) == {name_of(0): 1, name_of(1): 2, name_of(3): 1, DEFAULT: 2}
    counts = {p.name: p.rows for p in list_decision_partitions(pg_engine)}
    assert counts[name_of(2)] == 0 and counts[DEFAULT] == 2
    # The first instant of a month belongs to it, the last of the month before does not.
    year, number = month(1)
    start = datetime(year, number, 1, tzinfo=UTC)
    write(pg_engine, [row(start), row(start - timedelta(microseconds=1))])
    assert placement(pg_engine)[name_of(1)] == 3 and placement(pg_engine)[name_of(0)] == 2


@postgres
def test_ensure_ahead_is_idempotent_and_moves_decisions_out_of_default(pg_engine: Engine) -> None:
    assert ensure_decision_partitions(pg_engine) == []  # the migration created them
    early, later = row(in_month(6)), row(in_month(7))
    write(pg_engine, [row(in_month(0)), early, later])
    assert placement(pg_engine)[DEFAULT] == 2
    year, number = month(6)
    created = ensure_decision_partitions(
        pg_engine, now=datetime(year, number, 2, tzinfo=UTC), ahead=0
    )
    assert created == [name_of(6)]
    assert placement(pg_engine) == {name_of(0): 1, name_of(6): 1, DEFAULT: 1}
    assert ensure_decision_partitions(pg_engine, now=datetime(year, number, 2, tzinfo=UTC)) == [
        name_of(n) for n in (7, 8, 9)
    ]
    assert placement(pg_engine) == {name_of(0): 1, name_of(6): 1, name_of(7): 1}
    # Moved rows keep their ids: still unique, still found.
    assert keys(pg_engine) == 3
    assert write(pg_engine, [row(in_month(0), early["decision_id"])], skip_stored=True) == 0
    found = stored_decision(pg_engine, later["decision_id"])
    assert found is not None and found["decided_at"] == later["decided_at"]
    with pytest.raises(ValueError):
        ensure_decision_partitions(pg_engine, ahead=-1)


@postgres
def test_reads_stay_on_the_indexes(pg_engine: Engine) -> None:
    write(pg_engine, [row(in_month(n), break_glass=n == 0) for n in range(3)])
    queries = {
        "ix_decision_log_decision_id": "SELECT * FROM decision_log WHERE decision_id = 'x'",
        "ix_decision_log_org_time": (
            "SELECT count(*) FROM decision_log WHERE organisation_id = 'teststad' "
            "AND decided_at >= now() - interval '30 days'"
        ),
        "ix_decision_log_break_glass": (
            "SELECT count(*) FROM decision_log WHERE organisation_id = 'teststad' "
            "AND break_glass IS true AND decided_at >= now() - interval '30 days'"
        ),
    }
    with pg_engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))  # a tiny table is cheaper to scan
        for index, sql in queries.items():
            plan = " ".join(str(r[0]) for r in conn.execute(text(f"EXPLAIN {sql}")))
            assert index in plan, plan


# PostgreSQL: dropping months.


@postgres
def test_dropping_old_months_removes_their_decisions_and_frees_their_ids(
    pg_engine: Engine,
) -> None:
    old = [row(datetime(2025, 3, 10, tzinfo=UTC)), row(datetime(2025, 4, 10, tzinfo=UTC))]
    ancient = row(datetime(1990, 1, 1, tzinfo=UTC))
    current = row(in_month(0))
    with pg_engine.begin() as conn:
        for year, number in ((2025, 3), (2025, 4)):
            create_month(conn, year, number, DECISION_LOG)
    write(pg_engine, [*old, ancient, current])
    assert drop_months_before(pg_engine, datetime(2025, 4, 30, tzinfo=UTC)) == [
        DECISION_LOG.partition_name(2025, 3)
    ]
    assert drop_months_before(pg_engine, datetime(2025, 5, 1, tzinfo=UTC)) == [
        DECISION_LOG.partition_name(2025, 4)
    ]
    # DEFAULT is never dropped; this month is not due.
    assert placement(pg_engine) == {DEFAULT: 1, name_of(0): 1}
    assert keys(pg_engine) == 2
    assert stored_decision(pg_engine, old[0]["decision_id"]) is None
    # A dropped decision's id is free again, as after any deletion.
    assert write(pg_engine, [old[0]], skip_stored=True) == 1
    assert placement(pg_engine)[DEFAULT] == 2  # its month has gone


@postgres
def test_cli_lists_and_ensures_decision_partitions(
    monkeypatch: pytest.MonkeyPatch, pg_engine: Engine, postgres_url: str
) -> None:
    from glazenstad.cli import app
    from glazenstad.settings import get_settings

    write(pg_engine, [row(in_month(1)), row(in_month(1)), row(datetime(1990, 1, 1, tzinfo=UTC))])
    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["logbook", "partitions", "--ensure", "--ahead", "5"])
        assert result.exit_code == 0, result.output
        assert f"Created: {name_of(4)}, {name_of(5)}" in result.output
        lines = {
            line.split()[1]: line for line in result.output.splitlines() if "decision_log_" in line
        }
        assert lines[name_of(1)].split()[-2] == "2"
        assert lines[DEFAULT].split()[-2] == "1"
        again = runner.invoke(app, ["logbook", "partitions", "--ensure", "--ahead", "5"])
        assert "Every partition was there already." in again.output
    finally:
        get_settings.cache_clear()
