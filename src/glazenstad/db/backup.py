"""Backups of the configured database, and restoring one into an empty database.

A backup is a directory: the data (`glazenstad.sqlite3` or `glazenstad.pgdump`) and, written
last, `manifest.json`. A directory without a manifest is an unfinished backup. The manifest
describes what the data holds, measured in the same consistent snapshot the data was taken from:
row counts per table, the schema (Alembic) revision, the head of every logbook chain and of every
chain of deletion receipts, and digests of the register's entry versions and of the policy
versions and their lifecycle. It also holds the SHA-256 of each data file.

Why a snapshot and not a copy: the server keeps writing log records while a backup runs. A plain
copy of a live SQLite file (or of PostgreSQL's data directory) can hold half a transaction, and a
log record without its chain head (or the other way round) would make `logbook verify` fail
after a restore. SQLite's online backup API copies the database as one read transaction sees
it. On PostgreSQL the manifest is computed in a REPEATABLE READ transaction whose snapshot is
exported and handed to `pg_dump --snapshot`, so the counts and heads in the manifest describe
exactly the rows in the dump, even while ingest goes on.

Restoring checks every file's SHA-256 first (a damaged or altered backup is refused before the
target is touched), refuses a target that holds data unless told to replace it (and then names
what it drops), loads the data, migrates the schema to the newest revision (so a backup of an
older version restores into a newer one), verifies every logbook chain, and compares the
restored database with the manifest. See docs/backup.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, func, inspect, select, table, text
from sqlalchemy.engine import URL, make_url

from glazenstad import __version__
from glazenstad.db.engine import MIGRATIONS_DIR, make_engine, migrate
from glazenstad.logbook.tables import log_chain_head, log_deletion_receipt
from glazenstad.logbook.verify import VerifyResult, verify
from glazenstad.register.tables import register_entry_version
from glazenstad.rules.tables import policy_event, policy_version

FORMAT: Final = "glazenstad-backup-1"
MANIFEST: Final = "manifest.json"
SQLITE_FILE: Final = "glazenstad.sqlite3"
POSTGRES_FILE: Final = "glazenstad.pgdump"
_CHUNK: Final = 1 << 20

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says what and where."""


def _quiet(_message: str) -> None:
    """The default progress callback: say nothing."""


# ---------------------------------------------------------------------------------------------
# What a database holds: measured at backup time, and again after a restore.


def _digest(rows: Iterable[Iterable[Any]]) -> dict[str, Any]:
    """Count and SHA-256 of rows (tab-separated values, one line per row, in the given order)."""
    sha = hashlib.sha256()
    count = 0
    for row in rows:
        count += 1
        line = "\t".join(_text(value) for value in row) + "\n"
        sha.update(line.encode("utf-8"))
    return {"count": count, "sha256": sha.hexdigest()}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def database_state(conn: Connection) -> dict[str, Any]:
    """What the manifest records of a database, read through `conn` (one snapshot when `conn`
    is in a REPEATABLE READ transaction, or reads a file nobody writes)."""
    names = set(inspect(conn).get_table_names())
    revision: str | None = None
    if "alembic_version" in names:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    counts = {
        name: int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())
        for name in sorted(names - {"alembic_version"})
    }
    state: dict[str, Any] = {"schema_revision": revision, "tables": counts}
    heads: list[dict[str, Any]] = []
    if log_chain_head.name in names:
        h = log_chain_head
        query = select(h.c.organisation_id, h.c.chain_partition, h.c.last_sequence, h.c.last_hash)
        for row in conn.execute(query.order_by(h.c.organisation_id, h.c.chain_partition)):
            heads.append(
                {
                    "organisation_id": row.organisation_id,
                    "chain_partition": row.chain_partition,
                    "last_sequence": int(row.last_sequence),
                    "last_hash": row.last_hash,
                }
            )
    state["chain_heads"] = heads
    receipts: dict[tuple[str, str], dict[str, Any]] = {}
    if log_deletion_receipt.name in names:
        r = log_deletion_receipt
        query = select(
            r.c.organisation_id, r.c.chain_partition, r.c.receipt_number, r.c.receipt_hash
        )
        for row in conn.execute(query.order_by(r.c.receipt_number)):
            receipts[(row.organisation_id, row.chain_partition)] = {
                "organisation_id": row.organisation_id,
                "chain_partition": row.chain_partition,
                "last_receipt_number": int(row.receipt_number),
                "last_receipt_hash": row.receipt_hash,
            }
    state["receipt_heads"] = [receipts[key] for key in sorted(receipts)]
    if register_entry_version.name in names:
        v = register_entry_version
        state["register_versions"] = _digest(
            conn.execute(
                select(
                    v.c.id,
                    v.c.organisation_id,
                    v.c.kind,
                    v.c.entry_id,
                    v.c.version,
                    v.c.content_hash,
                    v.c.removed,
                    v.c.recorded_at,
                ).order_by(v.c.id)
            )
        )
    if policy_version.name in names:
        p = policy_version
        state["policy_versions"] = _digest(
            conn.execute(
                select(p.c.id, p.c.organisation_id, p.c.policy_id, p.c.content_hash).order_by(
                    p.c.id
                )
            )
        )
    if policy_event.name in names:
        e = policy_event
        state["policy_events"] = _digest(
            conn.execute(
                select(e.c.id, e.c.version_id, e.c.status, e.c.at, e.c.by).order_by(e.c.id)
            )
        )
    return state


