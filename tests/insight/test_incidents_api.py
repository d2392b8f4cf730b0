"""The incidents API: permissions (401/403/404), breach workflow and reviews, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from tests.conftest import staff_token
from tests.insight.test_incidents_support import (
    MARCH_2,
    ORG,
    demo_app,
    emergency_request,
    record_decisions,
)

BASE = f"/api/v1/organisations/{ORG}"
FG = staff_token("fg")
IM = staff_token("informatiemanager")
TEAMLEIDER = staff_token("teamleider-sociaal-domein")
ADVISEUR = staff_token("beleidsadviseur-sociaal-domein")
CONSULENT = staff_token("wmo-consulent")
DUINWIJK = staff_token("duinwijk-fg")

NEW: dict[str, Any] = {
    "title": "Brief naar oud adres",
    "description": "Een Wmo-brief is naar een oud adres gestuurd.",
    "discoveredAt": "2026-10-24T10:00:00+02:00",
    "occurredFrom": "2026-10-22T09:00:00+02:00",
    "activities": ["wmo-maatwerkvoorziening"],
    "dataCategories": ["naw", "gezondheidsgegevens"],
    "estimatedSubjects": 1,
}


@pytest.fixture
def demo_client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with demo_app(database_url, tmp_path) as client:
        yield client


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["API-Version"]
    body: dict[str, Any] = response.json()
    return body


def test_who_may_do_what(demo_client: TestClient) -> None:
    client = demo_client
    assert problem(client.get(f"{BASE}/data-breaches"), 401)["status"] == 401
    unknown = client.get(f"{BASE}/data-breaches", headers=staff_token("niemand"))
    problem(unknown, 401)
    assert unknown.headers["WWW-Authenticate"].startswith("Bearer")
    # The consultant files signals only; the policy adviser reads but does not manage.
    problem(client.get(f"{BASE}/data-breaches", headers=CONSULENT), 403)
    assert client.get(f"{BASE}/data-breaches", headers=ADVISEUR).status_code == 200
    refused = problem(client.post(f"{BASE}/data-breaches", json=NEW, headers=ADVISEUR), 403)
    assert "incidents:manage" in refused["detail"]
    # Staff of Duinwijk cannot even learn that Voorbeeldstad has breaches.
    problem(client.get(f"{BASE}/data-breaches", headers=DUINWIJK), 404)
    created = client.post(f"{BASE}/data-breaches", json=NEW, headers=IM)
    assert created.status_code == 201, created.text
    number = created.json()["id"]
    problem(client.get(f"{BASE}/data-breaches/{number}", headers=DUINWIJK), 404)
    problem(
        client.get(f"/api/v1/organisations/duinwijk/data-breaches/{number}", headers=DUINWIJK),
        404,
    )
    # Reviews: the team leader and the FG review; the information manager may not.
    problem(client.get(f"{BASE}/break-glass-decisions", headers=CONSULENT), 403)
    review = {"verdict": "justified"}
    problem(
        client.put(f"{BASE}/break-glass-decisions/{'a' * 32}/review", json=review, headers=IM),
        403,
    )
    problem(client.put(f"{BASE}/break-glass-decisions/{'a' * 32}/review", json=review), 401)


def test_register_decide_notify_close(demo_client: TestClient) -> None:
    client = demo_client
    created = client.post(f"{BASE}/data-breaches", json=NEW, headers=IM)
    assert created.status_code == 201
    breach = created.json()
    assert created.headers["Location"] == f"{BASE}/data-breaches/{breach['id']}"
    # Summer time Saturday 10:00 → Tuesday 09:00 winter time: 72 hours, answered in UTC.
    assert breach["discoveredAt"] == "2026-10-24T08:00:00Z"
    assert breach["deadline"] == "2026-10-27T08:00:00Z"
    assert breach["status"] == "open" and breach["revision"] == 1
    assert breach["history"][0]["action"] == "registered"
    assert breach["history"][0]["by"] == "informatiemanager"
    url = f"{BASE}/data-breaches/{breach['id']}"

    decided = client.put(
        f"{url}/authority-decision",
        json={"notify": True, "reason": "Gezondheidsgegevens", "revision": 1},
        headers=FG,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["authority"]["notify"] is True
    stale = client.put(
        f"{url}/authority-decision",
        json={"notify": False, "reason": "toch niet", "revision": 1},
        headers=FG,
    )
    assert "intussen gewijzigd" in problem(stale, 409)["detail"]
    notified = client.put(
        f"{url}/authority-notification",
        json={"notifiedAt": "2026-10-25T09:00:00+01:00", "reference": "M-2026-1"},
        headers=FG,
    )
    assert notified.json()["status"] == "notified"
    assert notified.json()["deadlineState"] == "in-time"
    assert notified.json()["authority"]["notifiedAt"] == "2026-10-25T08:00:00Z"
    early_close = client.put(f"{url}/closure", json={}, headers=FG)
    assert "informeren van de betrokkenen ontbreekt" in problem(early_close, 409)["detail"]
    residents = client.put(
        f"{url}/residents-decision",
        json={"notify": False, "reason": "Laag risico"},
        headers=FG,
    )
    assert residents.status_code == 200
    closed = client.put(f"{url}/closure", json={"note": "Afgehandeld"}, headers=FG)
    assert closed.json()["status"] == "closed"
    actions = [e["action"] for e in closed.json()["history"]]
    assert actions == [
        "registered",
        "authority-decided",
        "authority-notified",
        "residents-decided",
        "closed",
    ]
    closed_list = client.get(f"{BASE}/data-breaches?status=closed", headers=ADVISEUR).json()
    assert [b["id"] for b in closed_list["results"]] == [breach["id"]]
    assert closed_list["pagination"]["totalResults"] == 1


def test_overdue_in_the_list_and_in_words(demo_client: TestClient) -> None:
    client = demo_client
    old = client.post(f"{BASE}/data-breaches", json=NEW, headers=FG).json()
    assert old["overdue"] is True and old["deadlineState"] == "overdue"
    assert old["secondsLeft"] < 0 and old["deadlineText"].startswith("Te laat")
    overdue = client.get(f"{BASE}/data-breaches?overdue=true", headers=FG).json()
    assert [b["id"] for b in overdue["results"]] == [old["id"]]


def test_bad_input_names_the_field(demo_client: TestClient) -> None:
    client = demo_client
    unknown = client.post(
        f"{BASE}/data-breaches",
        json={**NEW, "activities": ["wmo-maatwerkvoorziening", "bestaat-niet"]},
        headers=FG,
    )
    assert problem(unknown, 400)["invalidParams"][0]["name"] == "body.activities[1]"
    naive = client.post(
        f"{BASE}/data-breaches", json={**NEW, "discoveredAt": "2026-10-24T10:00:00"}, headers=FG
    )
    assert problem(naive, 400)["invalidParams"][0]["name"] == "body.discoveredAt"
    extra = client.post(f"{BASE}/data-breaches", json={**NEW, "status": "closed"}, headers=FG)
    assert problem(extra, 400)["invalidParams"][0]["name"] == "body.status"
    created = client.post(f"{BASE}/data-breaches", json=NEW, headers=FG).json()
    url = f"{BASE}/data-breaches/{created['id']}"
    cleared = client.patch(url, json={"title": None}, headers=FG)
    problem(cleared, 400)
    patched = client.patch(url, json={"estimatedSubjects": 25, "occurredUntil": None}, headers=FG)
    assert patched.json()["estimatedSubjects"] == 25 and patched.json()["revision"] == 2
    assert patched.json()["history"][-1]["changes"] == {"estimated_subjects": [1, 25]}
    early = client.put(
        f"{url}/authority-decision",
        json={"notify": True, "reason": "x", "notifiedAt": "2026-10-01T10:00:00+02:00"},
        headers=FG,
    )
    assert problem(early, 400)["invalidParams"][0]["name"] == "body.notifiedAt"
    problem(client.get(f"{BASE}/data-breaches/999999", headers=FG), 404)
    problem(client.delete(url, headers=FG), 405)


def test_sizing_answers_counts(demo_client: TestClient) -> None:
    client = demo_client
    created = client.post(f"{BASE}/data-breaches", json=NEW, headers=FG).json()
    url = f"{BASE}/data-breaches/{created['id']}/affected-data-subjects"
    sized = client.get(url, headers=ADVISEUR)
    assert sized.status_code == 200, sized.text
    body = sized.json()
    assert body["from"] == "2026-10-22T07:00:00Z" and body["until"] == "2026-10-24T08:00:00Z"
    assert body["activities"][0]["activityId"] == "wmo-maatwerkvoorziening"
    assert body["dataSubjects"] == 0 and body["severalKeys"] is False
    other = client.get(
        url,
        params={"activity": "bestaat-niet", "from": "2026-10-01T00:00:00Z"},
        headers=ADVISEUR,
    )
    assert problem(other, 400)["invalidParams"][0]["name"] == "query.activity"
    backwards = client.get(
        url,
        params={"from": "2026-10-10T00:00:00Z", "until": "2026-10-01T00:00:00Z"},
        headers=ADVISEUR,
    )
    assert problem(backwards, 400)["invalidParams"][0]["name"] == "query.until"


def test_break_glass_review(demo_client: TestClient, database_url: str) -> None:
    client = demo_client
    engine = make_engine(database_url)
    ids = record_decisions(
        engine,
        [emergency_request(), emergency_request()],
        [MARCH_2, MARCH_2 + timedelta(hours=1)],
    )
    engine.dispose()
    listed = client.get(f"{BASE}/break-glass-decisions?reviewed=false", headers=TEAMLEIDER)
    assert listed.status_code == 200
    results = listed.json()["results"]
    assert [d["decisionId"] for d in results] == list(reversed(ids))
    assert results[0]["justification"].startswith("Consulent ziek")
    assert results[0]["role"] == "wmo-consulent" and results[0]["review"] is None
    # An adviser with insight:read sees the decisions, not the employee's written account.
    seen = client.get(f"{BASE}/break-glass-decisions", headers=ADVISEUR).json()["results"]
    assert {d["justification"] for d in seen} == {None}

    url = f"{BASE}/break-glass-decisions/{ids[0]}/review"
    missing_note = client.put(url, json={"verdict": "unjustified"}, headers=TEAMLEIDER)
    assert problem(missing_note, 400)["invalidParams"][0]["name"] == "body.note"
    done = client.put(
        url, json={"verdict": "justified", "note": "Echte spoed."}, headers=TEAMLEIDER
    )
    assert done.status_code == 201, done.text
    assert done.json()["reviewerId"] == "teamleider-sociaal-domein"
    assert done.headers["Location"].endswith(f"/break-glass-decisions/{ids[0]}")
    again = client.put(url, json={"verdict": "unjustified", "note": "x"}, headers=FG)
    assert "Een beoordeling is definitief" in problem(again, 409)["detail"]
    one = client.get(f"{BASE}/break-glass-decisions/{ids[0]}", headers=FG).json()
    assert one["review"]["verdict"] == "justified"
    waiting = client.get(f"{BASE}/break-glass-decisions?reviewed=false", headers=FG).json()
    assert [d["decisionId"] for d in waiting["results"]] == [ids[1]]
    problem(
        client.put(
            f"{BASE}/break-glass-decisions/{ids[1]}/review",
            json={"verdict": "justified"},
            headers=DUINWIJK,
        ),
        404,
    )
    problem(client.get(f"{BASE}/break-glass-decisions/{'0' * 32}", headers=FG), 404)
