"""The signal pages of the staff portal: filing from a denial, following it, answering it.

A real application over the demo municipality (SQLite), logged in as demo staff; decisions are
real denials of the demo policy in the decision log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.insight.signals import Actor, SignalStore
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import login_staff
from tests.insight.test_signals_setup import ORG, Decisions, demo_decisions

LIST = "/medewerkers/signalen"
NEW = "/medewerkers/signalen/nieuw"
REASON = "Ik vervang een zieke collega en kan het dossier van haar cliënt niet openen."
ANSWER = "Bij ziekte van een collega mag u het dossier openen met noodtoegang en een reden."
EVERYONE = Actor("test", ORG, may_triage_all=True)


class Portal(NamedTuple):
    app: Any
    url: str
    decisions: Decisions

    def client(self, user: str | None = None) -> TestClient:
        client = TestClient(self.app)
        if user is not None:
            login_staff(client, user)
        return client

    def signals(self) -> list[Any]:
        engine = make_engine(self.url)
        try:
            return SignalStore(engine).search(EVERYONE)
        finally:
            engine.dispose()


@pytest.fixture
def portal(sqlite_url: str, tmp_path: Path) -> Iterator[Portal]:
    app = create_app(Settings(database_url=sqlite_url, data_dir=tmp_path, mode="demo"))
    engine = make_engine(sqlite_url)
    decisions = demo_decisions(engine)
    engine.dispose()
    with TestClient(app):  # runs the application's start-up once
        yield Portal(app, sqlite_url, decisions)


def token(page: Any) -> str:
    match = re.search(r'name="formulier_token" value="([^"]+)"', page.text)
    assert match, "the page has no form token"
    return match.group(1)


def submit(client: TestClient, page: Any, path: str, **fields: str) -> Any:
    return client.post(
        path, data={"formulier_token": token(page), **fields}, follow_redirects=False
    )


def test_signal_pages_need_a_login_and_a_signal_permission(portal: Portal) -> None:
    anonymous = portal.client()
    for path in (LIST, NEW, f"{LIST}/1"):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/medewerkers/inloggen?terug=")
    manager = portal.client("informatiemanager")
    assert manager.get(LIST).status_code == 403
    assert manager.get(NEW).status_code == 403
    # Owners may read and answer, but filing is for those who do the work.
    owner = portal.client("beleidsadviseur-sociaal-domein")
    assert owner.get(LIST).status_code == 200
    assert owner.get(NEW).status_code == 403


def test_filing_from_a_denial_shows_it_and_stores_the_signal(portal: Portal) -> None:
    client = portal.client("wmo-consulent")
    listing = client.get(LIST)
    assert listing.status_code == 200 and "Een signaal indienen" in listing.text
    form = client.get(NEW, params={"besluit": portal.decisions.own_file})
    assert form.status_code == 200
    assert "Een consulent opent alleen dossiers waaraan hij is toegewezen" in form.text
    assert "Afdeling Sociaal Domein" in form.text
    assert "Geen spelregel staat het toe" not in form.text
    assert "Schrijf geen persoonsgegevens" in form.text
    # Without the form token: refused.
    refused = client.post(NEW, data={"besluit": portal.decisions.own_file, "toelichting": REASON})
    assert refused.status_code == 403
    # With a BSN: the error next to the field, the text kept, nothing stored.
    bsn = "Inwoner 999993653 moet vandaag nog geholpen worden."
    answer = submit(client, form, NEW, besluit=portal.decisions.own_file, toelichting=bsn)
    assert answer.status_code == 400
    assert "burgerservicenummer (BSN)" in answer.text and 'aria-invalid="true"' in answer.text
    # The text comes back to correct, without the number: never on a page, never stored.
    assert "999993653" not in answer.text
    assert "Inwoner [weggehaald] moet vandaag nog geholpen worden." in answer.text
    assert portal.signals() == []
    done = submit(client, form, NEW, besluit=portal.decisions.own_file, toelichting=REASON)
    assert done.status_code == 303
    (signal,) = portal.signals()
    assert done.headers["location"] == f"{LIST}/{signal.id}?ingediend=1"
    assert (signal.rule_id, signal.filed_by, signal.text) == (
        "alleen-eigen-dossier",
        "wmo-consulent",
        REASON,
    )
    detail = client.get(done.headers["location"])
    assert "Uw signaal is ingediend" in detail.text and REASON in detail.text
    assert "C. Mulder" in detail.text  # names from the staff directory
    assert "Signaal behandelen" not in detail.text  # the filer does not triage
    assert f"Signaal {signal.id}" in client.get(LIST).text
    again = submit(client, form, NEW, besluit=portal.decisions.own_file, toelichting=REASON)
    assert again.status_code == 409 and "al een signaal" in again.text


def test_the_form_says_what_is_wrong_with_the_decision_or_the_choice(portal: Portal) -> None:
    client = portal.client("wmo-consulent")
    empty = client.get(NEW)
    assert empty.status_code == 200 and 'id="besluit"' in empty.text
    permit = client.get(NEW, params={"besluit": portal.decisions.permit})
    assert permit.status_code == 400 and "toestemming" in permit.text
    unknown = client.get(NEW, params={"besluit": "geen-nummer"})
    assert unknown.status_code == 400 and "staat niet in het beslissingenlogboek" in unknown.text
    two = client.get(NEW, params={"besluit": portal.decisions.two_rules})
    assert two.text.count('type="radio"') == 2
    unchosen = submit(client, two, NEW, besluit=portal.decisions.two_rules, toelichting=REASON)
    assert unchosen.status_code == 400 and "Kies over welke regel" in unchosen.text
    chosen = submit(
        client,
        two,
        NEW,
        besluit=portal.decisions.two_rules,
        regel="kantoortijd-sociaal-domein",
        toelichting=REASON,
    )
    assert chosen.status_code == 303
    assert portal.signals()[0].rule_id == "kantoortijd-sociaal-domein"
    nothing = client.get(NEW, params={"besluit": portal.decisions.unknown_purpose})
    assert "Geen regel: het doel staat niet in het verwerkingsregister" in nothing.text
    short = submit(
        client, nothing, NEW, besluit=portal.decisions.unknown_purpose, toelichting="kort"
    )
    assert short.status_code == 400 and "ten minste 10 tekens" in short.text


def test_the_owner_answers_and_the_filer_reads_it(portal: Portal) -> None:
    filer = portal.client("wmo-consulent")
    form = filer.get(NEW, params={"besluit": portal.decisions.own_file})
    location = submit(
        filer, form, NEW, besluit=portal.decisions.own_file, toelichting=REASON
    ).headers["location"]
    path = location.split("?")[0]
    owner = portal.client("beleidsadviseur-sociaal-domein")
    listing = owner.get(LIST)
    assert "Wacht op uw antwoord" in listing.text
    page = owner.get(path)
    assert "Signaal behandelen" in page.text and "In behandeling nemen" in page.text
    step = submit(owner, page, f"{path}/behandelen", status="under_review", antwoord="")
    assert step.status_code == 303 and step.headers["location"] == f"{path}?bijgewerkt=1"
    page = owner.get(path)
    assert "Afronden: de regel blijft, met uitleg" in page.text
    missing = submit(owner, page, f"{path}/behandelen", status="explained", antwoord="")
    assert missing.status_code == 400 and "Schrijf een antwoord" in missing.text
    assert f'action="{path}/behandelen"' in missing.text  # the form still posts to the signal
    plate = submit(
        owner, page, f"{path}/behandelen", status="explained", antwoord="Auto 12-BBB-3 mag."
    )
    assert plate.status_code == 400 and "kenteken" in plate.text
    assert "12-BBB-3" not in plate.text
    wrong = submit(owner, page, f"{path}/behandelen", status="new", antwoord=ANSWER)
    assert wrong.status_code == 409
    closed = submit(owner, page, f"{path}/behandelen", status="explained", antwoord=ANSWER)
    assert closed.status_code == 303
    final = owner.get(path)
    assert "Signaal behandelen" not in final.text and "Uitgelegd" in final.text
    seen = filer.get(path)
    assert ANSWER in seen.text and "B. Bakker" in seen.text
    assert seen.text.count("utrecht-table__row") == 4  # header and three steps
    # The filer may not answer; another owner does not see it; the list filters by state.
    answer = {"status": "rejected", "antwoord": ANSWER, "formulier_token": "x"}
    assert filer.post(f"{path}/behandelen", data=answer).status_code == 403
    assert portal.client("beleidsadviseur-werk-inkomen").get(path).status_code == 404
    assert "Geen signalen gevonden" in owner.get(LIST, params={"status": "new"}).text
    assert "Signaal 1" in owner.get(LIST, params={"status": "explained"}).text
