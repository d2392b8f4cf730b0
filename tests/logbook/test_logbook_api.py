"""The logbook over HTTP and the command line: batches in, per-record answers, chains verified."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import text
from typer.testing import CliRunner

from glazenstad.cli import app as cli
from glazenstad.db.engine import make_engine
from glazenstad.logbook.pseudonym import DEMO_KEYS
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings, get_settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS, system_token
from tests.logbook.conftest import (
    BSN,
    KEY_2026,
    UNKNOWN_ACTIVITY,
    lift_append_only_guard,
    make_record,
)


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(
        Settings(
            database_url=database_url,
            data_dir=tmp_path,
            pseudonym_keys=KEY_2026,  # type: ignore[arg-type]
            system_clients=TEST_SYSTEMS,
        )
    )
    load_register(make_engine(database_url), TEST_REGISTER, approved_by="test-approver")
    with TestClient(app, headers=system_token()) as test_client:
        yield test_client


def test_batch_is_acknowledged_per_record(client: TestClient, database_url: str) -> None:
    good = make_record()
    unknown = make_record(attributes={"dpl.core.processing_activity_id": UNKNOWN_ACTIVITY})
    bad = make_record(span_id="xyz")
    response = client.post(
        "/api/v1/logboek/records",
        json={"organisationId": "teststad", "records": [good, bad, unknown]},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2 and body["unknownActivity"] == 1
    assert body["rejected"][0]["index"] == 1 and "span_id" in body["rejected"][0]["reason"]
    assert (body["firstSequence"], body["lastSequence"]) == (1, 2)
    again = client.post(
        "/api/v1/logboek/records", json={"organisationId": "teststad", "records": [good]}
    ).json()
    assert again["accepted"] == 0 and again["duplicates"] == 1
    engine = make_engine(database_url)
    with engine.connect() as conn:
        stored = " ".join(
            str(v) for row in conn.execute(text("select * from log_record")) for v in row
        )
    assert BSN not in stored
    engine.dispose()


def test_malformed_batch_is_a_400(client: TestClient) -> None:
    response = client.post("/api/v1/logboek/records", json={"records": []})
    assert response.status_code == 400
    names = {p["name"] for p in response.json()["invalidParams"]}
    assert {"body.organisationId", "body.records"} <= names


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"organisationId": "teststad", "records": [', "body["),  # not JSON: its position
        (b'{"organisationId": "teststad", "records": [1, "x"]}', "body.records[0]"),
        (b'{"organisationId": "Test Stad!", "records": [{}]}', "body.organisationId"),
        (b'[{"organisationId": "teststad"}]', "body"),
    ],
)
def test_batch_that_is_not_a_batch_is_a_400_naming_where(
    client: TestClient, body: bytes, where: str
) -> None:
    response = client.post(
        "/api/v1/logboek/records", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    names = [p["name"] for p in response.json()["invalidParams"]]
    assert any(name.startswith(where) for name in names), names


def test_batch_by_field_names_is_read_the_general_way(client: TestClient) -> None:
    """`organisation_id` (the Python name) is accepted like `organisationId`, as elsewhere."""
    answer = client.post(
        "/api/v1/logboek/records",
        json={"organisation_id": "teststad", "records": [make_record(), {"trace_id": "x"}]},
    ).json()
    assert answer["accepted"] == 1
    assert answer["rejected"][0]["index"] == 1
    assert answer["rejected"][0]["reason"] == "span_id: required"


def test_verify_command(
    client: TestClient,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client.post(
        "/api/v1/logboek/records",
        json={"organisationId": "teststad", "records": [make_record() for _ in range(3)]},
    )
    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    ok = runner.invoke(cli, ["logbook", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "teststad/main: 3 record(s), intact" in ok.output
    engine = make_engine(database_url)
    with engine.begin() as conn:
        lift_append_only_guard(conn)
        conn.execute(text("update log_record set name = 'vervalst' where sequence = 2"))
    engine.dispose()
    broken = runner.invoke(cli, ["logbook", "verify"])
    assert broken.exit_code == 1
    assert "First broken record: teststad/main sequence 2" in broken.output
    get_settings.cache_clear()


def test_production_refuses_the_demo_pseudonym_key() -> None:
    url = "postgresql://x@y/z"
    with pytest.raises(ValidationError, match="GLAZENSTAD_PSEUDONYM_KEYS"):
        Settings(mode="production", database_url=url)
    with pytest.raises(ValidationError, match="demo key is public"):
        Settings(mode="production", database_url=url, pseudonym_keys=DEMO_KEYS)  # type: ignore[arg-type]
    production = Settings(mode="production", database_url=url, pseudonym_keys=KEY_2026)  # type: ignore[arg-type]
    assert not production.pseudonymizer().is_demo()
    assert Settings().pseudonymizer().is_demo()


def test_read_extension_and_reads_are_logged(client: TestClient) -> None:
    records = [make_record() for _ in range(3)]
    client.post("/api/v1/logboek/records", json={"organisationId": "teststad", "records": records})
    empty = client.post("/api/v1/logboek/processing-activities?organisationId=teststad", json={})
    assert empty.status_code == 400
    assert empty.headers["content-type"] == "application/problem+json"
    found = client.post(
        "/api/v1/logboek/processing-activities?organisationId=teststad&pageSize=2",
        json={"dpl.core.data_subject_id": BSN},
    )
    assert found.status_code == 200
    body = found.json()
    assert body["metadata"]["logbookId"] == "teststad"
    assert len(body["processingActivities"]) == 2
    assert {r["spanId"] for r in body["processingActivities"]} <= {r["span_id"] for r in records}
    assert BSN not in found.text
    by_trace = client.post(
        "/api/v1/logboek/processing-activities?organisationId=teststad",
        json={"traceId": records[0]["trace_id"]},
    ).json()
    assert by_trace["processingActivities"]
    # Each read was itself logged, under the access-request activity, about the same person.
    reads = client.post(
        "/api/v1/logboek/processing-activities?organisationId=teststad",
        json={
            "dpl.core.processing_activity_id": "https://register.teststad.example/processing-activities/inzageverzoeken"
        },
    ).json()["processingActivities"]
    assert len(reads) >= 2
    assert all(r["name"] == "Inzageverzoek logboek" for r in reads)
    # An organisation that is not in the register, asked by a client of that organisation.
    unknown = client.post(
        "/api/v1/logboek/processing-activities?organisationId=anderstad",
        json={"traceId": records[0]["trace_id"]},
        headers=system_token("anderstad"),
    )
    assert unknown.status_code == 404
