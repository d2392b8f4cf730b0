"""Portal fixtures: an application over a loaded register, and register trees made for a test.

Route tests use the shared test register (tests/fixtures/register) on SQLite; tests that need
something the shared register lacks (many activities, hostile rich text) copy it to a temporary
directory and add files there, so the shared fixtures stay untouched.
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
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER

PortalFactory = Callable[[Path], TestClient]


@pytest.fixture
def portal_factory(sqlite_url: str, tmp_path: Path) -> Iterator[PortalFactory]:
    """Build a client over a register tree; each test gets its own fresh database."""
    with ExitStack() as stack:

        def build(register: Path) -> TestClient:
            app = create_app(Settings(database_url=sqlite_url, data_dir=tmp_path))
            engine = make_engine(sqlite_url)
            load_register(engine, register)
            engine.dispose()
            return stack.enter_context(TestClient(app))

        yield build


@pytest.fixture
def portal(portal_factory: PortalFactory) -> TestClient:
    """The portal over the shared test register (Gemeente Teststad)."""
    return portal_factory(TEST_REGISTER)


@pytest.fixture
def register_copy(tmp_path: Path) -> Path:
    """A writable copy of the shared test register; the organisation directory is `teststad`."""
    target = tmp_path / "register"
    shutil.copytree(TEST_REGISTER, target)
    return target
