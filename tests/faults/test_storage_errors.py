"""Which database failures are retryable answers, and the decision log through a failed write.

A lost or refused connection is a 503 with Retry-After, a full disk a 507; a broken statement
(a bug) stays a 500, so an outage answer never hides one. The errors here are real ones, made by
the drivers: a full SQLite database (`max_page_count`), a locked one, a refused PostgreSQL
connection, a missing table.
"""

from __future__ import annotations

import errno
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from glazenstad.db.engine import make_engine
from glazenstad.register.store import RegisterStore
from glazenstad.rules.decisionlog import DecisionLog, DecisionLogUnavailable, stored_decision
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyStore
from glazenstad.rules.tables import decision_log
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from glazenstad.web.problems import storage_problem
from tests.conftest import free_port
from tests.rules.test_engine import _request


def _status(exc: BaseException) -> int | None:
    problem = storage_problem(exc)
    if problem is None:
        return None
    assert problem.headers is not None and int(problem.headers["Retry-After"]) > 0
    return problem.status_code


def _raised(action: object) -> BaseException:
    assert callable(action)
    try:
        action()
    except Exception as exc:
        return exc
    raise AssertionError("no error raised")


def test_a_full_sqlite_database_is_507_through_sqlalchemy(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'vol.sqlite3'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x BLOB)"))
        with engine.connect() as conn:
            pages = conn.execute(text("PRAGMA page_count")).scalar_one()
            conn.execute(text(f"PRAGMA max_page_count = {pages}"))
            error = _raised(lambda: conn.execute(text("INSERT INTO t VALUES (randomblob(65536))")))
    finally:
        engine.dispose()
    assert _status(error) == 507


def test_a_locked_sqlite_database_is_503(tmp_path: Path) -> None:
    path = tmp_path / "bezet.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN IMMEDIATE")
        error = _raised(lambda: other.execute("INSERT INTO t VALUES (1)"))
    finally:
        holder.close()
        other.close()
    assert _status(error) == 503


def test_a_refused_postgres_connection_is_503() -> None:
    error = _raised(lambda: psycopg.connect(f"host=127.0.0.1 port={free_port()} connect_timeout=3"))
    assert isinstance(error, psycopg.OperationalError)
    assert _status(error) == 503


def test_a_broken_statement_is_not_an_outage(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'leeg.sqlite3'}")
    try:
        with engine.connect() as conn:
            error = _raised(lambda: conn.execute(text("SELECT * FROM bestaat_niet")))
    finally:
        engine.dispose()
    assert _status(error) is None


def test_the_decision_log_says_what_its_cause_was() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as full:
            raise DecisionLogUnavailable("the decision log could not be written") from full
    except DecisionLogUnavailable as exc:
        assert _status(exc) == 507
    assert _status(DecisionLogUnavailable("the decision log did not commit within 10 s")) == 503


def test_a_broken_statement_in_a_request_stays_a_500(sqlite_url: str, tmp_path: Path) -> None:
    app = create_app(Settings(database_url=sqlite_url, data_dir=tmp_path))

    @app.get("/api/v1/kapotte-query")
    def broken() -> None:
        with app.state.glazenstad.engine.connect() as conn:
            conn.execute(text("SELECT * FROM bestaat_niet"))

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/v1/kapotte-query")
    assert answer.status_code == 500
    assert "retry-after" not in answer.headers


# --- the decision log keeps what nobody waited for through a failed write --------------------

_REFUSE = {
    "sqlite": [
        "CREATE TRIGGER gs_weiger BEFORE INSERT ON decision_log "
        "BEGIN SELECT RAISE(ABORT, 'geweigerd'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION gs_weiger() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'geweigerd'; END $$",
        "CREATE TRIGGER gs_weiger BEFORE INSERT ON decision_log "
        "FOR EACH ROW EXECUTE FUNCTION gs_weiger()",
    ],
}
_ALLOW = {
    "sqlite": ["DROP TRIGGER gs_weiger"],
    "postgresql": ["DROP TRIGGER gs_weiger ON decision_log", "DROP FUNCTION gs_weiger()"],
}


def _execute(engine: Engine, statements: list[str]) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _logged(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(decision_log)).scalar_one())


def test_unwaited_decisions_outlive_a_failed_write(engine: Engine) -> None:
    """Decisions recorded without waiting are written once the database takes writes again;
    a waiting caller is told of the failure instead, and its decision is not written later."""
    service = RulesService(RegisterStore(engine), PolicyStore(engine), refresh_interval=0)
    log = DecisionLog(engine, interval=0.01)
    _execute(engine, _REFUSE[engine.dialect.name])
    try:
        log.record_many([service.decide(_request()) for _ in range(5)])
        waited = service.decide(_request())
        with pytest.raises(DecisionLogUnavailable):
            log.record(waited, wait=True)
        assert _logged(engine) == 0
    finally:
        _execute(engine, _ALLOW[engine.dialect.name])
    deadline = time.monotonic() + 20
    while _logged(engine) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    log.close()
    assert _logged(engine) == 5
    assert stored_decision(engine, waited.id) is None
