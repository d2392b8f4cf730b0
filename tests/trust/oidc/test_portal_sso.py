"""Single sign-on in the portal against a real OpenID provider: staff and residents, PKCE,
refused callbacks, logout at the provider, sessions bounded by the ID token, production mode."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web import staff
from glazenstad.web.app import create_app
from glazenstad.web.portal import devlogin
from tests.conftest import TEST_REGISTER
from tests.trust.oidc.conftest import ACCOUNTS, OpenIdProvider

pytestmark = pytest.mark.node  # the OpenID provider runs on Node.js

ORG = "teststad"
BSN = ACCOUNTS["inwoner-1"]["bsn"]
KEY = "ktest:" + "MjAyNi1zZWNyZXQtZm9yLXRlc3RzLW9ubHktMDEyMzQ1Njc4OQ=="
ROLE_MAP = {"GS-Privacy": "informatiemanager", "Iets-Anders-Niet": "uitvoering"}


def sso_settings(idp: OpenIdProvider, sqlite_url: str, tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "mode": "demo",
        "database_url": sqlite_url,
        "data_dir": tmp_path,
        "public_url": "http://testserver",
        "staff_oidc_issuer": idp.issuer,
        "staff_oidc_client_id": idp.staff["client_id"],
        "staff_oidc_client_secret": idp.staff["client_secret"],
        "staff_oidc_scopes": "openid profile roles",
        "staff_oidc_role_map": ROLE_MAP,
        "staff_oidc_organisation": ORG,
        "resident_oidc_issuer": idp.issuer,
        "resident_oidc_client_id": idp.resident["client_id"],
        "resident_oidc_client_secret": idp.resident["client_secret"],
        "resident_oidc_scopes": "openid bsn",
    }
    values.update(extra)
    return Settings(**values)


@pytest.fixture
def portal(idp: OpenIdProvider, sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    engine = make_engine(sqlite_url)
    app = create_app(sso_settings(idp, sqlite_url, tmp_path))
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    engine.dispose()
    with TestClient(app) as client:
        yield client


def with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def start(client: TestClient, path: str) -> str:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def moved_on_to(page: Any) -> str:
    """The target of a page that moves on by itself (meta refresh)."""
    assert page.status_code == 200, page.text
    match = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', page.text)
    assert match, "the page does not move on by itself"
    return match.group(1).replace("&amp;", "&")


def staff_sign_in(client: TestClient, idp: OpenIdProvider, account: str) -> Any:
    authorize = start(client, "/medewerkers/inloggen/sso?terug=/medewerkers")
    back = idp.log_in(httpx.Client(), authorize, account)
    return client.get(back, follow_redirects=False)


def resident_sign_in(client: TestClient, idp: OpenIdProvider, account: str) -> Any:
    authorize = start(client, f"/inloggen/digid?organisatie={ORG}")
    back = idp.log_in(httpx.Client(), authorize, account)
    return client.get(back, follow_redirects=False)


def form_token(html: str) -> str:
    match = re.search(r'name="formulier_token" value="([^"]+)"', html)
    assert match, "no form token on the page"
    return match.group(1)


def test_staff_sign_in_with_pkce_ends_on_the_staff_pages_as_the_mapped_role(
    portal: TestClient, idp: OpenIdProvider
) -> None:
    login_page = portal.get("/medewerkers/inloggen?terug=/medewerkers")
    assert "Inloggen met uw account van de gemeente" in login_page.text
    authorize = start(portal, "/medewerkers/inloggen/sso?terug=/medewerkers")
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{idp.issuer}/auth?")
    assert query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == [idp.staff["client_id"]]
    assert query["state"] and query["nonce"] and query["code_challenge"]
    back = idp.log_in(httpx.Client(), authorize, "a.jansen")
    assert back.startswith("http://testserver/medewerkers/inloggen/terug?code=")

    arrived = portal.get(back, follow_redirects=False)
    assert moved_on_to(arrived) == "/medewerkers"
    home = portal.get("/medewerkers", follow_redirects=False)
    assert home.status_code == 200
    assert "Welkom, A. Jansen" in home.text
    assert "informatiemanager bij Concernstaf (teststad)" in home.text
    assert portal.get("/medewerkers/dashboard", follow_redirects=False).status_code == 200
    # A permission the mapped role lacks is still refused.
    assert portal.get("/medewerkers/gevolgen", follow_redirects=False).status_code == 403


def test_staff_whose_claims_map_to_no_role_are_refused(
    portal: TestClient, idp: OpenIdProvider
) -> None:
    refused = staff_sign_in(portal, idp, "z.zonderrol")
    assert refused.status_code == 403
    assert "geen rol in Glazen Stad" in refused.text
    assert staff.STAFF_SESSION_COOKIE not in portal.cookies
    assert portal.get("/medewerkers", follow_redirects=False).status_code == 303


def test_a_resident_signs_in_with_the_broker_and_sees_their_own_processing(
    portal: TestClient, idp: OpenIdProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page = portal.get("/inloggen")
    assert f"/inloggen/digid?organisatie={ORG}" in page.text
    authorize = start(portal, f"/inloggen/digid?organisatie={ORG}")
    assert parse_qs(urlsplit(authorize).query)["code_challenge_method"] == ["S256"]
    back = idp.log_in(httpx.Client(), authorize, "inwoner-1")
    arrived = portal.get(back, follow_redirects=False)
    assert moved_on_to(arrived) == devlogin.OVERVIEW_URL
    overview = portal.get(devlogin.OVERVIEW_URL)
    assert "U bent ingelogd bij" in overview.text
    sessions: devlogin.SessionStore = portal.app.state.portal_sessions  # type: ignore[attr-defined]
    session = sessions.get(portal.cookies.get(devlogin.SESSION_COOKIE))
    assert session is not None and session.bsn == BSN and session.organisation_id == ORG
    # The BSN is in no address, no cookie and no log line.
    for value in (authorize, back, *portal.cookies.values(), *arrived.headers.values()):
        assert BSN not in value
    assert BSN not in caplog.text


def test_a_broker_without_a_valid_bsn_gives_no_session(
    portal: TestClient, idp: OpenIdProvider
) -> None:
    refused = resident_sign_in(portal, idp, "inwoner-zonder-bsn")
    assert refused.status_code == 400
    assert "burgerservicenummer niet goed ontvangen" in refused.text
    assert devlogin.SESSION_COOKIE not in portal.cookies


def test_a_callback_with_another_state_or_from_another_browser_is_refused(
    portal: TestClient, idp: OpenIdProvider
) -> None:
    authorize = start(portal, "/medewerkers/inloggen/sso?terug=/medewerkers")
    back = idp.log_in(httpx.Client(), authorize, "a.jansen")
    forged = portal.get(with_param(back, "state", "not-the-state"), follow_redirects=False)
    assert forged.status_code == 400
    # The right state, but from a browser that did not start this login.
    with TestClient(portal.app) as other_browser:
        assert other_browser.get(back, follow_redirects=False).status_code == 400
    assert staff.STAFF_SESSION_COOKIE not in portal.cookies
    # Each state completes one login only: the refused attempts above used it up.
    assert portal.get(back, follow_redirects=False).status_code == 400


def test_a_code_exchanged_with_another_logins_verifier_is_refused_by_pkce(
    portal: TestClient, idp: OpenIdProvider, caplog: pytest.LogCaptureFixture
) -> None:
    first = start(portal, "/medewerkers/inloggen/sso?terug=/medewerkers")
    second = start(portal, "/medewerkers/inloggen/sso?terug=/medewerkers")
    back = idp.log_in(httpx.Client(), first, "a.jansen")
    second_state = parse_qs(urlsplit(second).query)["state"][0]
    # The first login's code, presented under the second login's state and PKCE verifier.
    refused = portal.get(with_param(back, "state", second_state), follow_redirects=False)
    assert refused.status_code == 400
    assert "refused the code: invalid_grant" in caplog.text
    assert staff.STAFF_SESSION_COOKIE not in portal.cookies


def _provider_logout(idp: OpenIdProvider, browser: httpx.Client, url: str) -> str:
    """Confirm the provider's logout page; returns where it sends the browser afterwards."""
    page = browser.get(url)
    assert page.status_code == 200, page.text
    action = re.search(r'<form id="op.logoutForm" method="post" action="([^"]+)"', page.text)
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', page.text)
    assert action and xsrf, page.text
    done = browser.post(action.group(1), data={"xsrf": xsrf.group(1), "logout": "yes"})
    assert done.status_code in (302, 303), done.text
    return str(done.headers["location"])


