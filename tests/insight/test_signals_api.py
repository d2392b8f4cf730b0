"""The signals API on SQLite and PostgreSQL: filing, reading, answering, public figures.

Staff call with the demo directory's tokens (`demo-staff-<id>`); decisions are real denials of
the demo policy in the decision log, as a caseworker's application would have received them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.insight.test_signals_setup import FG, SD, Decisions, demo_decisions

pytestmark = pytest.mark.heavy

BASE = "/api/v1/organisations/voorbeeldstad/signals"
FIGURES = "/api/v1/organisations/voorbeeldstad/signal-figures"
REASON = "Ik vervang een zieke collega en kan het dossier van haar cliënt niet openen."
ANSWER = "Bij ziekte van een collega mag u het dossier openen met noodtoegang en een reden."


class Api(NamedTuple):
    client: TestClient
    decisions: Decisions


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path, mode="demo"))
    engine = make_engine(database_url)
    decisions = demo_decisions(engine)
    engine.dispose()
    with TestClient(app) as client:
        yield Api(client, decisions)


def as_(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer demo-staff-{user}"}


def post(api: Api, user: str, body: dict[str, Any], path: str = BASE) -> Any:
    return api.client.post(path, json=body, headers=as_(user))


def filed(api: Api, user: str = "wmo-consulent", **body: Any) -> dict[str, Any]:
    response = post(api, user, {"decisionId": api.decisions.own_file, "text": REASON, **body})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["API-Version"]
    body: dict[str, Any] = response.json()
    return body


def test_filing_answers_201_with_the_signal_and_where_it_lives(api: Api) -> None:
    response = post(api, "wmo-consulent", {"decisionId": api.decisions.own_file, "text": REASON})
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"{BASE}/{body['id']}"
    assert body["state"] == "new" and body["ruleId"] == "alleen-eigen-dossier"
    assert body["owner"] == SD and body["decisionId"] == api.decisions.own_file
    assert body["filedBy"] == "wmo-consulent" and body["text"] == REASON
    assert body["mayAnswer"] is False and body["nextStates"] == []
    assert [(e["fromState"], e["toState"]) for e in body["history"]] == [(None, "new")]
    # Two deciding rules: name one.
    two = post(api, "wmo-consulent", {"decisionId": api.decisions.two_rules, "text": REASON})
    assert [p["name"] for p in problem(two, 400)["invalidParams"]] == ["body.ruleId"]
    chosen = post(
        api,
        "wmo-consulent",
        {
            "decisionId": api.decisions.two_rules,
            "ruleId": "kantoortijd-sociaal-domein",
            "text": REASON,
        },
    )
    assert chosen.status_code == 201 and chosen.json()["ruleId"] == "kantoortijd-sociaal-domein"


def test_filing_refuses_personal_data_permits_and_doubles(api: Api) -> None:
    bsn = post(
        api,
        "wmo-consulent",
        {"decisionId": api.decisions.own_file, "text": "Het gaat om BSN 999993653, graag snel."},
    )
    refused = problem(bsn, 400)
    assert refused["invalidParams"][0]["name"] == "body.text"
    assert "burgerservicenummer" in refused["detail"]
    assert "999993653" not in bsn.text
    permit = post(api, "wmo-consulent", {"decisionId": api.decisions.permit, "text": REASON})
    assert problem(permit, 400)["invalidParams"][0]["name"] == "body.decisionId"
    malformed = post(api, "wmo-consulent", {"decisionId": "abc", "text": REASON})
    assert problem(malformed, 400)["invalidParams"][0]["name"] == "body.decisionId"
    filed(api)
    again = post(api, "wmo-consulent", {"decisionId": api.decisions.own_file, "text": REASON})
    assert "al een signaal" in problem(again, 409)["detail"]
    listed = api.client.get(BASE, headers=as_("fg")).json()
    assert listed["pagination"]["totalResults"] == 1


def test_who_may_call_what(api: Api) -> None:
    body = {"decisionId": api.decisions.own_file, "text": REASON}
    # No token, or an unknown one: 401 with a challenge.
    for headers in ({}, {"Authorization": "Bearer demo-staff-bestaat-niet"}):
        response = api.client.get(BASE, headers=headers)
        problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.client.post(BASE, json=body).status_code == 401
    # Lacking the permission: 403.
    problem(post(api, "informatiemanager", body), 403)
    problem(post(api, "beleidsadviseur-sociaal-domein", body), 403)  # triages, does not file
    problem(api.client.get(BASE, headers=as_("informatiemanager")), 403)
    # Another organisation: 404, as if it did not exist.
    problem(post(api, "duinwijk-fg", body), 404)
    problem(api.client.get(BASE, headers=as_("duinwijk-fg")), 404)
    other = "/api/v1/organisations/duinwijk/signals"
    problem(api.client.get(other, headers=as_("fg")), 404)
    signal = filed(api)
    one = f"{BASE}/{signal['id']}"
    problem(api.client.get(one, headers=as_("duinwijk-fg")), 404)
    problem(api.client.get(f"{other}/{signal['id']}", headers=as_("duinwijk-fg")), 404)
    move = {"state": "under_review"}
    problem(api.client.post(f"{one}/transitions", json=move, headers=as_("duinwijk-fg")), 404)
    # A filer without triage rights may not even try; another owner does not see it.
    problem(api.client.post(f"{one}/transitions", json=move, headers=as_("klantmanager")), 403)
    problem(
        api.client.post(
            f"{one}/transitions", json=move, headers=as_("beleidsadviseur-werk-inkomen")
        ),
        404,
    )
    problem(api.client.get(one, headers=as_("klantmanager")), 404)
    problem(api.client.get(one, headers=as_("beleidsadviseur-werk-inkomen")), 404)
    problem(api.client.get(f"{BASE}/999999", headers=as_("fg")), 404)


def test_filer_owner_and_triage_all_each_see_their_part(api: Api) -> None:
    own = filed(api)
    fg_rule = filed(api, decisionId=api.decisions.no_owner)
    other = filed(api, "klantmanager", decisionId=api.decisions.no_permit)

    def ids(user: str, query: str = "") -> set[int]:
        response = api.client.get(BASE + query, headers=as_(user))
        assert response.status_code == 200, response.text
        return {s["id"] for s in response.json()["results"]}

    assert ids("wmo-consulent") == {own["id"], fg_rule["id"]}
    assert ids("klantmanager") == {other["id"]}
    assert ids("beleidsadviseur-sociaal-domein") == {own["id"], other["id"]}
    assert ids("beleidsadviseur-werk-inkomen") == set()
    assert ids("fg") == {own["id"], fg_rule["id"], other["id"]}
    assert ids("fg", "?ruleId=alleen-eigen-dossier") == {own["id"]}
    assert ids("fg", "?state=under_review") == set()
    page = api.client.get(BASE + "?pageSize=2", headers=as_("fg")).json()
    assert len(page["results"]) == 2 and page["pagination"]["totalPages"] == 2
    assert page["links"]["next"]
    bad = api.client.get(BASE + "?state=klaar", headers=as_("fg"))
    assert problem(bad, 400)["invalidParams"][0]["name"] == "query.state"
    detail = api.client.get(f"{BASE}/{fg_rule['id']}", headers=as_("fg")).json()
    assert detail["owner"] == FG and detail["mayAnswer"] is True
    assert detail["nextStates"] == ["under_review"]


def test_the_owner_walks_the_workflow(api: Api) -> None:
    signal = filed(api)
    path = f"{BASE}/{signal['id']}/transitions"
    owner = as_("beleidsadviseur-sociaal-domein")

    def move(state: str, response: str | None = None) -> Any:
        return api.client.post(path, json={"state": state, "response": response}, headers=owner)

    assert "under_review" in problem(move("explained", ANSWER), 409)["detail"]
    reviewing = move("under_review")
    assert reviewing.status_code == 200, reviewing.text
    assert reviewing.json()["nextStates"] == ["rule_changed", "explained", "rejected"]
    assert problem(move("explained"), 400)["invalidParams"][0]["name"] == "body.response"
    assert problem(move("gedaan", ANSWER), 400)["invalidParams"][0]["name"] == "body.state"
    closed = move("explained", ANSWER)
    assert closed.status_code == 200
    body = closed.json()
    assert (body["state"], body["response"], body["nextStates"]) == ("explained", ANSWER, [])
    assert [(e["by"], e["fromState"], e["toState"]) for e in body["history"]] == [
        ("wmo-consulent", None, "new"),
        ("beleidsadviseur-sociaal-domein", "new", "under_review"),
        ("beleidsadviseur-sociaal-domein", "under_review", "explained"),
    ]
    problem(move("rejected", ANSWER), 409)
    # The filer reads the answer.
    seen = api.client.get(f"{BASE}/{signal['id']}", headers=as_("wmo-consulent")).json()
    assert seen["response"] == ANSWER and seen["state"] == "explained"


def test_public_figures_need_no_login_and_hold_only_numbers(api: Api) -> None:
    empty = api.client.get(FIGURES)
    assert empty.status_code == 200, empty.text
    assert empty.json()["total"] == 0 and empty.json()["medianDaysToHandle"] is None
    signal = filed(api)
    filed(api, "klantmanager")
    path = f"{BASE}/{signal['id']}/transitions"
    owner = as_("beleidsadviseur-sociaal-domein")
    api.client.post(path, json={"state": "under_review"}, headers=owner)
    api.client.post(path, json={"state": "rule_changed", "response": ANSWER}, headers=owner)
    response = api.client.get(FIGURES)
    assert response.status_code == 200 and response.headers["API-Version"]
    figures = response.json()
    assert (figures["total"], figures["open"], figures["handled"]) == (2, 1, 1)
    assert figures["byState"] == {
        "new": 1,
        "underReview": 0,
        "ruleChanged": 1,
        "explained": 0,
        "rejected": 0,
    }
    assert figures["rulesWithSignals"] == 1
    for private in (REASON, ANSWER, "wmo-consulent", "klantmanager", "alleen-eigen-dossier", SD):
        assert private not in response.text
    problem(api.client.get("/api/v1/organisations/bestaat-niet/signal-figures"), 404)
