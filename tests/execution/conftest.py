"""A live Glazen Stad server (uvicorn in a thread) on SQLite or PostgreSQL, test register loaded."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER
from tests.logbook.conftest import KEY_2026


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    app = create_app(
        Settings(database_url=database_url, data_dir=tmp_path, pseudonym_keys=KEY_2026)
    )
    engine = make_engine(database_url)
    load_register(engine, TEST_REGISTER)
    engine.dispose()
    time.sleep(0.002)  # spans start after the register versions were recorded
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)