def compare_state(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Where a restored database differs from its manifest (empty when it does not).

    Only tables the manifest names are compared: migrations after a restore may add tables.
    """
    problems: list[str] = []
    for name, count in sorted(expected.get("tables", {}).items()):
        found = actual["tables"].get(name)
        if found is None:
            problems.append(f"table {name}: missing after the restore ({count} row(s) expected)")
        elif found != count:
            problems.append(f"table {name}: {found} row(s), the manifest says {count}")
    for key, what in (
        ("chain_heads", "logbook chain heads"),
        ("receipt_heads", "deletion receipt heads"),
        ("register_versions", "register entry versions"),
        ("policy_versions", "policy versions"),
        ("policy_events", "policy lifecycle events"),
    ):
        if key in expected and expected[key] != actual.get(key):
            problems.append(f"{what} differ from the manifest")
    return problems


# ---------------------------------------------------------------------------------------------
# Files and the manifest.


def sha256_file(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def _file_entry(path: Path) -> dict[str, Any]:
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def _write_manifest(directory: Path, manifest: Mapping[str, Any]) -> None:
    """Written last and renamed into place: a directory without a manifest is unfinished."""
    partial = directory / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")
    partial.replace(directory / MANIFEST)


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not directory.is_dir():
        raise BackupError(f"{directory}: no such directory")
    if not path.is_file():
        raise BackupError(
            f"{path}: missing; {directory} is not a backup, or one that did not finish"
        )
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: not a manifest of format {FORMAT}")
    return manifest


def check_files(directory: Path, manifest: Mapping[str, Any]) -> None:
    """Every file the manifest names is there with its SHA-256, before anything is restored."""
    for entry in manifest.get("files", []):
        path = directory / str(entry["name"])
        if path.name != entry["name"] or not path.is_file():
            raise BackupError(f"{path}: missing from the backup")
        found = sha256_file(path)
        if found != entry["sha256"]:
            raise BackupError(
                f"{path}: SHA-256 {found} differs from the manifest's {entry['sha256']}: the "
                "file is damaged or was altered; nothing was restored"
            )
    if not manifest.get("files"):
        raise BackupError(f"{directory / MANIFEST}: names no data files")


def head_revision() -> str:
    """The newest schema revision this version of Glazen Stad migrates to."""
    return ",".join(sorted(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()))


# ---------------------------------------------------------------------------------------------
# Creating a backup.


def _prepare_directory(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise BackupError(f"{directory}: exists and is not a directory")
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory}: not empty; a backup goes into a new or empty directory")
    directory.mkdir(parents=True, exist_ok=True)


def create_backup(url: str, directory: Path, progress: Progress = _quiet) -> dict[str, Any]:
    """Back up the database at `url` into `directory` (new or empty); returns the manifest.

    On failure the files it wrote are removed again (and the directory, if it made it), so the
    same command can simply be run again.
    """
    created = not directory.exists()
    _prepare_directory(directory)
    try:
        return _create_backup(url, directory, progress)
    except BaseException:
        for name in (SQLITE_FILE, POSTGRES_FILE, MANIFEST + ".partial"):
            (directory / name).unlink(missing_ok=True)
        if created and not any(directory.iterdir()):
            directory.rmdir()
        raise


def _create_backup(url: str, directory: Path, progress: Progress) -> dict[str, Any]:
    kind = make_url(url).get_backend_name()
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "glazenstad_version": __version__,
    }
    if kind == "sqlite":
        state, files, database = _backup_sqlite(url, directory, progress)
    elif kind == "postgresql":
        state, files, database = _backup_postgres(url, directory, progress)
    else:
        raise BackupError(f"database {kind!r} is not supported (SQLite or PostgreSQL)")
    progress("Computing SHA-256 of the backup files")
    manifest["database"] = database
    manifest["files"] = [_file_entry(path) for path in files]
    manifest.update(state)
    _write_manifest(directory, manifest)
    progress(f"Manifest written: {directory / MANIFEST}")
    return manifest


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"SQLite URL {url!r}: back up and restore need a database file path")
    return Path(database)


def _sqlite_readonly(path: Path) -> Engine:
    """An engine reading a backup file without changing it (no WAL, no pragmas)."""
    return create_engine("sqlite://", creator=lambda: _sqlite_readonly_connection(path))


def _sqlite_readonly_connection(path: Path) -> sqlite3.Connection:
    # A file URI, percent-encoded, so any path works (spaces, '?', '#').
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def _backup_sqlite(
    url: str, directory: Path, progress: Progress
) -> tuple[dict[str, Any], list[Path], dict[str, Any]]:
    source = _sqlite_path(url)
    if not source.is_file():
        raise BackupError(f"{source}: no SQLite database there to back up")
    target = directory / SQLITE_FILE
    progress(f"Copying {source} with SQLite's online backup API")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        # One step: the whole copy is one read transaction, so it is consistent while the server
        # writes. (Copying in steps restarts whenever another connection writes, and under
        # steady ingest it would never finish.)
        src.backup(dst)
        # The copy is one self-contained file: no write-ahead log beside it.
        dst.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise BackupError(f"{source}: the SQLite backup failed: {exc}") from None
    finally:
        dst.close()
        src.close()
    progress("Counting rows and reading chain heads in the copy")
    engine = _sqlite_readonly(target)
    try:
        with engine.connect() as conn:
            state = database_state(conn)
    finally:
        engine.dispose()
    database = {"kind": "sqlite", "server_version": sqlite3.sqlite_version}
    return state, [target], database


# ---------------------------------------------------------------------------------------------
# PostgreSQL: pg_dump and pg_restore, connection parameters from the SQLAlchemy URL.

# libpq environment variables for the query parameters a URL may carry.
_LIBPQ_QUERY_ENV: Final = {
    "host": "PGHOST",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "gssencmode": "PGGSSENCMODE",
}


def libpq_environment(url: str | URL) -> dict[str, str]:
    """The connection of a SQLAlchemy URL as libpq environment variables.

    The password goes in PGPASSWORD, never on the command line, where every user of the machine
    could read it in the process list.
    """
    parsed = make_url(url)
    env: dict[str, str] = {}
    if parsed.host:
        env["PGHOST"] = parsed.host
    if parsed.port:
        env["PGPORT"] = str(parsed.port)
    if parsed.username:
        env["PGUSER"] = parsed.username
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    if parsed.database:
        env["PGDATABASE"] = parsed.database
    for key, value in parsed.query.items():
        name = _LIBPQ_QUERY_ENV.get(key)
        if name is None:
            raise BackupError(
                f"database URL parameter {key!r} has no pg_dump equivalent; remove it or "
                "set the matching PG* environment variable"
            )
        env[name] = value if isinstance(value, str) else value[-1]
    return env


def _which(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BackupError(
            f"{tool} not found on PATH; install the PostgreSQL client tools (the package "
            "postgresql-client) of the server's major version or newer"
        )
    return path


def tool_command(tool: str, url: str | URL, *arguments: str) -> tuple[list[str], dict[str, str]]:
    """The argument list and environment to run a PostgreSQL client tool against `url`."""
    path = _which(tool)
    # Other PG* variables of the environment (PGPASSFILE, PGSSLROOTCERT, ...) apply as they do
    # to the application's own connections, which libpq makes too; the URL's parts win.
    env = {**os.environ, **libpq_environment(url)}
    return [path, "--no-password", *arguments], env


def tool_major(tool: str) -> tuple[int, str]:
    """The major version of a client tool on PATH, and its version text."""
    path = _which(tool)
    result = subprocess.run(
        [path, "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    match = re.search(r"\(PostgreSQL\)\s+((\d+)[0-9.]*)", result.stdout)
    if result.returncode != 0 or match is None:
        raise BackupError(f"{path} --version: not a PostgreSQL client tool ({result.stdout!r})")
    return int(match.group(2)), match.group(1).rstrip(".")


def _server_version(conn: Connection) -> tuple[int, str]:
    number = int(conn.execute(text("SHOW server_version_num")).scalar_one())
    version = str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
    return number // 10000, version


def _run_tool(
    argv: list[str], env: dict[str, str], progress: Progress, steps: tuple[str, ...]
) -> None:
    """Run pg_dump or pg_restore (verbose), passing lines about tables on as progress."""
    name = Path(argv[0]).name
    problems: list[str] = []
    with subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    ) as process:
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.rstrip()
            message = line.removeprefix(f"{name}: ")
            if any(message.startswith(step) for step in steps):
                progress(message)
            elif message.startswith(("error:", "warning:", "detail:", "hint:")) or (
                "ERROR" in line or "DETAIL" in line or "Command was" in line
            ):
                problems.append(line)
        code = process.wait()
    if code != 0:
        detail = "\n".join(problems[-12:]) or "(no message)"
        raise BackupError(f"{name} failed with exit code {code}:\n{detail}")


def _backup_postgres(
    url: str, directory: Path, progress: Progress
) -> tuple[dict[str, Any], list[Path], dict[str, Any]]:
    argv, env = tool_command("pg_dump", url)  # fails early when pg_dump is missing
    dump_major, dump_version = tool_major("pg_dump")
    target = directory / POSTGRES_FILE
    engine = make_engine(url)
    try:
        with engine.connect() as plain:
            conn = plain.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                server_major, server_version = _server_version(conn)
                if server_major > dump_major:
                    raise BackupError(
                        f"pg_dump {dump_version} ({argv[0]}) is older than the PostgreSQL server "
                        f"({server_version}); pg_dump refuses a newer server. Install the client "
                        f"tools of version {server_major} or newer and put them first on PATH"
                    )
                conn.execute(text("SET TRANSACTION READ ONLY"))
                snapshot = str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
                progress("Counting rows and reading chain heads in the snapshot")
                state = database_state(conn)
                progress(f"Running pg_dump {dump_version} on the same snapshot")
                argv += [
                    "--format=custom",
                    "--verbose",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                ]
                # The exported snapshot lives as long as this transaction: pg_dump must run
                # inside it.
                _run_tool(argv, env, progress, ("dumping contents of table",))
    finally:
        engine.dispose()
    database = {
        "kind": "postgresql",
        "server_version": server_version,
        "pg_dump_version": dump_version,
    }
    return state, [target], database


# ---------------------------------------------------------------------------------------------
# Restoring.


@dataclass
class RestoreReport:
    """What a restore did and found; `ok` when the logbook verifies and the manifest matches."""

    kind: str
    directory: Path
    manifest: dict[str, Any]
    revision_after: str | None = None
    dropped: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    verified: VerifyResult = field(default_factory=VerifyResult)

    @property
    def revision_before(self) -> str | None:
        revision = self.manifest.get("schema_revision")
        return None if revision is None else str(revision)

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.verified.ok


def target_contents(url: str) -> dict[str, int]:
    """Tables in the target database and their row counts (empty: nothing there)."""
    if make_url(url).get_backend_name() == "sqlite" and not _sqlite_path(url).exists():
        return {}
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = sorted(inspect(conn).get_table_names())
            return {
                name: int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())
                for name in names
            }
    finally:
        engine.dispose()


def holds_data(contents: Mapping[str, int]) -> bool:
    """Rows anywhere but in Alembic's bookkeeping: a schema without rows loses nothing."""
    return any(count for name, count in contents.items() if name != "alembic_version")


def describe_contents(contents: Mapping[str, int]) -> str:
    rows = sum(contents.values())
    listed = ", ".join(f"{name} {count:,}" for name, count in sorted(contents.items()) if count)
    return f"{len(contents)} table(s) with {rows:,} row(s)" + (f" ({listed})" if listed else "")


def restore_backup(
    url: str, directory: Path, *, replace: bool = False, progress: Progress = _quiet
) -> RestoreReport:
    """Restore the backup in `directory` into the database at `url`, migrate it, verify it.

    The target must be empty (or hold only an empty schema); with `replace` whatever it holds is
    dropped first, and the report names it. Raises BackupError before touching the target when
    the backup is damaged or the target holds data without `replace`.
    """
    manifest = read_manifest(directory)
    kind = make_url(url).get_backend_name()
    backup_kind = manifest.get("database", {}).get("kind")
    if backup_kind != kind:
        raise BackupError(
            f"{directory} is a backup of a {backup_kind} database; the target is {kind}. "
            "Restore into the same kind of database"
        )
    progress("Checking the SHA-256 of every backup file")
    check_files(directory, manifest)
    contents = target_contents(url)
    if holds_data(contents) and not replace:
        raise BackupError(
            f"the target database holds data: {describe_contents(contents)}. Nothing was "
            "restored; restore into an empty database, or give --replace to drop all of it first"
        )
    report = RestoreReport(kind, directory, manifest, dropped=dict(contents))
    if contents:
        progress(f"Dropping what the target holds: {describe_contents(contents)}")
    if kind == "sqlite":
        _restore_sqlite(url, directory, progress)
    else:
        if contents:
            _drop_postgres(url)
        _restore_postgres(url, directory, manifest, progress)
    engine = make_engine(url)
    try:
        newest = head_revision()
        if report.revision_before == newest:
            progress(f"Schema at revision {newest}, the newest: nothing to migrate")
        else:
            progress(f"Migrating the schema from revision {report.revision_before} to {newest}")
        migrate(engine)
        with engine.connect() as conn:
            state = database_state(conn)
        report.revision_after = state["schema_revision"]
        report.mismatches = compare_state(manifest, state)
        progress("Verifying every logbook chain")
        report.verified = verify(engine)
    finally:
        engine.dispose()
    return report


def _restore_sqlite(url: str, directory: Path, progress: Progress) -> None:
    target = _sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    progress(f"Copying the backup into {target} with SQLite's backup API")
    src = _sqlite_readonly_connection(directory / SQLITE_FILE)
    dst = sqlite3.connect(target, timeout=30)
    try:
        # The backup API replaces the destination's whole content in one transaction.
        src.backup(dst)
    except sqlite3.Error as exc:
        raise BackupError(f"{target}: the SQLite restore failed: {exc}") from None
    finally:
        dst.close()
        src.close()


def _drop_postgres(url: str) -> None:
    """Drop every table, view, sequence and function of the target's schema, in one transaction
    (pg_restore then recreates them from the backup)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
            names = conn.execute(
                text(
                    "SELECT c.relname, c.relkind FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm', 'S')"
                ),
                {"schema": schema},
            ).all()
            quote = conn.dialect.identifier_preparer.quote
            kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}
            for name, relkind in names:
                if relkind in kinds:
                    conn.execute(
                        text(
                            f"DROP {kinds[relkind]} IF EXISTS {quote(schema)}.{quote(name)} CASCADE"
                        )
                    )
            sequences = [name for name, relkind in names if relkind == "S"]
            for name in sequences:
                conn.execute(text(f"DROP SEQUENCE IF EXISTS {quote(schema)}.{quote(name)} CASCADE"))
            functions = conn.execute(
                text(
                    "SELECT p.oid::regprocedure::text FROM pg_proc p "
                    "JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "LEFT JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e' "
                    "WHERE n.nspname = :schema AND d.objid IS NULL"
                ),
                {"schema": schema},
            ).scalars()
            for signature in list(functions):
                conn.execute(text(f"DROP FUNCTION IF EXISTS {signature} CASCADE"))
    finally:
        engine.dispose()


def _restore_postgres(
    url: str, directory: Path, manifest: Mapping[str, Any], progress: Progress
) -> None:
    database = make_url(url).database
    if not database:
        raise BackupError("the PostgreSQL URL names no database to restore into")
    argv, env = tool_command("pg_restore", url)
    restore_major, restore_version = tool_major("pg_restore")
    dumped = str(manifest.get("database", {}).get("pg_dump_version", "0"))
    dumped_major = int(dumped.split(".")[0] or 0)
    if restore_major < dumped_major:
        raise BackupError(
            f"pg_restore {restore_version} ({argv[0]}) is older than the pg_dump {dumped} that "
            "made this backup and cannot read it; install the client tools of version "
            f"{dumped_major} or newer"
        )
    progress(f"Running pg_restore {restore_version} (one transaction)")
    argv += [
        f"--dbname={database}",
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--verbose",
        str(directory / POSTGRES_FILE),
    ]
    _run_tool(argv, env, progress, ("processing data for table",))
