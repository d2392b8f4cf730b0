"""The database layer: migrations on an empty database, on both backends, and UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, inspect, select

from glazenstad.db.engine import make_engine, migrate
from glazenstad.register.tables import register_load


def test_migrations_create_every_table_and_are_idempotent(database_url: str) -> None:
    engine = make_engine(database_url)  # empty: not the `engine` fixture (a migrated copy)
    assert inspect(engine).get_table_names() == []
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert {
        "register_load",
        "register_entry_version",
        "policy_version",
        "policy_event",
        "decision_log",
        "log_record",
        "log_chain_head",
        "log_deletion_receipt",
        "log_deletion_range",
        "log_retention_run",
        "alembic_version",
    } <= tables
    migrate(engine)  # a second run changes nothing and does not fail
    assert set(inspect(engine).get_table_names()) == tables
    engine.dispose()


def test_timestamps_come_back_in_utc(engine: Engine) -> None:
    amsterdam = timezone(timedelta(hours=1))
    moment = datetime(2026, 3, 1, 12, 30, tzinfo=amsterdam)
    with engine.begin() as conn:
        conn.execute(
            register_load.insert().values(
                loaded_at=moment,
                loaded_by="t",
                source="s",
                organisations=[],
                added=0,
                changed=0,
                removed=0,
                unchanged=0,
            )
        )
        stored = conn.execute(select(register_load.c.loaded_at)).scalar_one()
    assert stored == moment and stored.tzinfo is not None
    assert stored.astimezone(UTC).hour == 11


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with pytest.raises(Exception, match="timezone-aware"), engine.begin() as conn:
        conn.execute(
            register_load.insert().values(
                loaded_at=datetime(2026, 1, 1),
                loaded_by="t",
                source="s",
                organisations=[],
                added=0,
                changed=0,
                removed=0,
                unchanged=0,
            )
        )


def test_sqlite_file_directory_is_created(tmp_path: object) -> None:
    from pathlib import Path

    target = Path(str(tmp_path)) / "nested" / "dir" / "db.sqlite3"
    engine = make_engine(f"sqlite:///{target}")
    migrate(engine)
    assert target.exists()
