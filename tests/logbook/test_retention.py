"""Retention on SQLite and PostgreSQL: what is deleted and kept, receipts, verify, lateness, CLI.

Time is moved forward with the `now` parameter (`--now` on the command line), never by waiting.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, select, text, update
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from glazenstad.db.engine import make_engine, migrate
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.retention import (
    DELETED,
    DUE,
    NO_RETENTION_RULE,
    NOT_DUE,
    OUTCOME_ATTRIBUTE,
    UNKNOWN_ACTIVITY,
    WAITING_FOR_TRIGGER,
    apply_retention,
    last_run,
    retention_status,
)
from glazenstad.logbook.store import LogStore
from glazenstad.logbook.tables import (
    GENESIS_HASH,
    log_deletion_range,
    log_deletion_receipt,
    log_record,
    log_retention_run,
)
from glazenstad.logbook.verify import ChainBreak, verify
from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from tests.conftest import TEST_REGISTER
from tests.logbook.conftest import (
    ACTIVITY,
    ORG,
    lift_append_only_guard,
    make_record,
)
from tests.logbook.conftest import (
    UNKNOWN_ACTIVITY as UNKNOWN_URI,
)

BASE = "https://register.teststad.example/processing-activities/"
PARKEREN = ACTIVITY  # betaald PT24H; onbetaald: trigger + P6M
WMO = BASE + "wmo-maatwerk"  # standaard P15Y
ARCHIEF = BASE + "archief"  # kort P1D, lang P10D
ZONDER = BASE + "zonder-bewaartermijn"  # no retention rules

ACTIVITY_TEMPLATE = """kind: processing-activity
id: {id}
name: {name}
description: Testactiviteit.
purposes: [Testen]
legal_basis:
  avg_ground: e
  explanation: Een wettelijke taak.
data_subject_categories: [Inwoners]
data_categories: [bsn]
{retention}dpia:
  status: niet-nodig
