"""The signal pages in Debian's Chromium: axe-core (WCAG 2.1 A/AA), keyboard, CSS, CSP.

A real server over the demo municipality; a filer files a signal through the form (first with a
BSN in it, which is refused next to the field), and the rule's owner answers it. Every page on
the way, errors included, is checked as the portal's own browser test checks its pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from glazenstad.db.engine import make_engine
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.browser import (
    Visitor,
    check_loaded,
    log_in_staff,
    require_assets,
    screenshots,
    submit,
    visiting,
)
from tests.conftest import serving
from tests.insight.test_signals_setup import Decisions, demo_decisions

pytestmark = pytest.mark.browser

REASON = "Ik vervang een zieke collega en kan het dossier van haar cliënt niet openen."
ANSWER = "Bij ziekte van een collega mag u het dossier openen met noodtoegang en een reden."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Decisions]]:
    require_assets()
    data_dir = tmp_path_factory.mktemp("signals-browser")
    url = f"sqlite:///{data_dir / 'glazenstad.sqlite3'}"
    app = create_app(Settings(database_url=url, data_dir=data_dir, mode="demo"))
    engine = make_engine(url)
    decisions = demo_decisions(engine)
    engine.dispose()
    with serving(app) as base:
        yield base, decisions


@pytest.fixture(scope="module")
def visitor(server: tuple[str, Decisions]) -> Iterator[Visitor]:
    with visiting() as visitor:
        yield visitor


def test_filing_and_answering_a_signal_in_the_browser(
    visitor: Visitor, server: tuple[str, Decisions], tmp_path: Path
) -> None:
    base, decisions = server
    page = visitor.page
    report: list[str] = []

    def check(name: str) -> None:
        report.extend(f"{name}: {problem}" for problem in check_loaded(visitor))

    log_in_staff(page, base, "wmo-consulent")
    page.goto(f"{base}/medewerkers/signalen", wait_until="load")
    check("signalen (leeg)")
    # From the list: type the decision number of the denial.
    page.get_by_label("Beslissingsnummer").fill(decisions.two_rules)
    submit(page, "Verder")
    assert urlsplit(page.url).path == "/medewerkers/signalen/nieuw"
    check("signaal indienen (twee regels)")
    page.get_by_label(
        "Dossiers in het sociaal domein alleen inzien in kantoortijd", exact=False
    ).check()
    page.get_by_label("Waarom houdt deze regel uw werk tegen?").fill(
        "Het gaat om BSN 999993653; ik werk 's avonds aan spoedzaken."
    )
    assert submit(page, "Signaal indienen").status == 400
    assert page.locator(".gs-error-summary").count() == 1
    assert page.locator("#toelichting[aria-invalid=true]").count() == 1
    check("signaal indienen (fout: BSN)")
    target = screenshots(tmp_path)
    page.screenshot(path=str(target / "portal-signaal-indienen.png"), full_page=True)
    page.get_by_label("Waarom houdt deze regel uw werk tegen?").fill(REASON)
    assert submit(page, "Signaal indienen").status == 200
    assert "ingediend=1" in page.url
    detail = urlsplit(page.url).path
    assert page.get_by_role("status").count() >= 1
    check("signaal (ingediend)")
    page.goto(f"{base}/medewerkers/signalen/nieuw?besluit={decisions.permit}", wait_until="load")
    check("signaal indienen (fout: toestemming)")
    page.goto(f"{base}/medewerkers/signalen", wait_until="load")
    check("signalen (indiener)")

    log_in_staff(page, base, "beleidsadviseur-sociaal-domein")
    page.goto(f"{base}/medewerkers/signalen", wait_until="load")
    assert page.get_by_role("heading", name="Wacht op uw antwoord").count() == 1
    check("signalen (eigenaar)")
    page.goto(base + detail, wait_until="load")
    check("signaal (te behandelen)")
    submit(page, "Opslaan")  # the only next step is preselected: under review
    page.get_by_label("Afronden: de regel blijft, met uitleg").check()
    assert submit(page, "Opslaan").status == 400  # closing needs an answer
    assert page.locator("#antwoord[aria-invalid=true]").count() == 1
    check("signaal (fout: geen antwoord)")
    page.get_by_label("Afronden: de regel blijft, met uitleg").check()
    page.get_by_label("Antwoord aan de indiener").fill(ANSWER)
    assert submit(page, "Opslaan").status == 200
    assert page.get_by_text(ANSWER).count() >= 1
    check("signaal (afgerond)")
    page.screenshot(path=str(target / "portal-signaal.png"), full_page=True)
    assert not report, "\n".join(report)
