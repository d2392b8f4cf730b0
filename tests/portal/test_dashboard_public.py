"""The public side of the figures: the home page and the open API, on SQLite and PostgreSQL.

The same seeded demo application as the dashboard tests (tests/portal/test_dashboard.py):
counts per organisation, nothing about a person, and a short in-process cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from glazenstad.rules.decisionlog import write_decisions
from tests.conftest import login_staff
from tests.portal.test_dashboard import (
    BACKENDS,
    DUINWIJK,
    ORG,
    PARKING,
    WMO,
    Page,
    decision_rows,
    read,
    seeded_client,
)

API = "/api/v1/organisations/{}/figures"


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    yield from seeded_client(request.param, tmp_path_factory)


@pytest.fixture
def client(seeded: TestClient) -> Iterator[TestClient]:
    """The shared application, nobody logged in."""
    seeded.cookies.clear()
    yield seeded
    seeded.cookies.clear()


def home_sections(html: str) -> dict[str, Page]:
    """The figures section of each organisation on the home page, read on its own."""
    parts = re.split(
        r'<section class="gs-flow" aria-labelledby="cijfers-([a-z0-9-]+)-titel">', html
    )
    return {parts[i]: read(parts[i + 1].split("</section>")[0]) for i in range(1, len(parts), 2)}


def test_home_shows_live_figures_per_organisation(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "Wat de gemeente de afgelopen 30 dagen deed" in response.text
    sections = home_sections(response.text)
    assert set(sections) == {ORG, DUINWIJK}
    town = sections[ORG]
    assert town.figure("Handelingen met persoonsgegevens") == 8
    assert town.figures["Vragen of gegevens gebruikt mogen worden"] == (
        "62 (52 keer ja, 10 keer nee)"
    )
    assert town.figures["Signalen van medewerkers over spelregels (sinds het begin)"] == (
        "0 van 1 afgehandeld"
    )
    assert town.figures["Nalevingsscore (gemeten, niet zelf ingeschat)"].startswith(
        "87,5 van 100 (gemeten op "
    )
    busiest = town.table("Handelingen per verwerking, Gemeente Voorbeeldstad")
    assert busiest == {
        "Controle op betaald parkeren met scanauto's": ["5"],
        "Ondersteuning via de Wmo (maatwerkvoorzieningen)": ["3"],
    }
    chart = town.charts["Handelingen per verwerking, Gemeente Voorbeeldstad"]
    assert chart.get("role") == "img"
    beach = sections[DUINWIJK]
    assert beach.figure("Handelingen met persoonsgegevens") == 2
    assert beach.figure("Vragen of gegevens gebruikt mogen worden") == 11
    assert beach.figures["Nalevingsscore (gemeten, niet zelf ingeschat)"] == "Nog niet gemeten"
    assert 'href="/api/v1/organisations/voorbeeldstad/figures"' in response.text


def test_home_holds_nothing_personal(client: TestClient) -> None:
    html = client.get("/").text
    assert "kantoortijd" not in html  # no rules, no signal text
    assert "crisis" not in html
    assert not re.search(r"\b[0-9a-f]{32}\b", html)  # no decision or trace ids
    assert "ps:" not in html and "k2026" not in html  # no pseudonyms


def test_menu_offers_the_staff_pages_only_to_staff(client: TestClient) -> None:
    assert 'href="/medewerkers"' not in client.get("/").text
    login_staff(client, "informatiemanager")
    html = client.get("/").text
    assert (
        '<a class="utrecht-link utrecht-link--html-a utrecht-nav-list__link" href="/medewerkers">'
        in html
    )
    dashboard = client.get("/medewerkers/dashboard").text
    assert 'href="/medewerkers" aria-current="true">Medewerkers</a>' in dashboard


def test_open_api_figures(client: TestClient) -> None:
    response = client.get(API.format(ORG))
    assert response.status_code == 200
    assert response.headers["API-Version"]
    body = response.json()
    today = datetime.now(UTC).astimezone().date()
    assert body["organisationId"] == ORG
    assert body["timeZone"] == "Europe/Amsterdam"
    assert abs((datetime.fromisoformat(body["to"]).date() - today).days) <= 1
    assert datetime.fromisoformat(body["from"]).date() == (
        datetime.fromisoformat(body["to"]).date() - timedelta(days=29)
    )
    assert body["decisions"] == {"total": 62, "permit": 52, "deny": 10, "breakGlass": 2}
    assert body["logRecords"] == 8
    processing = {p["activityId"]: p["logRecords"] for p in body["processing"]}
    assert processing[PARKING] == 5 and processing[WMO] == 3
    assert len(processing) == 30 and sum(processing.values()) == 8  # every activity, also 0
    assert body["processing"][0]["activityId"] == PARKING
    assert body["signals"]["total"] == 1 and body["signals"]["open"] == 1
    assert body["signals"]["medianDaysToHandle"] is None
    compliance = body["compliance"]
    assert compliance["score"] == 87.5 and compliance["weightingVersion"] == "1"
    assert compliance["checksMeasured"] == 0 and compliance["checksFailed"] == 0
    other = client.get(API.format(DUINWIJK)).json()
    assert other["decisions"]["total"] == 11 and other["logRecords"] == 2
    assert other["compliance"] is None


def test_open_api_period_and_errors(client: TestClient) -> None:
    empty = client.get(API.format(ORG), params={"to": "2020-01-31", "days": 31})
    assert empty.status_code == 200
    assert empty.json()["decisions"]["total"] == 0 and empty.json()["logRecords"] == 0
    assert (empty.json()["from"], empty.json()["to"]) == ("2020-01-01", "2020-01-31")
    week = client.get(API.format(ORG), params={"days": 7}).json()
    assert week["decisions"]["total"] <= 62 and week["logRecords"] == 8
    # Any date is a question with an answer (zero, long ago); the calendar's ends are kept clear.
    far = client.get(API.format(ORG), params={"to": "9999-12-31", "days": 400}).json()
    assert (far["from"], far["to"], far["logRecords"]) == ("9998-11-26", "9999-12-30", 0)
    first = client.get(API.format(ORG), params={"to": "0001-01-01"}).json()
    assert (first["from"], first["to"]) == ("0001-01-02", "0001-01-02")
    for params, name in (
        ({"days": 0}, "query.days"),
        ({"days": 401}, "query.days"),
        ({"to": "2026-02-30"}, "query.to"),
        ({"to": "gisteren"}, "query.to"),
    ):
        bad = client.get(API.format(ORG), params=params)
        assert bad.status_code == 400, params
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["invalidParams"][0]["name"] == name, bad.json()
    missing = client.get(API.format("bestaat-niet"))
    assert missing.status_code == 404
    assert "bestaat-niet" in missing.json()["detail"]


def test_figures_are_cached_for_a_short_time(portal: TestClient) -> None:
    """New decisions show once the cache has expired (cleared here), not on every request."""
    app: Any = portal.app
    url = API.format("teststad")
    assert portal.get(url).json()["decisions"]["total"] == 0
    rows = [dict(row, organisation_id="teststad") for row in decision_rows(datetime.now(UTC))[ORG]]
    with app.state.glazenstad.engine.begin() as conn:
        write_decisions(conn, rows)
    assert portal.get(url).json()["decisions"]["total"] == 0
    assert (
        home_sections(portal.get("/").text)["teststad"].figure(
            "Vragen of gegevens gebruikt mogen worden"
        )
        == 0
    )
    # Days before today are kept too (their rows are final), so both caches are emptied.
    app.state.public_figures_cache.clear()
    app.state.figure_days.clear()
    assert portal.get(url).json()["decisions"]["total"] == 62
    assert (
        home_sections(portal.get("/").text)["teststad"].figure(
            "Vragen of gegevens gebruikt mogen worden"
        )
        == 62
    )
