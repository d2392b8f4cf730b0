"""The database itself refuses to change or delete log records."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from glazenstad.db.engine import make_engine, migrate
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.store import LogStore
from glazenstad.logbook.verify import verify
from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from tests.conftest import TEST_REGISTER
from tests.logbook.conftest import ORG, make_record


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE log_record SET name = 'vervalst'",
        "DELETE FROM log_record",
    ],
)
def test_update_and_delete_are_refused(store: LogStore, statement: str) -> None:
    store.ingest(ORG, [make_record(), make_record()])
    with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text(statement))
    result = verify(store.engine, ORG)
    assert result.ok and result.records == 2


@pytest.fixture
def pg_store(postgres_url: str, pseudonymizer: Pseudonymizer) -> Iterator[LogStore]:
    """PostgreSQL only: TRUNCATE and the retention switch do not exist on SQLite."""
    engine = make_engine(postgres_url)
    migrate(engine)
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    time.sleep(0.002)
    yield LogStore(engine, RegisterStore(engine), pseudonymizer)
    engine.dispose()


def test_truncate_is_refused_on_postgresql(pg_store: LogStore) -> None:
    store = pg_store
    store.ingest(ORG, [make_record()])
    with pytest.raises(DatabaseError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text("TRUNCATE log_record"))


def test_retention_job_may_delete_on_postgresql(pg_store: LogStore) -> None:
    store = pg_store
    store.ingest(ORG, [make_record()])
    with store.engine.begin() as conn:
        conn.execute(text("SET LOCAL glazenstad.retention = 'on'"))
        deleted = conn.execute(text("DELETE FROM log_record")).rowcount
    assert deleted == 1
