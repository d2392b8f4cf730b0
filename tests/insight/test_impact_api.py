"""The impact replay API on SQLite and PostgreSQL: the answer, and who may ask for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import staff_token
from tests.insight.test_impact_setup import SINCE, UNTIL, Seeded, seed_impact

PATH = "/api/v1/organisations/{}/impact-replays"


class Api(NamedTuple):
    client: TestClient
    seeded: Seeded


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    engine = make_engine(database_url)
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path, mode="demo"))
    seeded = seed_impact(engine)
    engine.dispose()
    with TestClient(app) as client:
        yield Api(client, seeded)


def body(api: Api, **changes: Any) -> dict[str, Any]:
    return {
        "policyVersion": api.seeded.draft[:16],
        "since": SINCE.isoformat(),
        "until": UNTIL.isoformat(),
        **changes,
    }


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["API-Version"]
    found: dict[str, Any] = response.json()
    return found


def test_a_policy_advisor_sees_what_the_draft_changes(api: Api) -> None:
    response = api.client.post(
        PATH.format("voorbeeldstad"),
        json=body(api, examples=1),
        headers=staff_token("beleidsadviseur-sociaal-domein"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["API-Version"]
    result = response.json()
    assert result["policyVersion"] == api.seeded.draft and result["status"] == "draft"
    assert result["totals"] == {
        "requests": 7,
        "permitToDeny": 3,
        "denyToPermit": 2,
        "otherChanges": 0,
    }
    assert result["distinctRequests"] == 3
    activities = {a["activityId"]: a for a in result["activities"]}
    assert activities["wmo-maatwerkvoorziening"]["permitToDeny"] == 3
    assert activities["bijstand-levensonderhoud"]["denyToPermit"] == 2
    rules = {r["ruleId"]: r for r in result["rules"]}
    assert rules["kantoortijd-sociaal-domein"]["effect"] == "deny"
    assert rules["kantoortijd-sociaal-domein"]["inVersion"] is True
    departments = {d["department"]: d for d in result["departments"]}
    assert departments["Werk en Inkomen"]["denyToPermit"] == 2
    assert [e["kind"] for e in result["examples"]] == ["permit_to_deny", "deny_to_permit"]
    example = result["examples"][0]
    assert example["explanation"].startswith("Nee.")
    assert example["decisionId"] in api.seeded.decision_ids["permit_to_deny"]
    assert example["identicalRequests"] == 3


def test_until_defaults_to_now(api: Api) -> None:
    request = body(api)
    del request["until"]
    response = api.client.post(
        PATH.format("voorbeeldstad"), json=request, headers=staff_token("fg")
    )
    assert response.status_code == 200, response.text
    assert response.json()["totals"]["requests"] == 7


def test_without_token_401(api: Api) -> None:
    response = api.client.post(PATH.format("voorbeeldstad"), json=body(api))
    problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = api.client.post(
        PATH.format("voorbeeldstad"),
        json=body(api),
        headers={"Authorization": "Bearer demo-staff-niemand"},
    )
    problem(wrong, 401)


def test_without_permission_403(api: Api) -> None:
    for user in ("teamleider-sociaal-domein", "informatiemanager", "wmo-consulent"):
        response = api.client.post(
            PATH.format("voorbeeldstad"), json=body(api), headers=staff_token(user)
        )
        assert "policy:impact" in problem(response, 403)["detail"]


def test_another_organisation_is_not_found(api: Api) -> None:
    response = api.client.post(
        PATH.format("duinwijk"),
        json=body(api),
        headers=staff_token("beleidsadviseur-sociaal-domein"),
    )
    problem(response, 404)
    # Duinwijk's own officer cannot replay Voorbeeldstad's draft as Duinwijk's either.
    theirs = api.client.post(
        PATH.format("duinwijk"), json=body(api), headers=staff_token("duinwijk-fg")
    )
    assert "bestaat niet" in problem(theirs, 404)["detail"]


def test_bad_input_says_where(api: Api) -> None:
    client, headers = api.client, staff_token("fg")
    backwards = client.post(
        PATH.format("voorbeeldstad"),
        json=body(api, since=UNTIL.isoformat(), until=SINCE.isoformat()),
        headers=headers,
    )
    assert problem(backwards, 400)["invalidParams"][0]["name"] == "body.until"
    naive = client.post(
        PATH.format("voorbeeldstad"), json=body(api, since="2026-03-01T00:00:00"), headers=headers
    )
    assert problem(naive, 400)["invalidParams"][0]["name"] == "body.since"
    too_long = client.post(
        PATH.format("voorbeeldstad"),
        json=body(api, since="2024-01-01T00:00:00Z"),
        headers=headers,
    )
    assert "366" in problem(too_long, 400)["detail"]
    unknown = client.post(
        PATH.format("voorbeeldstad"), json=body(api, policyVersion="0" * 12), headers=headers
    )
    assert "bestaat niet" in problem(unknown, 404)["detail"]
    many = client.post(PATH.format("voorbeeldstad"), json=body(api, examples=21), headers=headers)
    assert problem(many, 400)["invalidParams"][0]["name"] == "body.examples"
