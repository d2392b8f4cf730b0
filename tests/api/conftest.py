"""An API application over a loaded register, on each storage backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, data_dir=tmp_path)
    app = create_app(settings)
    load_register(make_engine(database_url), TEST_REGISTER, approved_by="test-approver")
    with TestClient(app) as test_client:
        yield test_client
