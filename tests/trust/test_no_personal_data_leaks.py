"""No personal data or secrets in logs or error answers: a BSN sent in every place a client can
put one (login form, log records, read filters, invalid fields, a failing request) appears in
no log line and no answer, and neither does a token."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS, system_token
from tests.logbook.conftest import ACTIVITY, KEY_2026, make_record

BSN = "999993653"
TOKEN = "test-system-teststad"


def test_a_bsn_and_a_token_never_reach_logs_or_error_answers(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(
        Settings(
            database_url=database_url,
            data_dir=tmp_path,
            pseudonym_keys=KEY_2026,  # type: ignore[arg-type]
            system_clients=TEST_SYSTEMS,
        )
    )
    load_register(make_engine(database_url), TEST_REGISTER, approved_by="test-approver")
    answers: list[str] = []
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/inloggen")
        token = re.search(r'name="formulier_token" value="([^"]+)"', page.text)
        assert token
        login = client.post(
            "/inloggen",
            data={"bsn": BSN, "organisatie": "teststad", "formulier_token": token.group(1)},
        )
        answers.append(login.text)
        answers.append(client.get("/mijn-verwerkingen").text)
        subject = {"dpl.core.data_subject_id": BSN, "dpl.core.data_subject_id_type": "BSN"}
        good = make_record(attributes={"dpl.core.processing_activity_id": ACTIVITY, **subject})
        bad = make_record(
            trace_id=BSN, attributes={**subject, "dpl.core.processing_activity_id": 7}
        )
        stored = client.post(
            "/api/v1/logboek/records",
            json={"organisationId": "teststad", "records": [good, bad]},
            headers=system_token(),
        )
        assert stored.status_code == 200 and stored.json()["accepted"] == 1
        answers.append(stored.text)
        read = client.post(
            "/api/v1/logboek/processing-activities?organisationId=teststad",
            json={**subject},
            headers=system_token(),
        )
        assert read.status_code == 200
        invalid = client.post(
            "/api/v1/logboek/processing-activities?organisationId=teststad",
            json={"dpl.core.data_subject_id": BSN, "unexpected": BSN},
            headers=system_token(),
        )
        assert invalid.status_code == 400
        answers.append(invalid.text)

        def failing(*_args: Any, **_kwargs: Any) -> None:
            raise RuntimeError(f"database said: duplicate subject {BSN} with token {TOKEN}")

        monkeypatch.setattr(app.state.glazenstad.logbook, "ingest", failing)
        crashed = client.post(
            "/api/v1/logboek/records",
            json={"organisationId": "teststad", "records": [good]},
            headers=system_token(),
        )
        assert crashed.status_code == 500
        answers.append(crashed.text)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged  # the failure itself is logged, for the operator
    for secret in (BSN, TOKEN):
        assert secret not in logged
        for answer in answers:
            assert secret not in answer