owner: Afdeling Test
"""


def write_register(root: Path, *, betaald: str = "PT24H") -> Path:
    if not root.exists():
        shutil.copytree(TEST_REGISTER, root)
    activities = root / "teststad" / "activities"
    (activities / "archief.yaml").write_text(
        ACTIVITY_TEMPLATE.format(
            id="archief",
            name="Archief",
            retention="retention:\n  - outcome: kort\n    period: P1D\n"
            "  - outcome: lang\n    period: P10D\n",
        )
    )
    (activities / "zonder.yaml").write_text(
        ACTIVITY_TEMPLATE.format(id="zonder-bewaartermijn", name="Zonder", retention="")
    )
    parkeren = activities / "parkeren.yaml"
    text_ = parkeren.read_text()
    start = text_.index("  - outcome: betaald\n    period: ")
    end = text_.index("\n", start + len("  - outcome: betaald\n"))
    parkeren.write_text(
        text_[:start] + f"  - outcome: betaald\n    period: {betaald}" + text_[end:]
    )
    return root


@pytest.fixture
def register_dir(tmp_path: Path) -> Path:
    return write_register(tmp_path / "register")


@pytest.fixture
def rstore(engine: Engine, register_dir: Path, pseudonymizer: Pseudonymizer) -> LogStore:
    load_register(engine, register_dir, approved_by="test-approver")
    time.sleep(0.002)  # records made "now" start after the register versions were recorded
    return LogStore(engine, RegisterStore(engine), pseudonymizer)


def record(activity: str = PARKEREN, outcome: str | None = None) -> dict[str, Any]:
    attributes: dict[str, Any] = {"dpl.core.processing_activity_id": activity}
    if outcome is not None:
        attributes[OUTCOME_ATTRIBUTE] = outcome
    return make_record(attributes=attributes)


def remaining(engine: Engine, org: str = ORG) -> list[int]:
    with engine.connect() as conn:
        query = (
            select(log_record.c.sequence)
            .where(log_record.c.organisation_id == org)
            .order_by(log_record.c.sequence)
        )
        return [int(s) for s in conn.execute(query).scalars()]


def rows(engine: Engine) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        query = select(log_record).where(log_record.c.organisation_id == ORG)
        return {int(r.sequence): dict(r._mapping) for r in conn.execute(query)}


def receipts(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        result = []
        for r in conn.execute(select(log_deletion_receipt).order_by(log_deletion_receipt.c.id)):
            spans = conn.execute(
                select(log_deletion_range)
                .where(log_deletion_range.c.receipt_id == r.id)
                .order_by(log_deletion_range.c.first_sequence)
            )
            result.append({**r._mapping, "ranges": [dict(s._mapping) for s in spans]})
        return result


def later(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


# The mixed chain: sequence -> (activity, outcome) and what happens two days later.
MIXED = [
    (PARKEREN, "betaald"),  # 1: PT24H -> deleted (pruned chain start)
    (PARKEREN, "onbetaald"),  # 2: trigger -> waiting
    (PARKEREN, None),  # 3: default; a rule has a trigger -> waiting
    (ARCHIEF, None),  # 4: default = longest (P10D) -> not due
    (ARCHIEF, "kort"),  # 5: P1D -> deleted (gap in the middle)
    (UNKNOWN_URI, None),  # 6: not in the register -> kept
    (ZONDER, None),  # 7: no retention rules -> kept
    (WMO, None),  # 8: P15Y -> not due
    (ARCHIEF, "onbekend"),  # 9: unknown outcome -> longest (P10D) -> not due
    (PARKEREN, "betaald"),  # 10: deleted
    (PARKEREN, "betaald"),  # 11: deleted (pruned tail: the chain head is 11)
]


@pytest.fixture
def mixed(rstore: LogStore) -> LogStore:
    result = rstore.ingest(ORG, [record(a, o) for a, o in MIXED])
    assert result.accepted == len(MIXED) and result.unknown_activity == 1
    rstore.ingest("anderstad", [record(PARKEREN, "betaald")])
    return rstore


def test_expired_records_are_deleted_others_kept_and_verify_passes(mixed: LogStore) -> None:
    engine = mixed.engine
    before = rows(engine)
    report = apply_retention(engine, organisation_id=ORG, now=later(days=2))
    assert remaining(engine) == [2, 3, 4, 6, 7, 8, 9]
    assert report.deleted == report.due == 4 and report.examined == 11
    assert report.per_activity[PARKEREN] == {DELETED: 3, WAITING_FOR_TRIGGER: 2}
    assert report.per_activity[ARCHIEF] == {DELETED: 1, NOT_DUE: 2}
    assert report.per_activity[UNKNOWN_URI] == {UNKNOWN_ACTIVITY: 1}
    assert report.per_activity[ZONDER] == {NO_RETENTION_RULE: 1}
    assert report.per_activity[WMO] == {NOT_DUE: 1}
    assert report.kept == {
        WAITING_FOR_TRIGGER: 2,
        NOT_DUE: 3,
        UNKNOWN_ACTIVITY: 1,
        NO_RETENTION_RULE: 1,
    }
    assert report.unknown_outcome == 1
    assert remaining(engine, "anderstad") == [1]  # only this organisation was examined

    (receipt,) = receipts(engine)
    assert (receipt["receipt_number"], receipt["deleted"]) == (1, 4)
    assert (receipt["first_sequence"], receipt["last_sequence"]) == (1, 11)
    assert receipt["prev_receipt_hash"] == GENESIS_HASH
    assert receipt["by_activity"] == {PARKEREN: 3, ARCHIEF: 1}
    spans = [(s["first_sequence"], s["last_sequence"], s["count"]) for s in receipt["ranges"]]
    assert spans == [(1, 1, 1), (5, 5, 1), (10, 11, 2)]
    first, middle, tail = receipt["ranges"]
    assert first["first_prev_hash"] == GENESIS_HASH
    assert first["last_hash"] == before[1]["record_hash"]
    assert middle["first_prev_hash"] == before[4]["record_hash"]
    assert middle["last_hash"] == before[5]["record_hash"]
    assert (tail["first_prev_hash"], tail["last_hash"]) == (
        before[9]["record_hash"],
        before[11]["record_hash"],
    )

    result = verify(engine)
    assert result.ok, result.first_break
    assert result.records == 8 and result.pruned == 4


def test_later_runs_fill_adjacent_gaps_and_repeat_nothing(mixed: LogStore) -> None:
    engine = mixed.engine
    apply_retention(engine, now=later(days=2))
    again = apply_retention(engine, now=later(days=2))
    assert again.deleted == 0 and again.receipts == []
    # anderstad's record names teststad's activity: unknown to anderstad, kept, no receipt.
    assert len(receipts(engine)) == 1
    eleven = apply_retention(engine, organisation_id=ORG, now=later(days=11))
    assert eleven.deleted == 2  # 4 (longest of archief) and 9 (unknown outcome -> longest)
    assert remaining(engine) == [2, 3, 6, 7, 8]
    ours = [r for r in receipts(engine) if r["organisation_id"] == ORG]
    assert [r["receipt_number"] for r in ours] == [1, 2]
    assert ours[1]["prev_receipt_hash"] == ours[0]["receipt_hash"]
    assert [(s["first_sequence"], s["last_sequence"]) for s in ours[1]["ranges"]] == [
        (4, 4),
        (9, 9),
    ]
    # Sequences 4 and 5 (two receipts) and 9 to 11 (two receipts) are each one gap now.
    result = verify(engine)
    assert result.ok, result.first_break
    assert result.pruned == 6


def test_retention_follows_the_register_version_at_the_records_time(
    engine: Engine, tmp_path: Path, pseudonymizer: Pseudonymizer
) -> None:
    root = write_register(tmp_path / "register")
    load_register(engine, root, approved_by="test-approver")
    time.sleep(0.002)
    store = LogStore(engine, RegisterStore(engine), pseudonymizer)
    store.ingest(ORG, [record(PARKEREN, "betaald")])
    load_register(engine, write_register(root, betaald="P30D"), approved_by="test-approver")
    time.sleep(0.002)
    store.ingest(ORG, [record(PARKEREN, "betaald")])
    assert [rows(engine)[s]["activity_version"] for s in (1, 2)] == [1, 2]
    report = apply_retention(engine, now=later(days=2))
    assert report.deleted == 1 and remaining(engine) == [2]
    assert apply_retention(engine, now=later(days=31)).deleted == 1
    assert remaining(engine) == [] and verify(engine).ok


def test_dry_run_deletes_nothing(mixed: LogStore) -> None:
    engine = mixed.engine
    report = apply_retention(engine, organisation_id=ORG, now=later(days=2), dry_run=True)
    assert report.dry_run and report.deleted == 0 and report.due == 4
    assert report.per_activity[PARKEREN][DUE] == 3
    assert [r.ranges for r in report.receipts] == [[(1, 1), (5, 5), (10, 11)]]
    assert len(remaining(engine)) == 11
    assert receipts(engine) == [] and last_run(engine) is None
    assert verify(engine).ok


def test_batches_commit_one_receipt_each(rstore: LogStore) -> None:
    engine = rstore.engine
    rstore.ingest(ORG, [record(PARKEREN, "betaald") for _ in range(5)])
    report = apply_retention(engine, now=later(days=2), batch_size=2)
    assert report.deleted == 5 and [r.deleted for r in report.receipts] == [2, 2, 1]
    stored = receipts(engine)
    assert [(r["first_sequence"], r["last_sequence"]) for r in stored] == [(1, 2), (3, 4), (5, 5)]
    assert [r["receipt_number"] for r in stored] == [1, 2, 3]
    assert remaining(engine) == []
    result = verify(engine)
    assert result.ok and result.records == 0 and result.pruned == 5
    rstore.ingest(ORG, [record(WMO)])  # the chain goes on after being emptied
    result = verify(engine)
    assert result.ok and result.records == 1


def test_lateness_is_measured_stored_and_reported(mixed: LogStore) -> None:
    engine = mixed.engine
    now = later(days=3)
    before = rows(engine)
    status = retention_status(engine, ORG, now=now)
    assert status.overdue == 4 and status.last_run is None
    assert status.overdue_max_ms is not None and status.overdue_max_ms > 0

    report = apply_retention(engine, organisation_id=ORG, now=now)
    now_ms = int(now.timestamp() * 1000)
    expected = sorted(
        now_ms - before[s]["end_time_ms"] - int(timedelta(days=d).total_seconds() * 1000)
        for s, d in ((1, 1), (5, 1), (10, 1), (11, 1))
    )
    lateness = report.lateness
    assert lateness is not None and lateness.count == 4
    assert abs(lateness.max_ms - expected[-1]) <= 1  # now has microseconds, records ms
    assert lateness.max_ms >= lateness.p95_ms >= lateness.median_ms >= 0
    assert lateness.median_ms >= timedelta(days=1, hours=23).total_seconds() * 1000
    assert status.overdue_max_ms == lateness.max_ms

    (receipt,) = receipts(engine)
    assert receipt["lateness_max_ms"] == lateness.max_ms
    assert receipt["lateness_p95_ms"] == lateness.p95_ms
    assert receipt["lateness_median_ms"] == lateness.median_ms

    after = retention_status(engine, ORG, now=now)
    assert after.overdue == 0 and after.overdue_max_ms is None
    run = after.last_run
    assert run is not None and run.run_id == report.run_id
    assert (run.deleted, run.receipts, run.examined) == (4, 1, 11)
    assert run.lateness == lateness
    assert run.kept == dict(report.kept)
    assert run.ran_at == now

    # A run later on the same records measures a later deletion as later.
    mixed.ingest(ORG, [record(PARKEREN, "betaald")])
    late = apply_retention(engine, organisation_id=ORG, now=later(days=5))
    assert late.lateness is not None and late.lateness.max_ms > lateness.max_ms


def test_run_with_nothing_due_is_recorded(rstore: LogStore) -> None:
    rstore.ingest(ORG, [record(WMO)])
    report = apply_retention(rstore.engine)
    assert report.deleted == 0 and report.lateness is None
    run = last_run(rstore.engine, ORG)
    assert run is not None and run.deleted == 0 and run.lateness is None
    assert run.kept == {NOT_DUE: 1}


# Tampering: as someone who owns the tables, with the append-only guards lifted.


def lift_receipt_guard(conn: Connection) -> None:
    for table in ("log_deletion_receipt", "log_deletion_range"):
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        else:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
            conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))


def tamper(engine: Engine, *statements: Any) -> None:
    with engine.begin() as conn:
        lift_append_only_guard(conn)
        lift_receipt_guard(conn)
        for statement in statements:
            conn.execute(statement)


def broken(engine: Engine) -> ChainBreak:
    result = verify(engine, ORG)
    assert not result.ok
    first = result.first_break
    assert first is not None
    return first


@pytest.fixture
def pruned(mixed: LogStore) -> LogStore:
    apply_retention(mixed.engine, organisation_id=ORG, now=later(days=2))
    assert verify(mixed.engine).ok
    return mixed


def test_deleted_without_receipt_breaks(pruned: LogStore) -> None:
    kept = rows(pruned.engine)
    tamper(
        pruned.engine,
        delete(log_record).where(log_record.c.organisation_id == ORG, log_record.c.sequence == 3),
    )
    first = broken(pruned.engine)
    assert (first.sequence, first.span_id) == (4, kept[4]["span_id"])
    assert "sequence 3 missing" in first.problem and "no deletion receipt" in first.problem


def test_deleted_next_to_a_receipt_gap_breaks(pruned: LogStore) -> None:
    # Widening a receipted gap (5) by one record (6) is not covered by the receipt.
    tamper(
        pruned.engine,
        delete(log_record).where(log_record.c.organisation_id == ORG, log_record.c.sequence == 6),
    )
    first = broken(pruned.engine)
    assert first.sequence == 7 and "sequence 6 missing" in first.problem


def test_deleted_tail_without_receipt_breaks(pruned: LogStore) -> None:
    tamper(
        pruned.engine,
        delete(log_record).where(log_record.c.organisation_id == ORG, log_record.c.sequence == 9),
    )
    first = broken(pruned.engine)
    assert first.sequence == 8 and "head is at 11" in first.problem


@pytest.mark.parametrize("anchor", ["first_prev_hash", "last_hash"])
def test_altered_receipt_anchor_breaks(pruned: LogStore, anchor: str) -> None:
    kept = rows(pruned.engine)
    tamper(
        pruned.engine,
        update(log_deletion_range)
        .where(log_deletion_range.c.first_sequence == 5)
        .values({anchor: "f" * 64}),
    )
    # An altered receipt is not trusted at all: its first gap is the first break.
    first = broken(pruned.engine)
    assert (first.sequence, first.span_id) == (2, kept[2]["span_id"])
    assert "sequence 1 missing" in first.problem
    assert "deletion receipt 1 does not match its hash" in first.problem


def test_altered_receipt_with_recomputed_hash_breaks(pruned: LogStore) -> None:
    from glazenstad.logbook.receipts import receipt_hash

    (receipt,) = [r for r in receipts(pruned.engine) if r["organisation_id"] == ORG]
    spans = [
        {**s, "last_hash": "f" * 64} if s["first_sequence"] == 5 else s for s in receipt["ranges"]
    ]
    forged = receipt_hash(receipt, spans)
    tamper(
        pruned.engine,
        update(log_deletion_range)
        .where(
            log_deletion_range.c.organisation_id == ORG,
            log_deletion_range.c.first_sequence == 5,
        )
        .values(last_hash="f" * 64),
        update(log_deletion_receipt)
        .where(log_deletion_receipt.c.id == receipt["id"])
        .values(receipt_hash=forged),
    )
    first = broken(pruned.engine)
    assert first.sequence == 6 and "last hash of deletion receipt 1" in first.problem


def test_removed_receipt_breaks(pruned: LogStore) -> None:
    (receipt,) = [r for r in receipts(pruned.engine) if r["organisation_id"] == ORG]
    tamper(
        pruned.engine,
        delete(log_deletion_range).where(log_deletion_range.c.receipt_id == receipt["id"]),
        delete(log_deletion_receipt).where(log_deletion_receipt.c.id == receipt["id"]),
    )
    first = broken(pruned.engine)
    assert first.sequence == 2 and "sequence 1 missing" in first.problem


def test_removed_earlier_receipt_breaks(pruned: LogStore) -> None:
    apply_retention(pruned.engine, organisation_id=ORG, now=later(days=11))
    assert verify(pruned.engine).ok
    first_receipt = receipts(pruned.engine)[0]
    assert first_receipt["organisation_id"] == ORG and first_receipt["receipt_number"] == 1
    tamper(
        pruned.engine,
        delete(log_deletion_range).where(log_deletion_range.c.receipt_id == first_receipt["id"]),
        delete(log_deletion_receipt).where(log_deletion_receipt.c.id == first_receipt["id"]),
    )
    first = broken(pruned.engine)
    assert first.sequence == 2 and "sequence 1 missing" in first.problem
    assert "deletion receipt 1 is missing" in first.problem


def test_receipt_for_records_still_present_breaks(pruned: LogStore) -> None:
    # A forged extra range claims records 7 and 8 were deleted while they are still there.
    (receipt,) = [r for r in receipts(pruned.engine) if r["organisation_id"] == ORG]
    kept = rows(pruned.engine)
    with pruned.engine.begin() as conn:
        conn.execute(
            log_deletion_range.insert().values(
                receipt_id=receipt["id"],
                organisation_id=ORG,
                chain_partition="main",
                first_sequence=7,
                last_sequence=8,
                count=2,
                first_prev_hash=kept[6]["record_hash"],
                last_hash=kept[8]["record_hash"],
            )
        )
    first = broken(pruned.engine)
    assert "deletion receipt 1 does not match its hash" in first.problem


def test_receipts_are_append_only(pruned: LogStore) -> None:
    for statement in (
        "UPDATE log_deletion_receipt SET deleted = 0",
        "DELETE FROM log_deletion_receipt",
        "UPDATE log_deletion_range SET count = 0",
        "DELETE FROM log_deletion_range",
        "DELETE FROM log_retention_run",
    ):
        with pytest.raises(DatabaseError, match="append-only"), pruned.engine.begin() as conn:
            conn.execute(text(statement))
    assert verify(pruned.engine).ok


def test_a_delete_outside_the_retention_job_is_refused(pruned: LogStore) -> None:
    """SQLite: no receipt covers sequence 2; PostgreSQL: the job's SET LOCAL is missing."""
    with pytest.raises(DatabaseError, match="append-only"), pruned.engine.begin() as conn:
        conn.execute(text("DELETE FROM log_record WHERE sequence = 2"))
    assert remaining(pruned.engine) == [2, 3, 4, 6, 7, 8, 9]


