"""Engine creation for SQLite (embedded default) and PostgreSQL, and start-up migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
CONNECT_TIMEOUT_S = 10


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the portal read while a load writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine for `url`; for SQLite the file's directory is created when missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # A bare postgresql:// URL means psycopg 3, the driver we ship.
        parsed = parsed.set(drivername="postgresql+psycopg")
    # A restarted or failed-over server leaves the pool's connections dead: pool_pre_ping tests
    # each one as it is checked out and replaces it, so the first request after the server is
    # back succeeds. A bounded connect keeps a request from hanging on an unreachable host (the
    # caller answers 503 with Retry-After instead; see docs/resilience.md).
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    # Batch inserts without RETURNING go to psycopg's executemany (pipelined, one short
    # statement it prepares once) instead of SQLAlchemy's "insertmanyvalues", whose multi-row
    # statement differs per batch size and is too long for psycopg's query cache: parsing it
    # again for every batch cost more than the database took to insert the rows.
    engine.dialect.use_insertmanyvalues_wo_returning = False
    return engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the database schema to the newest migration (a no-op when it is current)."""
    command.upgrade(alembic_config(engine), "head")
