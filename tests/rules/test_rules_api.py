"""The rules API: decisions with reasons and receipts, stored and retrievable; policies as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.store import PolicyStore
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS, system_token
from tests.rules.conftest import TEST_POLICIES


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(
        Settings(database_url=database_url, data_dir=tmp_path, system_clients=TEST_SYSTEMS)
    )
    engine = make_engine(database_url)
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    store = PolicyStore(engine)
    version, _ = store.save(parse_policies(TEST_POLICIES).policies[0].policy, by="test")
    store.activate("teststad", version.content_hash, by="test-approver")
    with TestClient(app, headers=system_token()) as test_client:
        yield test_client


def body(**overrides: object) -> dict[str, object]:
    request: dict[str, object] = {
        "actor": {"role": "parkeerhandhaver", "department": "Parkeren", "organisation": "teststad"},
        "action": "read",
        "resource": {"dataCategory": "kenteken"},
        "purpose": "parkeren-scanauto",
        "context": {"time": "2026-03-02T10:00:00+01:00"},
    }
    request.update(overrides)
    return request


def test_permit_with_rules_law_and_receipt(client: TestClient) -> None:
    response = client.post("/api/v1/decisions", json=body())
    assert response.status_code == 200
    data = response.json()
    assert data["effect"] == "permit" and data["permitted"] is True
    assert [r["id"] for r in data["rules"]] == ["doelbinding-parkeren-scanauto"]
    assert data["rules"][0]["source"] == "register"
    assert data["legalBasis"][0]["bwbId"] == "BWBR0005416"
    assert data["explanation"].startswith("Ja.")
    receipt = data["receipt"]
    assert len(receipt["decisionId"]) == 32 and len(receipt["inputHash"]) == 64
    stored = client.get(f"/api/v1/decisions/{receipt['decisionId']}")
    assert stored.status_code == 200
    assert stored.json()["inputHash"] == receipt["inputHash"]
    assert stored.json()["rules"] == ["doelbinding-parkeren-scanauto"]


def test_unknown_purpose_is_a_deny_not_an_error(client: TestClient) -> None:
    data = client.post("/api/v1/decisions", json=body(purpose="bestaat-niet")).json()
    assert data["effect"] == "deny" and data["reason"] == "unknown_purpose"
    category = client.post(
        "/api/v1/decisions", json=body(resource={"dataCategory": "schoenmaat"})
    ).json()
    assert category["reason"] == "unknown_data_category"
    # An organisation without a policy: asked by a client of that organisation.
    org = client.post(
        "/api/v1/decisions",
        json=body(actor={"role": "a", "department": "b", "organisation": "anderstad"}),
        headers=system_token("anderstad"),
    ).json()
    assert org["reason"] == "no_policy"


def test_bad_request_names_each_field(client: TestClient) -> None:
    response = client.post(
        "/api/v1/decisions",
        json={
            "actor": {"role": "x"},
            "action": "read",
            "resource": {"dataCategory": "kenteken", "subject": "123456782"},
            "purpose": "p",
            "context": {"time": "2026-03-02T10:00:00"},
        },
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    names = {p["name"] for p in response.json()["invalidParams"]}
    assert {
        "body.actor.department",
        "body.actor.organisation",
        "body.resource.subject",
        "body.context.time",
    } <= names


def test_batch(client: TestClient) -> None:
    response = client.post(
        "/api/v1/decisions/batch",
        json={
            "requests": [
                body(),
                body(actor={"role": "x", "department": "Parkeren", "organisation": "teststad"}),
                body(context={"time": "2026-03-01T10:00:00+01:00"}),
            ]
        },
    )
    results = response.json()["results"]
    assert [r["effect"] for r in results] == ["permit", "deny", "deny"]
    assert [r["reason"] for r in results] == ["permit", "no_permit", "deny_rule"]
    assert all(r["explanation"] is None for r in results)
    ids = {r["receipt"]["decisionId"] for r in results}
    assert all(client.get(f"/api/v1/decisions/{i}").status_code == 200 for i in ids)
    too_many = client.post("/api/v1/decisions/batch", json={"requests": [body()] * 1001})
    assert too_many.status_code == 413
    assert client.get("/api/v1/decisions/batch").status_code == 405


def test_break_glass_over_the_api(client: TestClient) -> None:
    night = {"time": "2026-03-02T23:00:00+01:00", "justification": "Spoed bij aanrijding"}
    data = client.post("/api/v1/decisions", json=body(context=night)).json()
    assert data["effect"] == "permit" and data["breakGlass"] is True
    assert data["obligations"]["requireJustification"] is True


def test_policies_and_rule_texts(client: TestClient) -> None:
    versions = client.get("/api/v1/organisations/teststad/policies").json()
    assert [v["status"] for v in versions] == ["active"]
    version = versions[0]["version"]
    rules = client.get(f"/api/v1/organisations/teststad/policies/{version}/rules").json()
    by_id = {r["id"]: r for r in rules}
    assert by_id["doelbinding-wmo-maatwerk"]["source"] == "register"
    assert "de rol is wmo-consulent" in by_id["doelbinding-wmo-maatwerk"]["who"]
    assert by_id["wmo-bsn-pseudoniem"]["obligations"][0].startswith("vervang door een pseudoniem")
    activity = client.get(
        "/api/v1/organisations/teststad/processing-activities/wmo-maatwerk/rules"
    ).json()
    assert {r["id"] for r in activity} == {
        "doelbinding-wmo-maatwerk",
        "kantoortijd",
        "wmo-eigen-dossier",
        "wmo-bsn-pseudoniem",
        "geen-scanauto-koppeling",
    }
    missing = client.get(f"/api/v1/organisations/teststad/policies/{'0' * 64}")
    assert missing.status_code == 404


def test_decide_with_a_named_draft(client: TestClient) -> None:
    unknown = client.post("/api/v1/decisions", json=body(policyVersion="ab" * 16))
    assert unknown.status_code == 404
