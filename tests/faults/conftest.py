"""The demo database for fault tests, prepared once per session and copied for each test.

Reading the demo register and policies from YAML takes seconds; a copy takes milliseconds. On
SQLite the prepared file is copied; on PostgreSQL the test's database is created again from a
prepared template database.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_ADMIN_URL, require_postgres
from tests.faults.support import prepare_database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A prepared SQLite file (checkpointed: no WAL beside it) and the scan-car activity URI."""
    path = tmp_path_factory.mktemp("faults-template") / "demo.sqlite3"
    activity = prepare_database(f"sqlite:///{path}")
    return path, activity


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[tuple[str, str]]:
    """A prepared PostgreSQL database to create test databases from; dropped at the end."""
    require_postgres()
    name = f"gs_tpl_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        activity = prepare_database(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
        yield name, activity
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def demo_database(database_url: str, request: pytest.FixtureRequest) -> str:
    """The test's database (from `database_url`) holding the prepared demo; returns the URI of
    the scan-car activity."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path, activity = request.getfixturevalue("sqlite_template")
        assert url.database
        shutil.copyfile(path, url.database)
        return str(activity)
    template, activity = request.getfixturevalue("postgres_template")
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{url.database}"'))
            conn.execute(text(f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"'))
    finally:
        admin.dispose()
    return str(activity)