def test_staff_logout_ends_both_sessions(portal: TestClient, idp: OpenIdProvider) -> None:
    browser = httpx.Client()
    authorize = start(portal, "/medewerkers/inloggen/sso?terug=/medewerkers")
    portal.get(idp.log_in(browser, authorize, "a.jansen"), follow_redirects=False)
    # While the provider knows this browser, a new login comes straight back (single sign-on).
    known = browser.get(start(portal, "/medewerkers/inloggen/sso"))
    assert known.headers["location"].startswith("http://testserver/medewerkers/inloggen/terug")
    home = portal.get("/medewerkers")
    left = portal.post(
        "/medewerkers/uitloggen",
        data={"formulier_token": form_token(home.text)},
        follow_redirects=False,
    )
    end_session = moved_on_to(left)
    query = parse_qs(urlsplit(end_session).query)
    assert end_session.startswith(f"{idp.issuer}/session/end?")
    assert query["post_logout_redirect_uri"] == ["http://testserver/"]
    assert query["id_token_hint"] and query["client_id"] == [idp.staff["client_id"]]
    assert portal.get("/medewerkers", follow_redirects=False).status_code == 303
    assert _provider_logout(idp, browser, end_session) == "http://testserver/"
    # The provider forgot the browser too: a new login asks who you are again.
    again = browser.get(start(portal, "/medewerkers/inloggen/sso"))
    assert idp.absolute(again.headers["location"]).startswith(f"{idp.issuer}/interaction/")


