"""System clients: every system route needs a token with the right scope, for the client's own
organisation only; the clients file reports its mistakes; production refuses demo tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from glazenstad.web.systems import SystemClientsError, clients_for, load_system_clients
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS, system_token
from tests.logbook.conftest import ACTIVITY, make_record
from tests.rules.test_rules_api import body as decision_body

READ_BODY = {"dpl.core.processing_activity_id": ACTIVITY}
READ_URL = "/api/v1/logboek/processing-activities?organisationId=teststad"


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(
        Settings(database_url=database_url, data_dir=tmp_path, system_clients=TEST_SYSTEMS)
    )
    load_register(make_engine(database_url), TEST_REGISTER, approved_by="test-approver")
    with TestClient(app) as test_client:
        yield test_client


def _calls() -> list[tuple[str, str, dict[str, Any]]]:
    records = {"organisationId": "teststad", "records": [make_record()]}
    return [
        ("POST", "/api/v1/decisions", decision_body()),
        ("POST", "/api/v1/decisions/batch", {"requests": [decision_body()]}),
        ("POST", "/api/v1/logboek/records", records),
        ("POST", READ_URL, READ_BODY),
    ]


@pytest.mark.parametrize(("method", "url", "json"), _calls())
def test_system_routes_refuse_a_missing_or_unknown_token(
    client: TestClient, method: str, url: str, json: dict[str, Any]
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}):
        response = client.request(method, url, json=json, headers=headers)
        assert response.status_code == 401, (url, headers)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.headers["content-type"].startswith("application/problem+json")


def test_scopes_are_least_privilege(client: TestClient) -> None:
    records = {"organisationId": "teststad", "records": [make_record()]}
    logger, reader = system_token("teststad-logger"), system_token("teststad-reader")
    assert client.post("/api/v1/logboek/records", json=records, headers=logger).status_code == 200
    refused = client.post(READ_URL, json=READ_BODY, headers=logger)
    assert refused.status_code == 403
    assert "logbook:read" in refused.json()["detail"]
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
    assert client.post(READ_URL, json=READ_BODY, headers=reader).status_code == 200
    assert client.post("/api/v1/logboek/records", json=records, headers=reader).status_code == 403
    assert client.post("/api/v1/decisions", json=decision_body(), headers=reader).status_code == 403


def test_a_client_acts_only_for_its_own_organisation(client: TestClient) -> None:
    other = system_token("anderstad")
    records = {"organisationId": "teststad", "records": [make_record()]}
    for method, url, json in _calls():
        response = client.request(method, url, json=json, headers=other)
        assert response.status_code == 403, url
        assert "'anderstad'" in response.json()["detail"]
    assert client.post("/api/v1/logboek/records", json=records, headers=other).status_code == 403
    # Its own organisation's decision is readable; another's answers as if it did not exist.
    decided = client.post("/api/v1/decisions", json=decision_body(), headers=system_token())
    decision_id = decided.json()["receipt"]["decisionId"]
    own = client.get(f"/api/v1/decisions/{decision_id}", headers=system_token())
    assert own.status_code == 200
    assert client.get(f"/api/v1/decisions/{decision_id}", headers=other).status_code == 404
    assert client.get(f"/api/v1/decisions/{decision_id}").status_code == 401


def _otlp_request() -> bytes:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    span.span_id = bytes.fromhex("b7ad6b7169203331")
    span.name = "Kenteken controleren"
    span.start_time_unix_nano = span.end_time_unix_nano = 1_780_000_000_000_000_000
    span.attributes.append(
        KeyValue(key="dpl.core.processing_activity_id", value=AnyValue(string_value=ACTIVITY))
    )
    return request.SerializeToString()


def test_otlp_needs_a_logbook_writer_of_the_named_organisation(client: TestClient) -> None:
    protobuf = {"Content-Type": "application/x-protobuf"}
    assert client.post("/v1/traces", content=_otlp_request(), headers=protobuf).status_code == 401
    reader = {**protobuf, **system_token("teststad-reader")}
    assert client.post("/v1/traces", content=_otlp_request(), headers=reader).status_code == 403
    other_org = {**protobuf, **system_token(), "Glazenstad-Organisation": "anderstad"}
    assert client.post("/v1/traces", content=_otlp_request(), headers=other_org).status_code == 403
    ok = client.post("/v1/traces", content=_otlp_request(), headers={**protobuf, **system_token()})
    assert ok.status_code == 200
    answer = ExportTraceServiceResponse.FromString(ok.content)
    assert answer.partial_success.rejected_spans == 0


def test_clients_file_mistakes_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "systems.yaml"
    token = "a" * 64
    path.write_text(
        "kind: systems\nclients:\n"
        f"  - {{id: a, name: A, organisation: x, scopes: [log:rm], token_sha256: {token}}}\n"
        f"  - {{id: a, name: B, organisation: x, scopes: [logbook:read], token_sha256: {token}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SystemClientsError) as caught:
        load_system_clients(path)
    fields = {p.field for p in caught.value.problems}
    assert {"clients[0].scopes[0]", "clients[1].id", "clients[1].token_sha256"} <= fields
    assert "log:rm" in str(caught.value)


def test_production_refuses_the_demo_clients(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parents[2] / "demo" / "systems.yaml"
    with pytest.raises(SystemClientsError, match="refused in production"):
        clients_for("production", demo)
    assert clients_for("production", None).by_token("demo-system-voorbeeldstad") is None
    assert clients_for("demo", None).by_token("demo-system-voorbeeldstad") is not None
    assert clients_for("production", TEST_SYSTEMS).by_token("test-system-teststad") is not None
