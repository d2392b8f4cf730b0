"""The peer figures API: open list, staff comparison, the choice to publish."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import staff_token

DEMO_REGISTER = Path(__file__).resolve().parents[2] / "demo" / "register"
BASE = "/api/v1/organisations/voorbeeldstad"


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path))
    load_register(make_engine(database_url), DEMO_REGISTER, approved_by="test-approver")
    with TestClient(app) as test_client:
        yield test_client


def test_nothing_is_public_before_an_organisation_chooses(client: TestClient) -> None:
    listed = client.get("/api/v1/peer-figures")
    assert listed.status_code == 200
    assert listed.json()["organisations"] == []
    assert {m["key"] for m in listed.json()["metrics"]} >= {"complianceScore", "signalsHandled"}


def test_choosing_to_publish_needs_the_permission(client: TestClient) -> None:
    url = f"{BASE}/peer-publication"
    body = {"published": True, "note": "De raad wil vergelijken."}
    assert client.put(url, json=body).status_code == 401
    assert (
        client.put(
            url, json=body, headers=staff_token("beleidsadviseur-sociaal-domein")
        ).status_code
        == 403
    )
    other = client.put(
        "/api/v1/organisations/duinwijk/peer-publication",
        json=body,
        headers=staff_token("informatiemanager"),
    )
    assert other.status_code == 404
    chosen = client.put(url, json=body, headers=staff_token("informatiemanager"))
    assert chosen.status_code == 200
    assert chosen.json()["published"] is True
    assert chosen.json()["history"][0]["by"] == "informatiemanager"
    again = client.put(url, json=body, headers=staff_token("fg"))
    assert len(again.json()["history"]) == 1  # the same choice twice is one choice
    bad = client.put(url, json={"published": "perhaps"}, headers=staff_token("fg"))
    assert bad.status_code == 400
    assert bad.json()["invalidParams"][0]["name"] == "body.published"

    listed = client.get("/api/v1/peer-figures").json()["organisations"]
    assert [o["organisationId"] for o in listed] == ["voorbeeldstad"]


def test_only_who_publishes_sees_where_it_stands(client: TestClient) -> None:
    url = f"{BASE}/peer-comparison"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=staff_token("wmo-consulent")).status_code == 403
    alone = client.get(url, headers=staff_token("beleidsadviseur-sociaal-domein"))
    assert alone.status_code == 200
    assert alone.json()["published"] is False and alone.json()["standings"] == []
    assert alone.json()["own"]["organisationId"] == "voorbeeldstad"

    for org, user in (("voorbeeldstad", "fg"), ("duinwijk", "duinwijk-fg")):
        response = client.put(
            f"/api/v1/organisations/{org}/peer-publication",
            json={"published": True},
            headers=staff_token(user),
        )
        assert response.status_code == 200
    both = client.get(url, headers=staff_token("beleidsadviseur-sociaal-domein")).json()
    assert both["published"] is True and both["peers"] == 2
    completeness = next(s for s in both["standings"] if s["key"] == "registerCompleteness")
    assert completeness["peers"] == 2 and completeness["rank"] in (1, 2)

    withdrawn = client.put(
        f"{BASE}/peer-publication", json={"published": False}, headers=staff_token("fg")
    )
    assert withdrawn.json()["published"] is False
    assert [e["published"] for e in withdrawn.json()["history"]] == [True, False]
    public = client.get("/api/v1/peer-figures").json()["organisations"]
    assert [o["organisationId"] for o in public] == ["duinwijk"]