# The command line.

runner = CliRunner()


@pytest.fixture
def cli_database(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path, pseudonymizer: Pseudonymizer
) -> Iterator[Engine]:
    from glazenstad.settings import get_settings

    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", database_url)
    get_settings.cache_clear()
    engine = make_engine(database_url)
    migrate(engine)
    load_register(engine, write_register(tmp_path / "register"), approved_by="test-approver")
    time.sleep(0.002)
    store = LogStore(engine, RegisterStore(engine), pseudonymizer)
    store.ingest(ORG, [record(a, o) for a, o in MIXED])
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def test_cli_retention(cli_database: Engine) -> None:
    from glazenstad.cli import app

    moment = later(days=2, minutes=1).isoformat()
    dry = runner.invoke(app, ["logbook", "retention", "--dry-run", "--now", moment])
    assert dry.exit_code == 0, dry.output
    assert "dry run" in dry.output and "4 would delete" in dry.output
    assert len(remaining(cli_database)) == 11

    result = runner.invoke(app, ["logbook", "retention", "--organisation", ORG, "--now", moment])
    assert result.exit_code == 0, result.output
    assert "11 record(s) examined, 4 deleted, 7 kept, 1 receipt(s)" in result.output
    assert f"Kept ({WAITING_FOR_TRIGGER}): 2" in result.output
    assert f"Kept ({UNKNOWN_ACTIVITY}): 1" in result.output
    assert "receipt 1: 4 record(s), sequences 1, 5, 10-11" in result.output
    assert "Lateness after expiry: max 1d" in result.output
    assert remaining(cli_database) == [2, 3, 4, 6, 7, 8, 9]
    with cli_database.connect() as conn:
        assert conn.execute(select(log_retention_run.c.deleted)).scalars().all() == [4]

    checked = runner.invoke(app, ["logbook", "verify"])
    assert checked.exit_code == 0, checked.output
    assert "7 record(s), 4 deleted by retention with receipts, intact" in checked.output

    again = runner.invoke(app, ["logbook", "retention", "--now", moment])
    assert again.exit_code == 0 and "0 deleted" in again.output
    assert "nothing was due" in again.output

    bad = runner.invoke(app, ["logbook", "retention", "--now", "gisteren"])
    assert bad.exit_code == 2 and "--now" in bad.output


