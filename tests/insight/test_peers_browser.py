"""The peer-comparison pages in Debian's Chromium: axe-core (WCAG 2.1 A/AA), keyboard, CSS, CSP.

A real server over the demo register, whose two municipalities make a comparison possible;
Duinwijk already publishes its figures. The information manager of Voorbeeldstad reads the
staff page without a standing, makes a mistake in the form, then chooses to publish and sees
the standing; the public page is checked before and after. Every page on the way is checked as
the portal's own browser test checks its pages.

Set PORTAL_SCREENSHOTS=<dir> to keep the screenshots of both pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from glazenstad.db.engine import make_engine
from glazenstad.insight.peers.publication import MAX_NOTE, set_published
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.browser import (
    Visitor,
    check_loaded,
    foreign_requests,
    log_in_staff,
    require_assets,
    screenshots,
    submit,
    visiting,
)
from tests.conftest import DEMO_REGISTER, serving

pytestmark = pytest.mark.browser

PUBLIC = "/vergelijking"
STAFF = "/medewerkers/vergelijking"
NOTE = "Afgesproken in het managementteam."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_assets()
    data_dir = tmp_path_factory.mktemp("peers-browser")
    url = f"sqlite:///{data_dir / 'glazenstad.sqlite3'}"
    app = create_app(Settings(database_url=url, data_dir=data_dir, mode="demo"))
    engine = make_engine(url)
    load_register(engine, DEMO_REGISTER, approved_by="test-approver")
    set_published(engine, "duinwijk", True, by="duinwijk-fg", note="Wij doen mee.")
    engine.dispose()
    with serving(app) as base:
        yield base


@pytest.fixture(scope="module")
def visitor(server: str) -> Iterator[Visitor]:
    with visiting() as visitor:
        yield visitor


def test_comparing_and_choosing_to_publish_in_the_browser(
    visitor: Visitor, server: str, tmp_path: Path
) -> None:
    page = visitor.page
    report: list[str] = []
    shots = screenshots(tmp_path)

    def check(name: str) -> None:
        report.extend(f"{name}: {problem}" for problem in check_loaded(visitor))

    page.goto(server + "/", wait_until="load")
    menu = page.get_by_role("navigation").get_by_role("link", name="Gemeenten vergeleken")
    with page.expect_navigation(wait_until="load") as navigation:
        menu.click()  # two municipalities in the register: comparing is in the menu
    assert navigation.value.status == 200 and urlsplit(page.url).path == PUBLIC
    assert menu.get_attribute("aria-current") == "page"
    assert page.get_by_role("table", name="Cijfers van 1 gemeente").count() == 1
    assert page.get_by_role("rowheader", name="Gemeente Duinwijk").count() == 1
    check("vergelijking (openbaar, één gemeente)")

    log_in_staff(page, server, "informatiemanager")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Vergelijking met andere gemeenten").click()
    assert urlsplit(page.url).path == STAFF
    assert page.get_by_role("table", name="Onze cijfers").count() == 1
    assert page.get_by_label("Nee, deel ze niet").is_checked()
    check("vergelijking (medewerkers, deelt niet)")

    page.get_by_label("Ja, deel onze cijfers").check()
    page.get_by_label("Toelichting (niet verplicht)").fill("x" * (MAX_NOTE + 1))
    assert submit(page, "Keuze opslaan").status == 400
    assert page.get_by_role("alert").count() == 1
    check("vergelijking (fout: toelichting te lang)")

    page.get_by_label("Ja, deel onze cijfers").check()
    page.get_by_label("Toelichting (niet verplicht)").fill(NOTE)
    assert submit(page, "Keuze opslaan").status == 200
    assert urlsplit(page.url).path == STAFF
    standing = "Onze cijfers en onze plaats tussen 2 gemeenten die meedoen"
    assert page.get_by_role("table", name=standing).count() == 1
    assert page.get_by_role("cell", name=NOTE).count() == 1
    check("vergelijking (medewerkers, deelt)")
    page.screenshot(path=str(shots / "portal-vergelijking-medewerkers.png"), full_page=True)

    page.goto(server + PUBLIC, wait_until="load")
    assert page.get_by_role("table", name="Cijfers van 2 gemeenten").count() == 1
    assert page.get_by_role("rowheader", name="Gemeente Voorbeeldstad").count() == 1
    check("vergelijking (openbaar, twee gemeenten)")
    page.screenshot(path=str(shots / "portal-vergelijking.png"), full_page=True)
    assert not visitor.failed_css, visitor.failed_css
    assert not foreign_requests(visitor), foreign_requests(visitor)
    assert not report, "\n".join(report)
