"""The dashboard and the home page's figures in Debian's Chromium: axe-core (WCAG 2.1 A/AA),
keyboard, the strict Content-Security-Policy, and the charts as real pictures.

A uvicorn server serves the demo municipalities with the demo policies active and the data of
the dashboard tests (decisions, log records, a review, a signal). A member of staff logs in
through the staff login form, as a person would. The checks per page are those of the portal's
own browser test (`_check_loaded`): lang, NL Design System CSS, skip link, axe, CSP.

Set PORTAL_SCREENSHOTS=<dir> to keep the screenshots of the dashboard and the home page.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from glazenstad.web.portal.assets import MissingAssetError, build_assets, vendor_dir
from tests.conftest import DEMO_REGISTER
from tests.portal.conftest import activate_policies, demo_policies
from tests.portal.test_dashboard import seed
from tests.portal.test_portal_browser import (
    AXE,
    CHROMIUM,
    CHROMIUM_ARGS,
    NODE_MODULES,
    Visitor,
    _axe,
    _check_loaded,
    _free_port,
    _missing,
)

pytestmark = pytest.mark.browser

DASHBOARD = "/medewerkers/dashboard"


@dataclass
class Server:
    url: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    try:
        build_assets(NODE_MODULES, vendor_dir())
    except MissingAssetError as exc:
        _missing(str(exc))
    data_dir = tmp_path_factory.mktemp("dashboard-browser")
    database_url = f"sqlite:///{data_dir / 'glazenstad.sqlite3'}"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(
        Settings(database_url=database_url, data_dir=data_dir, public_url=url, mode="demo")
    )
    engine = make_engine(database_url)
    load_register(engine, DEMO_REGISTER)
    engine.dispose()
    activate_policies(database_url, demo_policies())
    time.sleep(0.002)  # log records made "now" start after the register versions
    seed(app.state.glazenstad)
    uvicorn_server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=uvicorn_server.run, name="dashboard-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uvicorn_server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the portal server did not start")
        time.sleep(0.02)
    try:
        yield Server(url)
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def visitor(server: Server) -> Iterator[Visitor]:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} not found (apt-get install chromium)")
    if not AXE.exists():
        _missing(f"{AXE} not found (run `npm ci`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
        requests: list[str] = []
        failed_css: list[str] = []

        def handle(route: Any, request: Any) -> None:
            if urlsplit(request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                route.abort()

        context.route("**/*", handle)
        context.on("request", lambda request: requests.append(request.url))
        context.add_init_script(path=str(AXE))
        context.add_init_script(
            "window.__csp = [];"
            "document.addEventListener('securitypolicyviolation',"
            " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        try:
            yield Visitor(context.new_page(), requests, failed_css)
        finally:
            context.close()
            browser.close()


def _log_in(visitor: Visitor, server: Server, user: str) -> None:
    page = visitor.page
    page.goto(f"{server.url}{DASHBOARD}", wait_until="load")
    assert urlsplit(page.url).path == "/medewerkers/inloggen"  # asked to log in first
    page.get_by_label("Medewerker").select_option(user)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Inloggen").click()
    assert urlsplit(page.url).path == DASHBOARD  # and back where we wanted to go


def _axe_only(visitor: Visitor) -> list[str]:
    """axe and CSP on the page as it is now (after opening the tables; no reload, no Tab)."""
    problems = [
        f"axe {v['id']} ({v['impact']}): {v['help']}\n      " + "\n      ".join(v["nodes"][:5])
        for v in _axe(visitor.page)
    ]
    return problems + [f"CSP violation: {b}" for b in visitor.page.evaluate("window.__csp")]


def _open_all_details(visitor: Visitor) -> int:
    opened: int = visitor.page.locator("details").evaluate_all(
        "items => { items.forEach(d => d.open = true); return items.length; }"
    )
    return opened


def test_dashboard_and_home_pass_axe(visitor: Visitor, server: Server, tmp_path: Path) -> None:
    page = visitor.page
    report: list[str] = []
    _log_in(visitor, server, "fg")
    report += [f"dashboard: {p}" for p in _check_loaded(visitor)]
    # Every chart is an image with a name, and its table opens below it.
    charts = page.locator("svg[role=img]")
    assert charts.count() >= 4
    for index in range(charts.count()):
        name = page.evaluate(
            "(svg) => svg.getAttribute('aria-labelledby').split(' ')"
            ".map(id => document.getElementById(id).textContent).join(' | ')",
            charts.nth(index).element_handle(),
        )
        assert name.split(" | ")[0], name
    assert _open_all_details(visitor) >= 3
    report += [f"dashboard (tables open): {p}" for p in _axe_only(visitor)]
    target = os.environ.get("PORTAL_SCREENSHOTS") or str(tmp_path)
    page.screenshot(path=str(Path(target) / "portal-dashboard.png"), full_page=True)

    for query in ("?afdeling=Sociaal+Domein&periode=365", "?regel=kantoortijd-sociaal-domein"):
        page.goto(f"{server.url}{DASHBOARD}{query}", wait_until="load")
        report += [f"dashboard{query}: {p}" for p in _check_loaded(visitor)]
    page.goto(f"{server.url}{DASHBOARD}?van=2026-03-10&tot=2026-03-01", wait_until="load")
    assert page.get_by_role("alert").count() == 1
    report += [f"dashboard (wrong dates): {p}" for p in _check_loaded(visitor)]

    page.goto(f"{server.url}/", wait_until="load")
    assert page.locator("#cijfers").count() == 1
    assert page.get_by_role("link", name="Medewerkers").count() == 1  # logged in: in the menu
    report += [f"home: {p}" for p in _check_loaded(visitor)]
    _open_all_details(visitor)
    report += [f"home (tables open): {p}" for p in _axe_only(visitor)]
    page.screenshot(path=str(Path(target) / "portal-home-figures.png"), full_page=True)
    for name in ("dashboard", "home-figures"):
        picture = (Path(target) / f"portal-{name}.png").read_bytes()
        assert picture.startswith(b"\x89PNG") and len(picture) > 20_000, name
    assert not report, "\n".join(report)


def test_filters_and_tables_work_by_keyboard(visitor: Visitor, server: Server) -> None:
    page = visitor.page
    page.goto(f"{server.url}{DASHBOARD}", wait_until="load")
    if urlsplit(page.url).path != DASHBOARD:
        _log_in(visitor, server, "fg")
    page.get_by_label("Afdeling").focus()
    page.get_by_label("Afdeling").select_option("Parkeren")
    page.get_by_role("button", name="Toon").focus()
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    assert "afdeling=Parkeren" in page.url
    assert "Alleen afdeling Parkeren" in page.get_by_role("status").inner_text()
    summary = page.locator("summary").first
    summary.focus()
    page.keyboard.press("Enter")
    assert page.locator("details").first.evaluate("d => d.open")
    table = page.locator("details").first.locator("table")
    assert table.is_visible()
    assert not visitor.failed_css


def test_no_request_leaves_the_host(visitor: Visitor, server: Server) -> None:
    visitor.page.goto(f"{server.url}{DASHBOARD}", wait_until="load")
    foreign = [
        url
        for url in visitor.requests
        if urlsplit(url).scheme not in ("data", "about", "blob")
        and urlsplit(url).hostname != "127.0.0.1"
    ]
    assert visitor.requests and not foreign, foreign