def test_resident_logout_ends_the_broker_session_without_the_bsn_in_the_address(
    portal: TestClient, idp: OpenIdProvider
) -> None:
    browser = httpx.Client()
    authorize = start(portal, f"/inloggen/digid?organisatie={ORG}")
    portal.get(idp.log_in(browser, authorize, "inwoner-1"), follow_redirects=False)
    page = portal.get(devlogin.OVERVIEW_URL)
    left = portal.post(
        devlogin.LOGOUT_URL, data={"formulier_token": form_token(page.text)}, follow_redirects=False
    )
    end_session = moved_on_to(left)
    assert end_session.startswith(f"{idp.issuer}/session/end?")
    assert "id_token_hint" not in end_session  # the ID token carries the BSN
    assert "moet u eerst inloggen" in portal.get(devlogin.OVERVIEW_URL).text
    assert _provider_logout(idp, browser, end_session) == "http://testserver/mijn-verwerkingen"


def test_sessions_end_when_the_id_token_expires(portal: TestClient, idp: OpenIdProvider) -> None:
    now = [1000.0]
    app: Any = portal.app
    app.state.staff_sessions = staff.StaffSessions(clock=lambda: now[0])
    app.state.portal_sessions = devlogin.SessionStore(clock=lambda: now[0])
    staff_sign_in(portal, idp, "a.jansen")
    resident_sign_in(portal, idp, "inwoner-1")
    assert portal.get("/medewerkers", follow_redirects=False).status_code == 200
    assert "U bent ingelogd bij" in portal.get(devlogin.OVERVIEW_URL).text

    now[0] += idp.id_token_ttl - 30  # well within the ID token: still signed in
    assert portal.get("/medewerkers", follow_redirects=False).status_code == 200
    assert "U bent ingelogd bij" in portal.get(devlogin.OVERVIEW_URL).text

    now[0] += 31  # past the ID token's expiry, long before the usual session lifetime ends
    assert idp.id_token_ttl + 1 < min(staff.STAFF_SESSION_SECONDS, devlogin.SESSION_SECONDS)
    assert portal.get("/medewerkers", follow_redirects=False).status_code == 303
    assert "moet u eerst inloggen" in portal.get(devlogin.OVERVIEW_URL).text


def test_production_offers_single_sign_on_and_refuses_the_development_logins(
    idp: OpenIdProvider, sqlite_url: str, tmp_path: Path
) -> None:
    settings = sso_settings(
        idp,
        sqlite_url,
        tmp_path,
        mode="production",
        public_url="https://testserver",
        pseudonym_keys=KEY,
        staff_directory=Path(__file__).parent / "staff.yaml",
    )
    app = create_app(settings)
    engine = make_engine(sqlite_url)
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    engine.dispose()
    with TestClient(app, base_url="https://testserver") as client:
        page = client.get("/medewerkers/inloggen")
        assert page.status_code == 200
        assert "Inloggen met uw account van de gemeente" in page.text
        assert "testversie" not in page.text and "<select" not in page.text
        refused = client.post("/medewerkers/inloggen", data={"medewerker": "fg"})
        assert refused.status_code == 404
        resident_page = client.get("/inloggen")
        assert "Inloggen met DigiD" in resident_page.text and 'name="bsn"' not in resident_page.text
        assert client.post("/inloggen", data={"bsn": BSN, "organisatie": ORG}).status_code == 404

        arrived = staff_sign_in(client, idp, "a.jansen")
        assert "secure" in arrived.headers["set-cookie"].lower()
        assert "Welkom, A. Jansen" in client.get(moved_on_to(arrived)).text


def test_production_without_single_sign_on_has_no_login_pages(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        mode="production", database_url=sqlite_url, data_dir=tmp_path, pseudonym_keys=KEY
    )
    with TestClient(create_app(settings)) as client:
        for path in (
            "/medewerkers/inloggen",
            "/inloggen",
            "/inloggen/digid",
            "/medewerkers/inloggen/sso",
            "/medewerkers/inloggen/terug",
        ):
            assert client.get(path).status_code == 404, path


def test_a_role_mapping_to_an_undefined_role_stops_the_start(
    idp: OpenIdProvider, sqlite_url: str, tmp_path: Path
) -> None:
    settings = sso_settings(idp, sqlite_url, tmp_path, staff_oidc_role_map={"X": "no-such-role"})
    with pytest.raises(ValueError, match="'no-such-role', which the staff directory"):
        create_app(settings)
