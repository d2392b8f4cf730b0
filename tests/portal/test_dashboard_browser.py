"""The dashboard and the home page's figures in Debian's Chromium: axe-core (WCAG 2.1 A/AA),
keyboard, the strict Content-Security-Policy, and the charts as real pictures.

A uvicorn server serves the demo municipalities with the demo policies active and the data of
the dashboard tests (decisions, log records, a review, a signal). A member of staff logs in
through the staff login form, as a person would. The checks per page are those of the portal's
own browser test (`tests.browser.check_loaded`): lang, NL Design System CSS, skip link, axe, CSP.

Set PORTAL_SCREENSHOTS=<dir> to keep the screenshots of the dashboard and the home page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from glazenstad.db.engine import make_engine
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.browser import (
    Visitor,
    axe_problems,
    check_loaded,
    foreign_requests,
    require_assets,
    screenshots,
    visiting,
)
from tests.conftest import DEMO_REGISTER, free_port, serving
from tests.portal.conftest import activate_policies, demo_policies
from tests.portal.test_dashboard import seed

pytestmark = pytest.mark.browser

DASHBOARD = "/medewerkers/dashboard"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_assets()
    data_dir = tmp_path_factory.mktemp("dashboard-browser")
    database_url = f"sqlite:///{data_dir / 'glazenstad.sqlite3'}"
    port = free_port()
    app = create_app(
        Settings(
            database_url=database_url,
            data_dir=data_dir,
            public_url=f"http://127.0.0.1:{port}",
            mode="demo",
        )
    )
    engine = make_engine(database_url)
    load_register(engine, DEMO_REGISTER, approved_by="test-approver")
    engine.dispose()
    activate_policies(database_url, demo_policies())
    time.sleep(0.002)  # log records made "now" start after the register versions
    seed(app.state.glazenstad)
    with serving(app, port) as base:
        yield base


@pytest.fixture(scope="module")
def visitor(server: str) -> Iterator[Visitor]:
    with visiting() as visitor:
        yield visitor


def _log_in(visitor: Visitor, server: str, user: str) -> None:
    page = visitor.page
    page.goto(f"{server}{DASHBOARD}", wait_until="load")
    assert urlsplit(page.url).path == "/medewerkers/inloggen"  # asked to log in first
    page.get_by_label("Medewerker").select_option(user)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Inloggen").click()
    assert urlsplit(page.url).path == DASHBOARD  # and back where we wanted to go


def _open_all_details(visitor: Visitor) -> int:
    opened: int = visitor.page.locator("details").evaluate_all(
        "items => { items.forEach(d => d.open = true); return items.length; }"
    )
    return opened


def test_dashboard_and_home_pass_axe(visitor: Visitor, server: str, tmp_path: Path) -> None:
    page = visitor.page
    report: list[str] = []
    _log_in(visitor, server, "fg")
    report += [f"dashboard: {p}" for p in check_loaded(visitor)]
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
    report += [f"dashboard (tables open): {p}" for p in axe_problems(visitor.page)]
    target = screenshots(tmp_path)
    page.screenshot(path=str(target / "portal-dashboard.png"), full_page=True)

    for query in ("?afdeling=Sociaal+Domein&periode=365", "?regel=kantoortijd-sociaal-domein"):
        page.goto(f"{server}{DASHBOARD}{query}", wait_until="load")
        report += [f"dashboard{query}: {p}" for p in check_loaded(visitor)]
    page.goto(f"{server}{DASHBOARD}?van=2026-03-10&tot=2026-03-01", wait_until="load")
    assert page.get_by_role("alert").count() == 1
    report += [f"dashboard (wrong dates): {p}" for p in check_loaded(visitor)]

    page.goto(f"{server}/", wait_until="load")
    assert page.locator("#cijfers").count() == 1
    assert page.get_by_role("link", name="Medewerkers").count() == 1  # logged in: in the menu
    report += [f"home: {p}" for p in check_loaded(visitor)]
    _open_all_details(visitor)
    report += [f"home (tables open): {p}" for p in axe_problems(visitor.page)]
    page.screenshot(path=str(target / "portal-home-figures.png"), full_page=True)
    for name in ("dashboard", "home-figures"):
        picture = (target / f"portal-{name}.png").read_bytes()
        assert picture.startswith(b"\x89PNG") and len(picture) > 20_000, name
    assert not report, "\n".join(report)


def test_filters_and_tables_work_by_keyboard(visitor: Visitor, server: str) -> None:
    page = visitor.page
    page.goto(f"{server}{DASHBOARD}", wait_until="load")
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


def test_no_request_leaves_the_host(visitor: Visitor, server: str) -> None:
    visitor.page.goto(f"{server}{DASHBOARD}", wait_until="load")
    foreign = foreign_requests(visitor)
    assert visitor.requests and not foreign, foreign