def test_rehashed_receipt_claiming_present_records_breaks(pruned: LogStore) -> None:
    from glazenstad.logbook.receipts import receipt_hash

    (receipt,) = [r for r in receipts(pruned.engine) if r["organisation_id"] == ORG]
    kept = rows(pruned.engine)
    extra = {
        "first_sequence": 7,
        "last_sequence": 8,
        "count": 2,
        "first_prev_hash": kept[6]["record_hash"],
        "last_hash": kept[8]["record_hash"],
    }
    tamper(
        pruned.engine,
        log_deletion_range.insert().values(
            receipt_id=receipt["id"], organisation_id=ORG, chain_partition="main", **extra
        ),
        update(log_deletion_receipt)
        .where(log_deletion_receipt.c.id == receipt["id"])
        .values(
            deleted=receipt["deleted"] + 2,
            receipt_hash=receipt_hash(
                {**receipt, "deleted": receipt["deleted"] + 2}, [*receipt["ranges"], extra]
            ),
        ),
    )
    first = broken(pruned.engine)
    assert first.sequence is None
    assert "covers sequences 7 to 8, which do not form a deleted gap" in first.problem


def test_cli_retention_every_keeps_running_on_schedule(
    cli_database: Engine, database_url: str, tmp_path: Path
) -> None:
    """`--every` runs the job again and again in one process; each run is recorded."""
    import os
    import signal
    import subprocess
    import sys

    moment = later(days=2, minutes=1).isoformat()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLAZENSTAD_")}
    env |= {"GLAZENSTAD_DATABASE_URL": database_url, "GLAZENSTAD_DATA_DIR": str(tmp_path)}
    command = [
        sys.executable,
        "-c",
        "from glazenstad.cli import app; app()",
        "logbook",
        "retention",
    ]
    job = subprocess.Popen(
        [*command, "--now", moment, "--every", "0.2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        runs: list[int] = []
        while len(runs) < 3:
            assert job.poll() is None, job.communicate()[0]
            assert time.monotonic() < deadline, "fewer than three runs within a minute"
            time.sleep(0.1)
            with cli_database.connect() as conn:
                runs = list(conn.execute(select(log_retention_run.c.deleted)).scalars())
    finally:
        job.send_signal(signal.SIGTERM)
        job.wait(timeout=30)
    assert runs[:3] == [4, 0, 0]  # the first run deleted what was due, the next found nothing
    assert remaining(cli_database) == [2, 3, 4, 6, 7, 8, 9]
    assert verify(cli_database).ok
