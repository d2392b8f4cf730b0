"""Portal fixtures: an application over a loaded register, and register trees made for a test.

Route tests use the shared test register (tests/fixtures/register) on SQLite; tests that need
something the shared register lacks (many activities, hostile rich text) copy it to a temporary
directory and add files there, so the shared fixtures stay untouched. Tests of the data-use rules
use the demo register with the demo policies stored and activated, as `glazenstad demo` does.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.rules.language import Policy
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.store import PolicyStore
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import DEMO_REGISTER, ROOT, TEST_REGISTER

PortalFactory = Callable[[Path], TestClient]
DEMO_POLICIES = ROOT / "demo" / "policies"
ACTIVATED_BY = "fg@voorbeeldstad.example"


def demo_policies() -> list[Policy]:
    return [loaded.policy for loaded in parse_policies(DEMO_POLICIES).policies]


def activate_policies(database_url: str, policies: list[Policy], note: str | None = None) -> None:
    """Store each policy (if new) and make it its organisation's active version."""
    engine = make_engine(database_url)
    try:
        store = PolicyStore(engine)
        for policy in policies:
            version, _ = store.save(policy, by="test")
            store.activate(policy.organisation, version.content_hash, by=ACTIVATED_BY, note=note)
    finally:
        engine.dispose()


@pytest.fixture
def portal_factory(sqlite_url: str, tmp_path: Path) -> Iterator[PortalFactory]:
    """Build a client over a register tree; each test gets its own fresh database."""
    with ExitStack() as stack:

        def build(register: Path) -> TestClient:
            app = create_app(Settings(database_url=sqlite_url, data_dir=tmp_path))
            engine = make_engine(sqlite_url)
            load_register(engine, register, approved_by="test-approver")
            engine.dispose()
            return stack.enter_context(TestClient(app))

        yield build


@pytest.fixture
def portal(portal_factory: PortalFactory) -> TestClient:
    """The portal over the shared test register (Gemeente Teststad)."""
    return portal_factory(TEST_REGISTER)


@pytest.fixture(scope="module")
def demo_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The portal over the demo register with the demo policies active, shared by a module's
    tests (loading and compiling the demo takes seconds); tests must only read from it."""
    data_dir = tmp_path_factory.mktemp("demo-portal")
    database_url = f"sqlite:///{data_dir / 'glazenstad.sqlite3'}"
    app = create_app(Settings(database_url=database_url, data_dir=data_dir))
    engine = make_engine(database_url)
    load_register(engine, DEMO_REGISTER, approved_by="test-approver")
    engine.dispose()
    activate_policies(database_url, demo_policies(), note="Vastgesteld door het college")
    with TestClient(app) as client:
        yield client


@pytest.fixture
def register_copy(tmp_path: Path) -> Path:
    """A writable copy of the shared test register; the organisation directory is `teststad`."""
    target = tmp_path / "register"
    shutil.copytree(TEST_REGISTER, target)
    return target
