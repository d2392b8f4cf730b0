"""An unexpected error: a plain problem answer for the caller, its location for the operator."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glazenstad.settings import Settings
from glazenstad.web.app import create_app

SECRET = "999993653 in an exception message"


def test_unhandled_error_is_a_500_problem_and_logged_without_its_message(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(database_url=sqlite_url, data_dir=tmp_path))

    @app.get("/api/v1/kapot")
    def broken() -> None:
        raise RuntimeError(SECRET)

    with (
        caplog.at_level(logging.ERROR, logger="glazenstad.web"),
        TestClient(app, raise_server_exceptions=False) as client,
    ):
        answer = client.get("/api/v1/kapot")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert SECRET not in answer.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "unhandled RuntimeError on GET /api/v1/kapot" in logged
    assert "test_server_errors.py" in logged and "in broken" in logged
    assert SECRET not in logged
