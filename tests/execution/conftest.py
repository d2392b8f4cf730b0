"""A live Glazen Stad server (uvicorn in a thread) on SQLite or PostgreSQL, test register loaded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS, serving
from tests.logbook.conftest import KEY_2026


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    app = create_app(
        Settings(
            database_url=database_url,
            data_dir=tmp_path,
            pseudonym_keys=KEY_2026,  # type: ignore[arg-type]
            system_clients=TEST_SYSTEMS,
        )
    )
    engine = make_engine(database_url)
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    engine.dispose()
    time.sleep(0.002)  # spans start after the register versions were recorded
    with serving(app) as url:
        yield url
