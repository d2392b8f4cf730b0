"""Backup and restore on SQLite and PostgreSQL: a real register, policy and logbook (with
retention gaps) backed up, also while a thread keeps ingesting, restored into a new database,
and checked with `verify` and against the source; damaged backups and occupied targets refused;
the command line end to end."""

from __future__ import annotations

import stat
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, func, select, text
from typer.testing import CliRunner

from glazenstad.cli import app
from glazenstad.db.backup import (
    MANIFEST,
    POSTGRES_FILE,
    SQLITE_FILE,
    BackupError,
    create_backup,
    head_revision,
    libpq_environment,
    restore_backup,
    sha256_file,
    target_contents,
    tool_command,
)
from glazenstad.db.engine import alembic_config, make_engine, migrate
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.retention import OUTCOME_ATTRIBUTE, apply_retention
from glazenstad.logbook.store import LogStore
from glazenstad.logbook.tables import log_chain_head, log_deletion_receipt, log_record
from glazenstad.logbook.verify import verify
from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from glazenstad.register.tables import register_entry_version, register_load
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.store import PolicyStore
from glazenstad.rules.tables import policy_event, policy_version
from tests.conftest import DEMO_REGISTER, PG_ADMIN_URL, ROOT, require_postgres

DEMO_POLICIES = ROOT / "demo" / "policies"
ORG = "voorbeeldstad"
SCAN = "https://register.voorbeeldstad.example/processing-activities/parkeerhandhaving-scanauto"
WMO = "https://register.voorbeeldstad.example/processing-activities/wmo-maatwerkvoorziening"

runner = CliRunner()


# --- databases ------------------------------------------------------------------------------


