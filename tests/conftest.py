"""Shared fixtures: a fresh database per test on SQLite and on PostgreSQL, and register paths.

PostgreSQL tests create their own database with a unique name and drop it afterwards. Without a
reachable server they are skipped with the reason shown, except when CI=true: there a missing
service is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import Engine, create_engine, text

from glazenstad.db.engine import make_engine, migrate

ROOT = Path(__file__).resolve().parents[1]
DEMO_REGISTER = ROOT / "demo" / "register"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEST_REGISTER = FIXTURES / "register"
TEST_SYSTEMS = FIXTURES / "systems.yaml"
"""System clients of the test organisation (pass as `Settings(system_clients=...)`)."""

PG_ADMIN_URL = os.environ.get(
    "GLAZENSTAD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
# Every test client logs in and searches from the same address; the rate limits have tests of
# their own (tests/trust/test_limits.py), which set them explicitly.
os.environ.setdefault("GLAZENSTAD_RATE_LIMIT_LOGIN", "100000/minute")
os.environ.setdefault("GLAZENSTAD_RATE_LIMIT_SEARCH", "100000/minute")


def missing_tool(reason: str) -> NoReturn:
    """A missing tool or service skips the test here, with the reason shown, and fails it when
    CI=true, where it must be there."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def _postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any connection failure means: no server here
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


_PG_REASON: str | None = None
_PG_CHECKED = False


def require_postgres() -> None:
    global _PG_REASON, _PG_CHECKED
    if not _PG_CHECKED:
        _PG_REASON = _postgres_available()
        _PG_CHECKED = True
    if _PG_REASON is not None:
        missing_tool(_PG_REASON)


@pytest.fixture(scope="session")
def _migrated_postgres_template() -> Iterator[str]:
    """A migrated database of this test process's own, to copy: copying it takes about half
    the time of migrating an empty database, which most PostgreSQL tests would do first."""
    name = f"gs_template_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    template = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        migrate(template)
    finally:
        template.dispose()  # a template must have no connections when it is copied
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped after the test.

    For a test that also asks for `engine` (which migrates it), the database is instead a copy
    of a migrated one: the same result, sooner.
    """
    require_postgres()
    name = f"gs_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    template = ""
    if "engine" in request.fixturenames:
        template = f' TEMPLATE "{request.getfixturevalue("_migrated_postgres_template")}"'
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{template}'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
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
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'glazenstad.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated, empty database on each backend."""
    eng = make_engine(database_url)
    migrate(eng)
    yield eng
    eng.dispose()


MQTT_HOST = os.environ.get("GLAZENSTAD_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("GLAZENSTAD_TEST_MQTT_PORT", "1883"))


def require_mqtt() -> None:
    """Skip (or, with CI=true, fail) when no MQTT broker answers at MQTT_HOST:MQTT_PORT."""
    import socket

    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=3):
            return
    except OSError as exc:
        missing_tool(
            f"MQTT broker not reachable at {MQTT_HOST}:{MQTT_PORT}: {exc.__class__.__name__}"
        )


@pytest.fixture
def mqtt_url() -> str:
    """The real broker's URL (skips or fails without one, as for PostgreSQL)."""
    require_mqtt()
    return f"mqtt://{MQTT_HOST}:{MQTT_PORT}"


@pytest.fixture
def mqtt_topic_root() -> str:
    """A topic root unique to this test, so runs never see each other's messages."""
    return f"gs-test-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: Any, port: int = 0) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a port in a thread; yields its base URL.

    `port` 0 takes a free one; pass `free_port()` when the app must know its URL beforehand.
    """
    import threading
    import time

    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def staff_token(user_id: str) -> dict[str, str]:
    """API headers of a demo member of staff (demo/staff.yaml)."""
    return {"Authorization": f"Bearer demo-staff-{user_id}"}


def system_token(client_id: str = "teststad") -> dict[str, str]:
    """API headers of a system client of the test file (tests/fixtures/systems.yaml)."""
    return {"Authorization": f"Bearer test-system-{client_id}"}


def demo_system_token(client_id: str = "voorbeeldstad") -> dict[str, str]:
    """API headers of a system client of the demo (demo/systems.yaml)."""
    return {"Authorization": f"Bearer demo-system-{client_id}"}


def login_staff(client: Any, user_id: str) -> None:
    """Log `client` (a TestClient of the portal) in as a demo member of staff."""
    import re

    page = client.get("/medewerkers/inloggen")
    assert page.status_code == 200, page.text
    match = re.search(r'name="formulier_token" value="([^"]+)"', page.text)
    assert match, "the staff login form has no form token"
    response = client.post(
        "/medewerkers/inloggen",
        data={"medewerker": user_id, "terug": "/medewerkers", "formulier_token": match.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Heavy modules first (their order otherwise kept): with each file on one worker
    (`--dist loadfile`), a heavy file collected last would leave one worker running it alone
    at the end while the other idles."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)
    for item in items:
        _name_the_operation(item)
    shared = [node for node, count in Counter(item.nodeid for item in items).items() if count > 1]
    if shared:  # pytest-xdist would run one test of each such id and drop the others unseen
        raise pytest.UsageError(f"tests share a node id: {', '.join(shared[:5])}")


def _name_the_operation(item: pytest.Item) -> None:
    """Give each schemathesis operation test a node id of its own.

    schemathesis names an operation's test `test_x[GET /path]` but leaves every operation
    under the node id `test_x`. pytest-xdist schedules and reports by node id, so under
    `bin/test` all operations but one of each contract test would silently not run.
    """
    if "[" in item.name and not item.nodeid.endswith("]") and item.parent is not None:
        item._id = item.parent.id.child(item.name)  # what pytest derives from a node's name
