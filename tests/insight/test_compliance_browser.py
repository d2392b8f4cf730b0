"""The staff page "Naleving" in Debian's Chromium: axe-core (WCAG 2.1 A/AA), keyboard, CSS, CSP.

A real server over the demo municipality with evidence on the page (records under an activity
that is not in the register, an unregistered sensor, a stored snapshot for the history table),
checked as the portal's own browser test checks its pages.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from glazenstad.db.engine import make_engine
from glazenstad.execution.mqtt import Message
from glazenstad.execution.sensors import SensorPipeline, encode_reading, sensor_topic
from glazenstad.insight.compliance import run_checks, store_snapshot
from glazenstad.register.store import RegisterStore
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from glazenstad.web.portal.assets import MissingAssetError, build_assets, vendor_dir
from tests.conftest import serving
from tests.gateway.conftest import load_demo
from tests.insight.test_compliance_support import ingest, record
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

ORG = "voorbeeldstad"
UNKNOWN = "https://voorbeeldstad.example/register/processing-activities/geheim-project"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        build_assets(NODE_MODULES, vendor_dir())
    except MissingAssetError as exc:
        _missing(str(exc))
    data_dir = tmp_path_factory.mktemp("compliance-browser")
    url = f"sqlite:///{data_dir / 'glazenstad.sqlite3'}"
    app = create_app(Settings(database_url=url, data_dir=data_dir, mode="demo"))
    engine = make_engine(url)
    load_demo(engine)
    now = datetime.now(UTC) + timedelta(milliseconds=5)
    ingest(engine, [record(UNKNOWN, now), record(UNKNOWN, now)], organisation=ORG)
    pipeline = SensorPipeline(engine, RegisterStore(engine), clock=lambda: now)
    pipeline.handle(
        [
            Message(
                topic=sensor_topic(ORG, "onbekende-sensor"),
                payload=encode_reading(now - timedelta(minutes=1), {"pm25": 9.0}),
                qos=1,
                received_at=now,
            )
        ]
    )
    report = run_checks(engine, RegisterStore(engine), ORG, now + timedelta(seconds=1))
    store_snapshot(engine, report, stored_by="test")
    engine.dispose()
    with serving(app) as base:
        yield base


@pytest.fixture(scope="module")
def visitor(server: str) -> Iterator[Visitor]:
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


def _login(page: Any, base: str, user: str) -> None:
    page.goto(f"{base}/medewerkers/inloggen?terug=/medewerkers/naleving", wait_until="load")
    page.get_by_label("Medewerker").select_option(user)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Inloggen").click()


def test_compliance_page_passes_axe_and_shows_the_evidence(
    visitor: Visitor, server: str, tmp_path: Path
) -> None:
    page = visitor.page
    _login(page, server, "fg")
    assert page.url.endswith("/medewerkers/naleving")
    problems = _check_loaded(visitor)
    assert page.get_by_role("heading", name="Naleving: wat er echt gebeurde").count() == 1
    assert page.get_by_role("heading", name="NA001 Verwerking zonder geregistreerd doel").count()
    assert page.get_by_text("onbekende-sensor").count() >= 1
    assert page.get_by_role("table", name="Eerdere metingen, nieuwste eerst").count() == 1
    # The list of checks links to each check on the page.
    page.get_by_role("link", name="NA008 Sensor stuurt gegevens zonder registratie").click()
    assert page.evaluate("location.hash") == "#na008"
    target = os.environ.get("PORTAL_SCREENSHOTS") or str(tmp_path)
    page.screenshot(path=str(Path(target) / "portal-naleving.png"), full_page=True)
    assert not problems, "\n".join(problems)
