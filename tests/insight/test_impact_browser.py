"""The impact page in Debian's Chromium: axe-core (WCAG 2.1 A/AA), keyboard, CSS, CSP.

A policy advisor chooses the draft and a period with the form, as with a mouse or keyboard, and
reads the outcome; the form with a wrong period is checked too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glazenstad.db.engine import make_engine
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from glazenstad.web.portal.assets import MissingAssetError, build_assets, vendor_dir
from tests.conftest import serving
from tests.insight.test_impact_setup import Seeded, seed_impact
from tests.portal.test_portal_browser import (
    AXE,
    CHROMIUM,
    CHROMIUM_ARGS,
    NODE_MODULES,
    Visitor,
    _check_loaded,
    _missing,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    try:
        build_assets(NODE_MODULES, vendor_dir())
    except MissingAssetError as exc:
        _missing(str(exc))
    data_dir = tmp_path_factory.mktemp("impact-browser")
    url = f"sqlite:///{data_dir / 'glazenstad.sqlite3'}"
    app = create_app(Settings(database_url=url, data_dir=data_dir, mode="demo"))
    engine = make_engine(url)
    seeded = seed_impact(engine)
    engine.dispose()
    with serving(app) as base:
        yield base, seeded


@pytest.fixture(scope="module")
def visitor(server: tuple[str, Seeded]) -> Iterator[Visitor]:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} not found (apt-get install chromium)")
    if not AXE.exists():
        _missing(f"{AXE} not found (run `npm ci`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        context.add_init_script(path=str(AXE))
        context.add_init_script(
            "window.__csp = [];"
            "document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        try:
            yield Visitor(context.new_page(), requests, [])
        finally:
            context.close()
            browser.close()


def submit(page: Any, name: str) -> Any:
    with page.expect_navigation(wait_until="load") as navigation:
        page.get_by_role("button", name=name).click()
    return navigation.value


def test_a_policy_advisor_reckons_with_a_draft(
    visitor: Visitor, server: tuple[str, Seeded], tmp_path: Path
) -> None:
    base, seeded = server
    page = visitor.page
    report: list[str] = []

    def check(name: str) -> None:
        report.extend(f"{name}: {problem}" for problem in _check_loaded(visitor))

    page.goto(f"{base}/medewerkers/inloggen", wait_until="load")
    page.get_by_label("Medewerker").select_option("beleidsadviseur-sociaal-domein")
    submit(page, "Inloggen")
    page.goto(f"{base}/medewerkers/gevolgen", wait_until="load")
    check("gevolgen (formulier)")
    assert page.get_by_label("Versie van de spelregels").input_value() == seeded.draft

    page.get_by_label("Besluiten van").fill("2026-03-31")
    page.get_by_label("Tot en met").fill("2026-03-01")
    submit(page, "Reken de gevolgen door")
    assert page.get_by_role("alert").count() == 1
    check("gevolgen (fout: periode)")

    page.get_by_label("Besluiten van").fill("2026-03-01")
    page.get_by_label("Tot en met").fill("2026-03-31")
    assert submit(page, "Reken de gevolgen door").status == 200
    status = page.get_by_role("status")
    assert "5 van de 7 besluiten" in status.inner_text()
    assert page.get_by_role("table").count() == 3
    assert page.get_by_role("heading", name="Voorbeelden").count() == 1
    check("gevolgen (uitkomst)")
    target = os.environ.get("PORTAL_SCREENSHOTS") or str(tmp_path)
    page.screenshot(path=str(Path(target) / "portal-gevolgen.png"), full_page=True)
    assert not report, "\n".join(report)
