"""Breach and review pages in the staff portal: login, permissions, forms with CSRF, the steps."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape as html_unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from tests.conftest import login_staff
from tests.insight.test_incidents_support import (
    MARCH_2,
    demo_app,
    emergency_request,
    record_decisions,
)

BREACH = {
    "titel": "Brief naar oud adres",
    "beschrijving": "Een Wmo-brief is naar een oud adres gestuurd.",
    "ontdekt": "2026-10-24T10:00",
    "begonnen": "2026-10-22T09:00",
    "verwerkingen": ["wmo-maatwerkvoorziening"],
    "gegevens": ["naw"],
    "aantal": "3",
}


@pytest.fixture
def client(sqlite_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with demo_app(sqlite_url, tmp_path) as test_client:
        yield test_client


def token(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = re.search(r'name="formulier_token" value="([^"]+)"', page.text)
    assert match, f"{path} has no form token"
    return match.group(1)


def text(html: str) -> str:
    return " ".join(html_unescape(re.sub(r"<[^>]+>", " ", html)).split())


def field_errors(html: str) -> dict[str, str]:
    found = re.findall(
        r'id="([a-z_-]+)-fout"><span class="gs-visually-hidden">Fout: </span>([^<]+)', html
    )
    return {name: html_unescape(message) for name, message in found}


def register(client: TestClient, **changes: object) -> str:
    form = {**BREACH, **changes, "formulier_token": token(client, "/medewerkers/datalekken/nieuw")}
    response = client.post("/medewerkers/datalekken/nieuw", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"]).split("?")[0]


def test_pages_need_a_staff_login_and_the_right_permission(client: TestClient) -> None:
    for path in ("/medewerkers/datalekken", "/medewerkers/doorbraken"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/medewerkers/inloggen?terug=")
    login_staff(client, "wmo-consulent")  # files signals only
    assert client.get("/medewerkers/datalekken").status_code == 403
    assert client.get("/medewerkers/doorbraken").status_code == 403
    login_staff(client, "beleidsadviseur-sociaal-domein")  # reads, does not manage
    listing = client.get("/medewerkers/datalekken")
    assert listing.status_code == 200 and "Een datalek registreren" not in listing.text
    assert client.get("/medewerkers/datalekken/nieuw").status_code == 403


def test_register_a_breach_with_dutch_times_and_clear_errors(client: TestClient) -> None:
    login_staff(client, "informatiemanager")
    form_token = token(client, "/medewerkers/datalekken/nieuw")
    refused = client.post(
        "/medewerkers/datalekken/nieuw",
        data={**BREACH, "titel": "", "ontdekt": "2026-03-29T02:30", "formulier_token": form_token},
    )
    assert refused.status_code == 400
    errors = field_errors(refused.text)
    assert errors["titel"] == "Vul een korte omschrijving in."
    assert errors["ontdekt"].startswith("2026-03-29 02:30 bestaat niet in Nederlandse tijd")
    assert 'id="ontdekt" name="ontdekt" value="2026-03-29T02:30"' in refused.text  # kept
    unknown = client.post(
        "/medewerkers/datalekken/nieuw",
        data={**BREACH, "verwerkingen": ["elders"], "formulier_token": form_token},
    )
    assert unknown.status_code == 400
    assert "'elders' is geen verwerking" in field_errors(unknown.text)["verwerkingen"]
    no_token = client.post("/medewerkers/datalekken/nieuw", data=BREACH)
    assert no_token.status_code == 403

    url = register(client)
    page = text(client.get(url).text)
    assert "Ontdekt op zaterdag 24 oktober 2026 om 10.00 uur" in page
    # 72 hours later the clock has gone back an hour: Tuesday 09.00, not 10.00.
    assert "Uiterlijk melden op dinsdag 27 oktober 2026 om 09.00 uur" in page
    # Overdue is said in words (and by a badge with text), not by colour alone.
    assert "Te laat Te laat: de termijn is" in page
    assert "Ondersteuning via de Wmo" in page


def test_the_steps_of_a_breach(client: TestClient) -> None:
    login_staff(client, "fg")
    url = register(client)
    form_token = token(client, url)
    missing = client.post(
        f"{url}/ap", data={"formulier_token": form_token, "versie": "1", "reden": "Risico"}
    )
    assert missing.status_code == 400
    assert field_errors(missing.text) == {"ap-melden": "Kies ja of nee."}
    decided = client.post(
        f"{url}/ap",
        data={"formulier_token": form_token, "versie": "1", "melden": "ja", "reden": "Risico"},
        follow_redirects=False,
    )
    assert decided.status_code == 303 and decided.headers["location"].endswith("gedaan=ap")
    stale = client.post(
        f"{url}/ap",
        data={"formulier_token": form_token, "versie": "1", "melden": "nee", "reden": "Toch niet"},
    )
    assert stale.status_code == 409 and "intussen gewijzigd" in stale.text
    early = client.post(
        f"{url}/melding",
        data={"formulier_token": form_token, "versie": "2", "gemeld_op": "2026-10-20T10:00"},
    )
    assert early.status_code == 400
    assert "vóór de ontdekking" in field_errors(early.text)["melding-gemeld_op"]
    notified = client.post(
        f"{url}/melding",
        data={
            "formulier_token": form_token,
            "versie": "2",
            "gemeld_op": "2026-10-25T09:00",
            "kenmerk": "M-2026-7",
        },
        follow_redirects=False,
    )
    assert notified.status_code == 303
    page = text(client.get(url).text)
    assert "Gemeld op zondag 25 oktober 2026 om 09.00 uur" in page and "M-2026-7" in page
    assert "Op tijd afgehandeld Op tijd gemeld." in page
    residents = client.post(
        f"{url}/betrokkenen",
        data={
            "formulier_token": form_token,
            "versie": "3",
            "informeren": "nee",
            "reden": "Laag risico",
        },
        follow_redirects=False,
    )
    assert residents.status_code == 303
    closed = client.post(
        f"{url}/afsluiten",
        data={"formulier_token": form_token, "versie": "4", "notitie": "Afgehandeld"},
        follow_redirects=False,
    )
    assert closed.status_code == 303
    final = client.get(url).text
    assert "Afgesloten" in final and 'action="/medewerkers/datalekken/1/ap"' not in final
    history = text(final)
    assert "F. de Graaf Melding bij de AP vastgelegd" in history
    # Correcting the facts needs a breach that is still open.
    edit = client.get(f"{url}/aanpassen", follow_redirects=False)
    assert edit.status_code == 303
    # Staff of another municipality do not see it exist.
    login_staff(client, "duinwijk-fg")
    assert client.get(url).status_code == 404
    assert client.get(f"{url}/omvang").status_code == 404
    assert "Brief naar oud adres" not in client.get("/medewerkers/datalekken").text
    assert client.get(f"/medewerkers/datalekken/{2**70}").status_code == 404


def test_correct_the_facts_and_size_from_the_logbook(client: TestClient) -> None:
    login_staff(client, "fg")
    url = register(client)
    form_token = token(client, f"{url}/aanpassen")
    changed = client.post(
        f"{url}/aanpassen",
        data={**BREACH, "aantal": "40", "versie": "1", "formulier_token": form_token},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert "Geschat aantal betrokkenen 40 personen" in text(client.get(url).text)
    sized = client.get(f"{url}/omvang")
    assert sized.status_code == 200
    assert 'value="2026-10-22T09:00"' in sized.text and 'value="2026-10-24T10:00"' in sized.text
    assert "Samen 0 personen" in text(sized.text)
    backwards = client.get(
        f"{url}/omvang",
        params={"verwerkingen": "wmo-maatwerkvoorziening", "van": "2026-10-24T10:00",
                "tot": "2026-10-01T10:00"},
    )  # fmt: skip
    assert backwards.status_code == 400
    assert field_errors(backwards.text)["tot"] == "Het einde moet na het begin liggen."


def test_review_a_break_the_glass_decision(client: TestClient, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    first, second = record_decisions(
        engine,
        [emergency_request(), emergency_request()],
        [MARCH_2, MARCH_2 + timedelta(hours=1)],
    )
    engine.dispose()
    login_staff(client, "beleidsadviseur-sociaal-domein")
    page = client.get(f"/medewerkers/doorbraken/{first}")
    assert page.status_code == 200
    assert "Consulent ziek" not in page.text  # the written account is for reviewers only
    assert 'action="/medewerkers/doorbraken/' not in page.text

    login_staff(client, "teamleider-sociaal-domein")
    listing = text(client.get("/medewerkers/doorbraken").text)
    assert "Nog te beoordelen 2" in listing and "Nog niet beoordeeld" in listing
    form_token = token(client, f"/medewerkers/doorbraken/{first}")
    assert "Consulent ziek" in client.get(f"/medewerkers/doorbraken/{first}").text
    no_note = client.post(
        f"/medewerkers/doorbraken/{first}",
        data={"formulier_token": form_token, "oordeel": "niet-terecht"},
    )
    assert no_note.status_code == 400
    assert field_errors(no_note.text)["toelichting"].startswith("Schrijf op waarom")
    done = client.post(
        f"/medewerkers/doorbraken/{first}",
        data={"formulier_token": form_token, "oordeel": "terecht", "toelichting": "Echte spoed."},
        follow_redirects=False,
    )
    assert done.status_code == 303
    reviewed = text(client.get(done.headers["location"]).text)
    assert "Uw beoordeling is vastgelegd." in reviewed and "Beoordeeld door T. Smit" in reviewed
    again = client.post(
        f"/medewerkers/doorbraken/{first}",
        data={"formulier_token": form_token, "oordeel": "niet-terecht", "toelichting": "x"},
    )
    assert again.status_code == 409 and "Een beoordeling is definitief" in again.text
    listing = text(client.get("/medewerkers/doorbraken").text)
    assert "Nog te beoordelen 1" in listing and "Beoordeeld als terecht 1" in listing
    assert client.get(f"/medewerkers/doorbraken/{'0' * 32}").status_code == 404
    assert client.get("/medewerkers/doorbraken?toon=alle&pagina=abc").status_code == 200
    assert client.get(f"/medewerkers/doorbraken/{second}").status_code == 200