@contextmanager
def new_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database with a unique name, dropped afterwards."""
    require_postgres()
    name = f"gs_restore_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def target_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind as `database_url` to restore into."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'glazenstad.sqlite3'}"
        return
    with new_postgres_database() as url:
        yield url


@pytest.fixture
def source(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@contextmanager
def opened(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


# --- populating for real --------------------------------------------------------------------


def record(activity: str = SCAN, outcome: str | None = "betaald") -> dict[str, Any]:
    now = int(time.time() * 1000)
    attributes: dict[str, Any] = {
        "dpl.core.processing_activity_id": activity,
        "dpl.core.data_subject_id": "999993653",
        "dpl.core.data_subject_id_type": "BSN",
    }
    if outcome is not None:
        attributes[OUTCOME_ATTRIBUTE] = outcome
    return {
        "trace_id": uuid.uuid4().hex,
        "span_id": uuid.uuid4().hex[:16],
        "name": "Scanauto controleert kenteken",
        "start_time": now,
        "end_time": now + 5,
        "status": "Ok",
        "resource": {"attributes": {"service.name": "scanauto"}},
        "attributes": attributes,
    }


def logbook(engine: Engine) -> LogStore:
    return LogStore(engine, RegisterStore(engine), Pseudonymizer.demo())


def populate(engine: Engine) -> None:
    """The demo register, the demo policies stored and activated, log records in chains with
    retention gaps and a deletion receipt."""
    load_register(engine, DEMO_REGISTER, loaded_by="author", approved_by="reviewer")
    store = PolicyStore(engine)
    for loaded in parse_policies(DEMO_POLICIES).policies:
        version, _ = store.save(loaded.policy, by="author")
        store.activate(version.organisation_id, version.content_hash, by="reviewer")
    time.sleep(0.002)  # records made "now" start after the register versions were recorded
    log = logbook(engine)
    for _ in range(3):
        batch = [record(SCAN, "betaald" if n % 3 else "onbetaald") for n in range(30)]
        assert log.ingest(ORG, [*batch, record(WMO, None)]).accepted == 31
    assert log.ingest("duinwijk", [record(SCAN) for _ in range(5)]).accepted == 5
    # Paid scans are deleted after 24 hours: gaps in the chain, covered by a receipt.
    report = apply_retention(engine, now=datetime.now(UTC) + timedelta(days=2))
    assert report.deleted > 0
    assert verify(engine).ok


def rows(engine: Engine, table: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key))]


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def chain_heads(engine: Engine) -> list[dict[str, Any]]:
    h = log_chain_head
    with engine.connect() as conn:
        query = select(h.c.organisation_id, h.c.chain_partition, h.c.last_sequence, h.c.last_hash)
        return [
            {**r._mapping, "last_sequence": int(r.last_sequence)}
            for r in conn.execute(query.order_by(h.c.organisation_id, h.c.chain_partition))
        ]


def data_file(directory: Path) -> Path:
    return directory / (SQLITE_FILE if (directory / SQLITE_FILE).exists() else POSTGRES_FILE)


# --- round trip -----------------------------------------------------------------------------


def test_backup_restores_into_an_empty_database_intact(
    source: Engine, database_url: str, target_url: str, tmp_path: Path
) -> None:
    populate(source)
    steps: list[str] = []
    directory = tmp_path / "back up #1"  # any path works
    manifest = create_backup(database_url, directory, progress=steps.append)

    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert manifest["database"]["kind"] == kind
    assert manifest["schema_revision"] == head_revision()
    (entry,) = manifest["files"]
    assert entry["sha256"] == sha256_file(directory / entry["name"])
    assert entry["bytes"] == (directory / entry["name"]).stat().st_size
    for table in (log_record, log_chain_head, log_deletion_receipt, register_entry_version):
        assert manifest["tables"][table.name] == count(source, table)
    assert manifest["chain_heads"] == chain_heads(source)
    assert manifest["receipt_heads"] and manifest["register_versions"]["count"] > 0
    assert manifest["policy_versions"]["count"] == count(source, policy_version)
    assert any("SHA-256" in s for s in steps)
    if kind == "postgresql":
        assert any("dumping contents of table" in s for s in steps)

    restored = restore_backup(target_url, directory)
    assert restored.ok, (restored.mismatches, restored.verified.first_break)
    assert restored.dropped == {}
    with opened(target_url) as target:
        result, original = verify(target), verify(source)
        assert result.ok, result.first_break
        assert (result.records, result.pruned) == (original.records, original.pruned)
        assert result.pruned > 0  # the retention gaps crossed with receipts
        for table in (
            register_load,
            register_entry_version,
            policy_version,
            policy_event,
            log_chain_head,
            log_deletion_receipt,
            log_record,
        ):
            assert rows(target, table) == rows(source, table), table.name
        for name, expected in manifest["tables"].items():
            with target.connect() as conn:
                found = conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            assert found == expected, name
        assert PolicyStore(target).active() and [
            (v.organisation_id, v.content_hash, v.status) for v in PolicyStore(target).versions()
        ] == [(v.organisation_id, v.content_hash, v.status) for v in PolicyStore(source).versions()]


def test_a_backup_taken_while_ingesting_is_consistent(
    source: Engine, database_url: str, target_url: str, tmp_path: Path
) -> None:
    load_register(source, DEMO_REGISTER, loaded_by="author", approved_by="reviewer")
    time.sleep(0.002)
    log = logbook(source)
    stop = threading.Event()
    batches = [0]
    failures: list[BaseException] = []

    def ingest() -> None:
        try:
            while not stop.is_set():
                result = log.ingest(ORG, [record(SCAN, "onbetaald") for _ in range(40)])
                assert result.accepted == 40
                batches[0] += 1
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    def wait_for(done: int) -> None:
        deadline = time.monotonic() + 60
        while batches[0] < done and not failures:
            assert time.monotonic() < deadline, "the ingest thread made no progress"
            time.sleep(0.01)

    writer = threading.Thread(target=ingest, daemon=True)
    writer.start()
    try:
        wait_for(3)
        before = count(source, log_record)
        manifest = create_backup(database_url, tmp_path / "backup")
        wait_for(batches[0] + 2)  # the writer went on after the backup
    finally:
        stop.set()
        writer.join(timeout=60)
    assert not failures, failures
    in_backup = manifest["tables"]["log_record"]
    assert before <= in_backup < count(source, log_record)
    assert in_backup % 40 == 0  # whole batches only: no transaction half in the backup

    restored = restore_backup(target_url, tmp_path / "backup")
    assert restored.ok, (restored.mismatches, restored.verified.first_break)
    with opened(target_url) as target:
        result = verify(target)
        assert result.ok, result.first_break
        assert result.records == count(target, log_record) == in_backup
        assert chain_heads(target) == manifest["chain_heads"]


# --- refusals -------------------------------------------------------------------------------


def test_a_tampered_backup_is_refused_before_the_target_is_touched(
    source: Engine, database_url: str, target_url: str, tmp_path: Path
) -> None:
    populate(source)
    directory = tmp_path / "backup"
    create_backup(database_url, directory)
    path = data_file(directory)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BackupError) as refused:
        restore_backup(target_url, directory)
    message = str(refused.value)
    assert path.name in message and "SHA-256" in message and "nothing was restored" in message
    assert target_contents(target_url) == {}

    (directory / MANIFEST).unlink()
    with pytest.raises(BackupError, match=r"manifest\.json: missing"):
        restore_backup(target_url, directory)


def test_restore_into_a_database_with_data_needs_replace(
    source: Engine, database_url: str, target_url: str, tmp_path: Path
) -> None:
    populate(source)
    directory = tmp_path / "backup"
    create_backup(database_url, directory)
    assert restore_backup(target_url, directory).ok
    with opened(target_url) as target:
        logbook(target).ingest(ORG, [record(SCAN, "onbetaald")])  # data of its own
        extra = count(target, log_record)

    with pytest.raises(BackupError) as refused:
        restore_backup(target_url, directory)
    message = str(refused.value)
    assert "--replace" in message and f"log_record {extra:,}" in message
    with opened(target_url) as target:
        assert count(target, log_record) == extra  # untouched

    replaced = restore_backup(target_url, directory, replace=True)
    assert replaced.ok, (replaced.mismatches, replaced.verified.first_break)
    assert replaced.dropped["log_record"] == extra
    with opened(target_url) as target:
        assert count(target, log_record) == count(source, log_record) == extra - 1
        assert rows(target, register_entry_version) == rows(source, register_entry_version)


def test_a_target_with_an_empty_schema_counts_as_empty(
    source: Engine, database_url: str, target_url: str, tmp_path: Path
) -> None:
    populate(source)
    create_backup(database_url, tmp_path / "backup")
    with opened(target_url) as target:
        migrate(target)  # e.g. a server was started on it once
    restored = restore_backup(target_url, tmp_path / "backup")
    assert restored.ok and "log_record" in restored.dropped


def test_a_backup_of_an_older_schema_restores_and_is_migrated(
    source: Engine, database_url: str, target_url: str, tmp_path: Path
) -> None:
    populate(source)
    command.downgrade(alembic_config(source), "0006")
    manifest = create_backup(database_url, tmp_path / "backup")
    assert manifest["schema_revision"] == "0006"
    restored = restore_backup(target_url, tmp_path / "backup")
    assert restored.revision_before == "0006"
    assert restored.revision_after == head_revision() != "0006"
    assert restored.ok, (restored.mismatches, restored.verified.first_break)
    with opened(target_url) as target:
        assert verify(target).ok
        assert rows(target, register_entry_version) == rows(source, register_entry_version)


def test_a_backup_goes_into_a_new_or_empty_directory(
    source: Engine, database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        create_backup(database_url, tmp_path / "full")


def test_restoring_into_another_kind_of_database_is_refused(
    source: Engine, database_url: str, tmp_path: Path
) -> None:
    create_backup(database_url, tmp_path / "backup")
    other = (
        "postgresql+psycopg://postgres@127.0.0.1:5432/unused"
        if database_url.startswith("sqlite")
        else f"sqlite:///{tmp_path / 'other.sqlite3'}"
    )
    with pytest.raises(BackupError, match="Restore into the same kind of database"):
        restore_backup(other, tmp_path / "backup")


# --- PostgreSQL client tools ----------------------------------------------------------------


def test_passwords_stay_out_of_the_process_list() -> None:
    url = "postgresql+psycopg://glazenstad:s3cr%40t@db.example:6543/stad?sslmode=require"
    argv, env = tool_command("pg_dump", url, "--format=custom")
    assert not any("s3cr" in argument for argument in argv)
    assert env["PGPASSWORD"] == "s3cr@t"
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"]) == (
        "db.example",
        "6543",
        "glazenstad",
        "stad",
    )
    assert env["PGSSLMODE"] == "require"
    with pytest.raises(BackupError, match="'sslfoo' has no pg_dump equivalent"):
        libpq_environment("postgresql+psycopg://u@h/d?sslfoo=1")


@pytest.mark.postgres
def test_a_missing_or_too_old_pg_dump_is_named(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with opened(postgres_url) as engine:
        migrate(engine)
    tools = tmp_path / "bin"
    tools.mkdir()
    monkeypatch.setenv("PATH", str(tools))
    with pytest.raises(BackupError, match="pg_dump not found on PATH"):
        create_backup(postgres_url, tmp_path / "one")
    old = tools / "pg_dump"
    old.write_text('#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n')
    old.chmod(old.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(BackupError) as refused:
        create_backup(postgres_url, tmp_path / "two")
    assert not (tmp_path / "two").exists()  # nothing half-made left behind
    message = str(refused.value)
    assert "pg_dump 9.6.24" in message and "older than the PostgreSQL server" in message
    with opened(postgres_url) as engine, engine.connect() as conn:
        server = str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
    assert f"({server})" in message


# --- the command line -----------------------------------------------------------------------


def use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    from glazenstad.settings import get_settings

    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", url)
    get_settings.cache_clear()


@pytest.fixture
def clean_settings() -> Iterator[None]:
    from glazenstad.settings import get_settings

    yield
    get_settings.cache_clear()


def test_command_line_backup_and_restore(
    source: Engine,
    database_url: str,
    target_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_settings: None,
) -> None:
    populate(source)
    directory = tmp_path / "backup"
    use_database(monkeypatch, database_url)
    created = runner.invoke(app, ["backup", "create", str(directory)])
    assert created.exit_code == 0, created.output
    records = count(source, log_record)
    assert f"{records:,} log record(s)" in created.output
    assert "pseudonym keys" in created.output
    again = runner.invoke(app, ["backup", "create", str(directory)])
    assert again.exit_code == 1 and "not empty" in again.output

    use_database(monkeypatch, target_url)
    restored = runner.invoke(app, ["backup", "restore", str(directory)])
    assert restored.exit_code == 0, restored.output
    assert "Matches the manifest" in restored.output and "intact" in restored.output
    verified = runner.invoke(app, ["logbook", "verify"])
    assert verified.exit_code == 0, verified.output
    assert f"{records} record(s)" in verified.output

    refused = runner.invoke(app, ["backup", "restore", str(directory)])
    assert refused.exit_code == 1 and "--replace" in refused.output
    replaced = runner.invoke(app, ["backup", "restore", str(directory), "--replace"])
    assert replaced.exit_code == 0, replaced.output
    assert "Dropped:" in replaced.output and "Matches the manifest" in replaced.output

    path = data_file(directory)
    path.write_bytes(path.read_bytes() + b"\x00")  # one byte appended
    tampered = runner.invoke(app, ["backup", "restore", str(directory), "--replace"])
    assert tampered.exit_code == 1 and "SHA-256" in tampered.output
