"""Staff identity: the directory file, the API token check and the portal's development login."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from glazenstad.settings import Settings
from glazenstad.web import staff
from glazenstad.web.app import create_app
from tests.conftest import login_staff, staff_token

DEMO_FILE = staff.DEMO_DIRECTORY


def _app(tmp_path: Path, **settings: object) -> TestClient:
    app = create_app(Settings(data_dir=tmp_path, **settings))  # type: ignore[arg-type]

    @app.get("/api/v1/organisations/{organisationId}/staff-probe")
    def probe(
        organisationId: str,
        user: staff.StaffUser = Depends(staff.api_staff(staff.INCIDENTS_MANAGE)),
    ) -> dict[str, str]:
        return {"user": user.id, "organisation": organisationId}

    return TestClient(app)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with _app(tmp_path) as test_client:
        yield test_client


def test_demo_directory_grants_permissions_through_roles() -> None:
    directory = staff.load_staff_directory(DEMO_FILE)
    fg = directory.user("fg")
    consultant = directory.user("wmo-consulent")
    assert fg is not None and consultant is not None
    assert set(staff.PERMISSIONS) <= fg.permissions
    assert consultant.permissions == {staff.SIGNALS_FILE}
    assert directory.by_token("demo-staff-fg") == fg
    assert directory.by_token("demo-staff-nobody") is None
    assert {u.organisation_id for u in directory.users.values()} == {"voorbeeldstad", "duinwijk"}


def test_directory_mistakes_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "staff.yaml"
    path.write_text(
        "kind: staff\n"
        "roles:\n"
        "  kijker: [insight:read, insight:write]\n"
        "users:\n"
        "  - {id: a, name: A, organisation: o, roles: [kijker], department: D}\n"
        "  - {id: a, name: B, organisation: o, roles: [schrijver], department: D}\n"
    )
    with pytest.raises(staff.StaffDirectoryError) as caught:
        staff.load_staff_directory(path)
    text = str(caught.value)
    assert "roles.kijker[1]" in text and "insight:write" in text
    assert "users[1].id" in text and "used twice" in text
    assert "users[1].roles[0]" in text and "schrijver" in text


def test_directory_schema_errors_name_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "staff.yaml"
    path.write_text("kind: staff\nroles: {}\nusers:\n  - id: Not A Slug\n")
    with pytest.raises(staff.StaffDirectoryError) as caught:
        staff.load_staff_directory(path)
    assert any(p.field and p.field.startswith("users[0]") for p in caught.value.problems)
    assert any(p.line is not None for p in caught.value.problems)


def test_production_refuses_the_demo_directory(tmp_path: Path) -> None:
    with pytest.raises(staff.StaffDirectoryError, match="refused in production"):
        staff.directory_for("production", DEMO_FILE)
    assert staff.directory_for("production", None).users == {}
    own = tmp_path / "staff.yaml"
    own.write_text(DEMO_FILE.read_text().replace("demo: true", "demo: false"))
    assert staff.directory_for("production", own).user("fg") is not None


def test_api_needs_a_token_the_permission_and_the_own_organisation(client: TestClient) -> None:
    url = "/api/v1/organisations/voorbeeldstad/staff-probe"
    missing = client.get(url)
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    lacking = client.get(url, headers=staff_token("wmo-consulent"))
    assert lacking.status_code == 403
    assert staff.INCIDENTS_MANAGE in lacking.json()["detail"]
    allowed = client.get(url, headers=staff_token("informatiemanager"))
    assert allowed.status_code == 200
    assert allowed.json() == {"user": "informatiemanager", "organisation": "voorbeeldstad"}
    other = client.get(
        "/api/v1/organisations/duinwijk/staff-probe", headers=staff_token("informatiemanager")
    )
    assert other.status_code == 404
    assert "duinwijk" not in other.json()["title"]


def test_staff_pages_ask_for_a_login_and_come_back(client: TestClient) -> None:
    first = client.get("/medewerkers", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/medewerkers/inloggen?terug=/medewerkers"
    login_staff(client, "beleidsadviseur-sociaal-domein")
    home = client.get("/medewerkers")
    assert home.status_code == 200
    assert "B. Bakker" in home.text
    assert "/medewerkers/gevolgen" in home.text  # policy:impact
    assert "/medewerkers/datalekken" not in home.text  # no incidents:manage


def test_login_goes_back_only_to_this_site(client: TestClient) -> None:
    assert staff.LOGIN_PATH == "/medewerkers/inloggen"
    from glazenstad.web.portal.stafflogin import safe_return_path

    assert safe_return_path("/medewerkers/naleving?x=1") == "/medewerkers/naleving?x=1"
    for hostile in ("//evil.example", "https://evil.example", "/\\evil.example", "", None):
        assert safe_return_path(hostile) == "/medewerkers"
    page = client.get("/medewerkers/inloggen?terug=//evil.example")
    assert 'name="terug" value="/medewerkers"' in page.text


def test_login_refuses_unknown_people_and_forged_forms(client: TestClient) -> None:
    page = client.get("/medewerkers/inloggen")
    token = page.cookies.get("gs_formulier") or client.cookies.get("gs_formulier")
    assert token
    forged = client.post(
        "/medewerkers/inloggen",
        data={"medewerker": "fg", "formulier_token": "not-the-cookie"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    unknown = client.post(
        "/medewerkers/inloggen",
        data={"medewerker": "nobody", "formulier_token": token},
        follow_redirects=False,
    )
    assert unknown.status_code == 400
    assert "Kies een medewerker" in unknown.text
    assert client.get("/medewerkers", follow_redirects=False).status_code == 303


def test_logout_ends_the_session(client: TestClient) -> None:
    login_staff(client, "fg")
    token = client.cookies.get("gs_formulier")
    response = client.post(
        "/medewerkers/uitloggen", data={"formulier_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert client.get("/medewerkers", follow_redirects=False).status_code == 303


def test_production_has_no_development_login(tmp_path: Path) -> None:
    own = tmp_path / "staff.yaml"
    own.write_text(DEMO_FILE.read_text().replace("demo: true", "demo: false"))
    settings = {
        "mode": "production",
        "database_url": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "pseudonym_keys": "k1:" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",
        "staff_directory": own,
    }
    with _app(tmp_path, **settings) as client:
        assert client.get("/medewerkers/inloggen").status_code == 404
        url = "/api/v1/organisations/voorbeeldstad/staff-probe"
        assert client.get(url, headers=staff_token("fg")).status_code == 200


def test_a_missing_permission_says_which(client: TestClient) -> None:
    login_staff(client, "wmo-consulent")
    page = client.get("/medewerkers/vergelijking")
    assert page.status_code == 403
    assert "Geen toegang" in page.text and "insight:read" in page.text
    assert "Formulier verlopen" not in page.text
    start = client.get("/medewerkers").text
    assert "/medewerkers/signalen" in start and "/medewerkers/dashboard" not in start
