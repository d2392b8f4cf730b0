"""The council report in the staff portal and the API: who may see it, and what they get."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from glazenstad.settings import Settings
from glazenstad.web.api.v1.reports import negotiate
from glazenstad.web.app import create_app
from tests.conftest import login_staff, staff_token
from tests.insight.pdfpages import page_texts
from tests.insight.report_setup import ORG, PERIOD_KEY, Written, require_chromium, written_database

PAGE = "/medewerkers/verantwoording"
DOCUMENT = f"{PAGE}/{PERIOD_KEY}/verslag.html"
PDF = f"{PAGE}/{PERIOD_KEY}/verslag.pdf"
API = f"/api/v1/organisations/{ORG}/reports/{PERIOD_KEY}"
MAKER = "informatiemanager"  # reports:create
NOT_A_MAKER = "beleidsadviseur-sociaal-domein"  # insight:read, no reports:create


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return written_database(tmp_path_factory.mktemp("report-web"), every=6)


@pytest.fixture
def client(written: Written) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=written.url, data_dir=written.folder))
    with TestClient(app) as test_client:
        yield test_client


# --- portal ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [PAGE, DOCUMENT, PDF])
def test_the_portal_asks_for_a_login(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/medewerkers/inloggen?terug={quote(path)}"


@pytest.mark.parametrize("path", [PAGE, DOCUMENT, PDF])
def test_the_portal_needs_the_reports_permission(client: TestClient, path: str) -> None:
    login_staff(client, NOT_A_MAKER)
    response = client.get(path)
    assert response.status_code == 403
    assert "Geen toegang" in response.text and "reports:create" in response.text
    assert (
        "In het kort" not in response.text
        and "Medewerkers en systemen vroegen" not in response.text
    )


def test_the_page_offers_periods_and_shows_the_summary(client: TestClient) -> None:
    login_staff(client, MAKER)
    empty = client.get(PAGE)
    assert empty.status_code == 200
    assert '<label class="utrecht-form-label" for="periode">Periode</label>' in empty.text
    assert f"{PAGE}?periode=2026" in empty.text  # a year among the suggestions
    assert "In het kort" not in empty.text
    chosen = client.get(PAGE, params={"periode": PERIOD_KEY})
    assert chosen.status_code == 200
    assert "Verslag over september 2026" in chosen.text
    assert "Medewerkers en systemen vroegen" in chosen.text
    assert f'href="{DOCUMENT}"' in chosen.text and f'href="{PDF}"' in chosen.text
    assert f"verantwoording-{ORG}-{PERIOD_KEY}.pdf" in chosen.text


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2026-Q5", "een kwartaal is Q1, Q2, Q3 of Q4"),
        ("september", "is geen periode; schrijf 2026 (een jaar)"),
        ("2999", "is nog niet begonnen"),
    ],
)
def test_a_bad_period_is_explained_on_the_page(
    client: TestClient, period: str, message: str
) -> None:
    login_staff(client, MAKER)
    response = client.get(PAGE, params={"periode": period})
    assert response.status_code == 400
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
    assert "Verslag over" not in response.text


def test_the_document_is_served_with_its_own_strict_policy(client: TestClient) -> None:
    login_staff(client, MAKER)
    response = client.get(DOCUMENT)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; style-src 'sha256-")
    assert "unsafe-inline" not in policy
    assert response.headers["content-disposition"] == (
        f'inline; filename="verantwoording-{ORG}-{PERIOD_KEY}.html"'
    )
    assert "<h1>Gemeente Voorbeeldstad</h1>" in response.text
    assert client.get(f"{PAGE}/2026-Q5/verslag.html").status_code == 404


def test_staff_see_only_their_own_organisation(client: TestClient) -> None:
    login_staff(client, "duinwijk-fg")
    response = client.get(DOCUMENT)
    assert response.status_code == 200
    assert "Gemeente Voorbeeldstad" not in response.text
    assert "verantwoording-duinwijk-2026-09.html" in response.headers["content-disposition"]


@pytest.mark.browser
def test_the_pdf_downloads(client: TestClient) -> None:
    require_chromium()
    login_staff(client, MAKER)
    response = client.get(PDF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="verantwoording-{ORG}-{PERIOD_KEY}.pdf"'
    )
    assert "Gemeente Voorbeeldstad" in page_texts(response.content)[0]


# --- API ---------------------------------------------------------------------------------------


def test_the_api_needs_a_staff_token_with_the_permission(client: TestClient) -> None:
    anonymous = client.get(API)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    forbidden = client.get(API, headers=staff_token(NOT_A_MAKER))
    assert forbidden.status_code == 403
    assert "reports:create" in forbidden.json()["detail"]
    elsewhere = client.get(API, headers=staff_token("duinwijk-fg"))
    assert elsewhere.status_code == 404


def test_the_api_answers_html_by_default(client: TestClient) -> None:
    response = client.get(API, headers=staff_token(MAKER))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["api-version"]
    assert response.headers["vary"] == "Accept"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert '<h2 id="in-het-kort-kop">In het kort</h2>' in response.text


@pytest.mark.parametrize(
    ("period", "status", "reason"),
    [
        ("2026-Q5", 400, "een kwartaal is Q1"),
        ("2026-13", 400, "een maand is 01 tot en met 12"),
        ("2999", 400, "nog niet begonnen"),
        ("juli", 400, None),  # not even the shape of a period
    ],
)
def test_the_api_explains_a_bad_period(
    client: TestClient, period: str, status: int, reason: str | None
) -> None:
    response = client.get(
        f"/api/v1/organisations/{ORG}/reports/{period}", headers=staff_token(MAKER)
    )
    assert response.status_code == status
    body = response.json()
    assert body["invalidParams"][0]["name"] == "path.period"
    if reason:
        assert reason in body["invalidParams"][0]["reason"]


def test_the_api_refuses_a_representation_it_does_not_have(client: TestClient) -> None:
    response = client.get(API, headers={**staff_token(MAKER), "Accept": "application/json"})
    assert response.status_code == 406
    assert "text/html" in response.json()["detail"]


@pytest.mark.browser
def test_the_api_answers_pdf_when_asked(client: TestClient) -> None:
    require_chromium()
    response = client.get(API, headers={**staff_token(MAKER), "Accept": "application/pdf"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "text/html"),
        ("*/*", "text/html"),
        ("application/pdf", "application/pdf"),
        ("application/pdf, text/html;q=0.5", "application/pdf"),
        ("text/html;q=0.4, application/pdf;q=0.9", "application/pdf"),
        ("application/*", "application/pdf"),
        ("text/*", "text/html"),
        ("application/json", None),
        ("application/pdf;q=0", None),
        ("text/html;q=zero", None),
    ],
)
def test_content_negotiation(accept: str | None, chosen: str | None) -> None:
    assert negotiate(accept) == chosen


def test_without_chromium_the_pdf_is_refused_and_html_still_works(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no browser to be found on this server
    api = client.get(API, headers={**staff_token(MAKER), "Accept": "application/pdf"})
    assert api.status_code == 503
    assert "apt-get install chromium" in api.json()["detail"]
    assert client.get(API, headers=staff_token(MAKER)).status_code == 200
    login_staff(client, MAKER)
    page = client.get(PDF)
    assert page.status_code == 503
    assert "Chromium is niet geïnstalleerd" in page.text
    assert client.get(DOCUMENT).status_code == 200
