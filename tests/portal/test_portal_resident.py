"""The resident's pages: development login, "Mijn verwerkingen", logout and their protections."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from glazenstad.logbook.tables import log_record
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from glazenstad.web.portal import devlogin
from glazenstad.web.portal.devlogin import SessionStore, valid_bsn

ORG = "teststad"
REGISTER_URI = "https://register.teststad.example"
ACTIVITY = f"{REGISTER_URI}/processing-activities/parkeren-scanauto"
CONFIDENTIAL = f"{REGISTER_URI}/processing-activities/wmo-maatwerk"
ACCESS = f"{REGISTER_URI}/processing-activities/inzageverzoeken"
BSN = "999993653"
OTHER_BSN = "111222333"
KEY = "ktest:" + "MjAyNi1zZWNyZXQtZm9yLXRlc3RzLW9ubHktMDEyMzQ1Njc4OQ=="
_span = iter(range(1, 1_000_000))


def record(
    activity: str = ACTIVITY, bsn: str = BSN, name: str = "Kenteken gescand"
) -> dict[str, Any]:
    """A valid LDV record starting now (the shape of tests/logbook make_record)."""
    now = int(time.time() * 1000)
    return {
        "trace_id": f"{1:032x}",
        "span_id": f"{next(_span):016x}",
        "name": name,
        "start_time": now,
        "end_time": now + 5,
        "status": "Ok",
        "resource": {"attributes": {"service.name": "scanauto", "service.version": "1.2"}},
        "attributes": {
            "dpl.core.processing_activity_id": activity,
            "dpl.core.data_subject_id": bsn,
            "dpl.core.data_subject_id_type": "BSN",
        },
    }


def ingest(client: TestClient, *records: dict[str, Any]) -> None:
    time.sleep(0.002)  # records made "now" start after the register versions were recorded
    result = client.app.state.glazenstad.logbook.ingest(ORG, list(records))  # type: ignore[attr-defined]
    assert result.accepted == len(records), result.rejected


def form_token(html: str) -> str:
    match = re.search(r'name="formulier_token" value="([^"]+)"', html)
    assert match, "no form token on the page"
    return match.group(1)


def log_in(client: TestClient, bsn: str = BSN, org: str = ORG) -> Any:
    token = form_token(client.get("/inloggen").text)
    return client.post(
        "/inloggen",
        data={"organisatie": org, "bsn": bsn, "formulier_token": token},
        follow_redirects=False,
    )


def access_records(client: TestClient) -> int:
    engine = client.app.state.glazenstad.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        query = select(func.count()).where(log_record.c.processing_activity_id == ACCESS)
        return int(conn.execute(query).scalar_one())


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("999993653", True),
        ("111222333", True),
        ("999993654", False),
        ("12345678", False),
        ("1234567890", False),
        ("000000000", False),
        ("99999365a", False),
        ("٩٩٩٩٩٣٦٥٣", False),  # Arabic-Indic digits are digits, but no BSN
        ("", False),
    ],
)
def test_bsn_eleven_test(value: str, valid: bool) -> None:
    assert valid_bsn(value) is valid


def test_sessions_expire_and_end() -> None:
    now = [1000.0]
    store = SessionStore(lifetime=60, clock=lambda: now[0])
    session_id = store.start(ORG, BSN)
    assert BSN not in session_id and BSN not in repr(store.get(session_id))
    assert store.get(session_id) is not None
    now[0] += 61
    assert store.get(session_id) is None
    other = store.start(ORG, BSN)
    store.end(other)
    assert store.get(other) is None
    assert store.get("") is None and store.get(None) is None


def test_overview_without_login_explains_and_links_to_login(portal: TestClient) -> None:
    response = portal.get("/mijn-verwerkingen")
    assert response.status_code == 200
    assert 'href="/inloggen"' in response.text
    assert "moet u eerst inloggen" in response.text
    assert access_records(portal) == 0  # nothing was read


def test_menu_links_to_my_processing(portal: TestClient) -> None:
    assert 'href="/mijn-verwerkingen"' in portal.get("/").text
    page = portal.get("/mijn-verwerkingen").text
    assert 'href="/mijn-verwerkingen" aria-current="page"' in page


def test_login_form_is_labelled_and_says_it_is_a_test(portal: TestClient) -> None:
    response = portal.get("/inloggen")
    assert response.status_code == 200
    html = response.text
    assert '<label class="utrecht-form-label" for="bsn">' in html
    assert '<label class="utrecht-form-label" for="organisatie">' in html
    assert "testversie" in html and "DigiD" in html
    assert '<option value="teststad" selected>' in html
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{devlogin.CSRF_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_invalid_bsn_shows_the_form_with_an_accessible_error(portal: TestClient) -> None:
    response = log_in(portal, bsn="123456789")
    assert response.status_code == 400
    html = response.text
    assert 'class="gs-error-summary" role="alert"' in html
    assert 'href="#bsn"' in html
    assert 'aria-describedby="bsn-hint bsn-fout"' in html and 'aria-invalid="true"' in html
    assert 'id="bsn-fout"' in html and "elfproef" in html
    assert "123456789" not in html  # the wrong number is not echoed either
    assert devlogin.SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert "<title>Fout: " in html


def test_unknown_organisation_is_an_error(portal: TestClient) -> None:
    response = log_in(portal, org="bestaat-niet")
    assert response.status_code == 400
    assert 'href="#organisatie"' in response.text


@pytest.mark.parametrize("token", ["", "verkeerd"])
def test_login_without_the_form_token_is_refused(portal: TestClient, token: str) -> None:
    portal.get("/inloggen")  # the browser has a token cookie, but the form does not repeat it
    response = portal.post(
        "/inloggen",
        data={"organisatie": ORG, "bsn": BSN, "formulier_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "Formulier verlopen" in response.text
    assert devlogin.SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_login_without_the_token_cookie_is_refused(portal: TestClient) -> None:
    token = form_token(portal.get("/inloggen").text)
    portal.cookies.clear()  # a cross-site form: SameSite=Strict keeps the cookie at home
    response = portal.post(
        "/inloggen",
        data={"organisatie": ORG, "bsn": BSN, "formulier_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_logout_without_the_form_token_is_refused(portal: TestClient) -> None:
    log_in(portal)
    response = portal.post("/uitloggen", data={"formulier_token": "x"}, follow_redirects=False)
    assert response.status_code == 403
    assert "Uw verwerkingen" in portal.get("/mijn-verwerkingen").text  # still logged in


def test_login_sets_a_strict_session_cookie_without_the_bsn(portal: TestClient) -> None:
    response = log_in(portal)
    assert response.status_code == 303
    assert response.headers["location"] == "/mijn-verwerkingen"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{devlogin.SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert BSN not in cookie
    assert BSN not in response.headers["location"]


def test_overview_shows_own_processing_and_never_the_bsn(portal: TestClient) -> None:
    ingest(
        portal,
        record(),
        record(activity=CONFIDENTIAL, name="Wmo-aanvraag bekeken"),
        record(bsn=OTHER_BSN, name="Ander kenteken"),
    )
    log_in(portal)
    response = portal.get("/mijn-verwerkingen")
    assert response.status_code == 200
    html = response.text
    assert "Parkeerhandhaving met scanauto&#39;s" in html
    assert 'href="https://wetten.overheid.nl/' in html and "Gemeentewet" in html
    assert "Heffen en innen van parkeerbelasting" in html
    assert "Parkeren" in html and "6 maanden" in html
    assert "Wmo" not in html  # confidential: left out
    assert "1 verwerking," in html  # not the other resident's record
    assert BSN not in html and OTHER_BSN not in html
    assert BSN not in response.headers.get("set-cookie", "")


def test_reading_the_overview_is_logged(portal: TestClient) -> None:
    ingest(portal, record())
    log_in(portal)
    assert access_records(portal) == 0
    portal.get("/mijn-verwerkingen")
    assert access_records(portal) == 1
    engine = portal.app.state.glazenstad.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        row = conn.execute(
            select(log_record).where(log_record.c.processing_activity_id == ACCESS)
        ).one()
    assert row.name == "Inzageverzoek logboek"
    assert BSN not in str(tuple(row))  # stored as a pseudonym only
    portal.get("/mijn-verwerkingen")
    assert access_records(portal) == 2


def test_logout_ends_the_session(portal: TestClient) -> None:
    log_in(portal)
    page = portal.get("/mijn-verwerkingen").text
    assert "Uitloggen" in page
    session_id = portal.cookies.get(devlogin.SESSION_COOKIE)
    response = portal.post(
        "/uitloggen", data={"formulier_token": form_token(page)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert "gs_sessie=" in response.headers["set-cookie"]
    sessions: SessionStore = portal.app.state.portal_sessions  # type: ignore[attr-defined]
    assert sessions.get(session_id) is None
    assert "moet u eerst inloggen" in portal.get("/mijn-verwerkingen").text
    # The old cookie value no longer opens anything, even when a browser sends it again.
    portal.cookies.set(devlogin.SESSION_COOKIE, session_id or "")
    assert "moet u eerst inloggen" in portal.get("/mijn-verwerkingen").text


def test_a_new_login_replaces_the_old_session(portal: TestClient) -> None:
    log_in(portal)
    first = portal.cookies.get(devlogin.SESSION_COOKIE)
    log_in(portal)
    second = portal.cookies.get(devlogin.SESSION_COOKIE)
    assert first != second
    sessions: SessionStore = portal.app.state.portal_sessions  # type: ignore[attr-defined]
    assert sessions.get(first) is None and sessions.get(second) is not None


def test_production_has_no_development_login(sqlite_url: str, tmp_path: Path) -> None:
    settings = Settings(
        mode="production", database_url=sqlite_url, data_dir=tmp_path, pseudonym_keys=KEY
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/inloggen").status_code == 404
        assert client.post("/inloggen", data={"bsn": BSN}).status_code == 404
        assert client.post("/uitloggen").status_code == 404
        # A session id cannot open anything either.
        session_id = client.app.state.portal_sessions.start(ORG, BSN)  # type: ignore[attr-defined]
        client.cookies.set(devlogin.SESSION_COOKIE, session_id)
        page = client.get("/mijn-verwerkingen")
        assert page.status_code == 200
        assert 'href="/inloggen"' not in page.text
        assert "nog niet mogelijk" in page.text
