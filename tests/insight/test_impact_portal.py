"""The impact page for staff (/medewerkers/gevolgen), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import login_staff
from tests.insight.test_impact_setup import Seeded, seed_impact

PAGE = "/medewerkers/gevolgen"
MARCH = "van=2026-03-01&tot=2026-03-31"


class Portal(NamedTuple):
    client: TestClient
    seeded: Seeded


@pytest.fixture
def portal(database_url: str, tmp_path: Path) -> Iterator[Portal]:
    engine = make_engine(database_url)
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path, mode="demo"))
    seeded = seed_impact(engine)
    engine.dispose()
    with TestClient(app) as client:
        yield Portal(client, seeded)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_form_lists_drafts_first_and_runs_nothing_yet(portal: Portal) -> None:
    login_staff(portal.client, "beleidsadviseur-sociaal-domein")
    page = portal.client.get(PAGE)
    assert page.status_code == 200, page.text
    options = re.findall(r'<option value="([0-9a-f]{64})"( selected)?>([^<]*)</option>', page.text)
    assert options[0][0] == portal.seeded.draft and options[0][1] == " selected"
    assert "concept" in options[0][2]
    assert any(value == portal.seeded.active and "geldt nu" in label for value, _, label in options)
    assert "Uitkomst" not in page.text  # nothing replayed before the form is sent


def test_a_policy_advisor_sees_the_changes_with_examples(portal: Portal) -> None:
    login_staff(portal.client, "beleidsadviseur-sociaal-domein")
    page = portal.client.get(f"{PAGE}?versie={portal.seeded.draft}&{MARCH}")
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    assert "Met deze versie waren 5 van de 7 besluiten anders geweest." in text
    assert "Was ja, wordt nee 3" in text and "Was nee, wordt ja 2" in text
    # Per activity, rule and department, as tables with their captions.
    assert "Besluiten per verwerking die anders uitvallen" in text
    assert re.search(r"Ondersteuning via de Wmo \(maatwerkvoorzieningen\) 5 3 0 0", text)
    assert re.search(r"Dossiers in het sociaal domein alleen inzien in kantoortijd 3 0 0", text)
    assert re.search(r"Werk en Inkomen 2 0 2 0", text)
    # Examples with the explanation of the new version; no residents' pseudonyms.
    assert "Was ja, wordt nee: Burgerservicenummer (BSN) inzien" in text
    assert "Was nee, wordt ja: Gegevens over gezondheid inzien" in text
    assert "Nee. U mag bsn niet inzien" in text
    assert "3 maart 2026 om 17.30 uur" in text
    assert "nog 2 in deze periode" in text
    assert portal.seeded.decision_ids["permit_to_deny"][0] in text
    assert "k1:" not in page.text


def test_wrong_input_is_said_on_the_page(portal: Portal) -> None:
    login_staff(portal.client, "fg")
    backwards = portal.client.get(
        f"{PAGE}?versie={portal.seeded.draft}&van=2026-03-31&tot=2026-03-01"
    )
    assert backwards.status_code == 200
    assert "De eerste datum ligt na de tweede" in backwards.text
    assert "Uitkomst" not in backwards.text
    unknown = portal.client.get(f"{PAGE}?versie={'0' * 12}&{MARCH}")
    assert "Deze versie van de spelregels bestaat niet" in unknown.text


def test_staff_without_the_permission_or_a_session(portal: Portal) -> None:
    anonymous = portal.client.get(PAGE, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/medewerkers/inloggen?terug=")
    login_staff(portal.client, "teamleider-sociaal-domein")
    forbidden = portal.client.get(PAGE)
    assert forbidden.status_code == 403
