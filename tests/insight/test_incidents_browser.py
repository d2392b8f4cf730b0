"""The breach and review pages in Debian's Chromium: axe-core (WCAG 2.1 A/AA), keyboard, CSS, CSP.

A real server over the demo municipality. The privacy officer registers a breach through the
form (first with a moment that does not exist in Dutch time, which is refused next to the
field), records the decisions, sizes it from the logbook; a team leader reviews a
break-the-glass decision. Every page on the way, errors included, is checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
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
from tests.insight.test_incidents_support import (
    MARCH_2,
    emergency_request,
    load_demo,
    record_decisions,
)

pytestmark = [pytest.mark.heavy, pytest.mark.browser]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    require_assets()
    data_dir = tmp_path_factory.mktemp("incidents-browser")
    url = f"sqlite:///{data_dir / 'glazenstad.sqlite3'}"
    app = create_app(Settings(database_url=url, data_dir=data_dir, mode="demo"))
    engine = make_engine(url)
    load_demo(engine)
    decisions = record_decisions(
        engine, [emergency_request(), emergency_request()], [MARCH_2, MARCH_2 + timedelta(hours=1)]
    )
    engine.dispose()
    with serving(app) as base:
        yield base, decisions


@pytest.fixture(scope="module")
def visitor(server: tuple[str, list[str]]) -> Iterator[Visitor]:
    with visiting() as visitor:
        yield visitor


def test_breach_and_review_pages_in_the_browser(
    visitor: Visitor, server: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, decisions = server
    page = visitor.page
    report: list[str] = []
    shots = screenshots(tmp_path)

    def check(name: str) -> None:
        report.extend(f"{name}: {problem}" for problem in check_loaded(visitor))

    log_in_staff(page, base, "fg")
    page.goto(f"{base}/medewerkers/datalekken", wait_until="load")
    check("datalekken (leeg)")
    page.get_by_role("link", name="Een datalek registreren").click()
    page.wait_for_load_state("load")
    check("datalek registreren")
    page.get_by_label("Korte omschrijving").fill("Brief naar oud adres")
    page.get_by_label("Wat is er gebeurd?").fill("Een Wmo-brief is naar een oud adres gestuurd.")
    page.get_by_label("Wanneer is het datalek ontdekt?").fill("2026-03-29T02:30")
    page.get_by_label("Ondersteuning via de Wmo", exact=False).check()
    assert submit(page, "Registreren").status == 400
    assert page.locator("#ontdekt[aria-invalid=true]").count() == 1
    check("datalek registreren (fout: tijdstip bestaat niet)")
    page.screenshot(path=str(shots / "portal-datalek-registreren.png"), full_page=True)
    page.get_by_label("Wanneer is het datalek ontdekt?").fill("2026-10-24T10:00")
    page.get_by_label("Wanneer begon het?", exact=False).fill("2026-10-22T09:00")
    assert submit(page, "Registreren").status == 200
    detail = urlsplit(page.url).path
    assert page.get_by_text("dinsdag 27 oktober 2026 om 09.00 uur").count() == 1
    check("datalek (geregistreerd)")

    # Two forms have a "Besluit opslaan" button: the AP's is the first.
    with page.expect_navigation(wait_until="load") as navigation:
        page.locator("form[action$='/ap'] button[type=submit]").click()
    assert navigation.value.status == 400
    assert page.locator(".gs-error-summary").count() == 1
    assert page.locator("#ap-melden-fout").count() == 1
    check("datalek (fout: besluit zonder keuze)")
    page.get_by_label("Ja, melden").check()
    page.locator("#ap-reden").fill("Gezondheidsgegevens: risico voor de betrokkene.")
    page.locator("#ap-gemeld_op").fill("2026-10-25T09:00")
    page.locator("#ap-kenmerk").fill("M-2026-7")
    with page.expect_navigation(wait_until="load"):
        page.locator("form[action$='/ap'] button[type=submit]").click()
    assert "gedaan=ap" in page.url
    check("datalek (gemeld)")
    page.screenshot(path=str(shots / "portal-datalek.png"), full_page=True)

    page.goto(f"{base}{detail}/omvang", wait_until="load")
    assert page.get_by_role("status").count() >= 1
    check("datalek omvang")
    page.goto(f"{base}{detail}/aanpassen", wait_until="load")
    check("datalek aanpassen")
    page.goto(f"{base}/medewerkers/datalekken", wait_until="load")
    check("datalekken")

    log_in_staff(page, base, "teamleider-sociaal-domein")
    page.goto(f"{base}/medewerkers/doorbraken", wait_until="load")
    check("noodtoegang (lijst)")
    page.goto(f"{base}/medewerkers/doorbraken/{decisions[0]}", wait_until="load")
    check("noodtoegang (besluit)")
    page.get_by_label("Nee, niet terecht").check()
    assert submit(page, "Beoordeling opslaan").status == 400
    assert page.locator("#toelichting[aria-invalid=true]").count() == 1
    check("noodtoegang (fout: geen toelichting)")
    page.get_by_label("Ja, terecht").check()
    assert submit(page, "Beoordeling opslaan").status == 200
    assert page.get_by_text("Uw beoordeling is vastgelegd.").count() == 1
    check("noodtoegang (beoordeeld)")
    page.screenshot(path=str(shots / "portal-noodtoegang.png"), full_page=True)
    assert not report, "\n".join(report)
