"""The council report in Debian's Chromium: the staff page and the document pass axe-core.

The staff page is checked as every portal page is (NL Design System CSS, skip link, axe, CSP);
the report document itself is checked with axe (WCAG 2.1 A/AA) and for its own policy: its
inline stylesheet must apply (allowed by hash) and nothing may be blocked or fetched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.browser import (
    Visitor,
    axe_problems,
    check_loaded,
    log_in_staff,
    require_assets,
    screenshots,
    visiting,
)
from tests.conftest import serving
from tests.insight.report_setup import PERIOD_KEY, written_database

pytestmark = pytest.mark.browser
PAGE = "/medewerkers/verantwoording"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_assets()
    written = written_database(tmp_path_factory.mktemp("report-browser"), every=6)
    app = create_app(Settings(database_url=written.url, data_dir=written.folder, mode="demo"))
    with serving(app) as base:
        yield base


@pytest.fixture(scope="module")
def visitor(server: str) -> Iterator[Visitor]:
    with visiting() as visitor:
        yield visitor


def _screenshot(page: Any, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(screenshots(tmp_path) / name), full_page=True)


def test_the_report_page_and_the_document_pass_axe(
    visitor: Visitor, server: str, tmp_path: Path
) -> None:
    page = visitor.page
    log_in_staff(page, server, "informatiemanager", back=PAGE)
    assert page.url.endswith(PAGE)
    problems = [f"form: {p}" for p in check_loaded(visitor)]

    page.get_by_label("Periode").fill("2026-Q5")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Verslag maken").click()
    assert page.locator(".gs-error-summary").count() == 1
    problems += [f"form with error: {p}" for p in check_loaded(visitor)]

    page.get_by_label("Periode").fill(PERIOD_KEY)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Verslag maken").click()
    assert page.get_by_role("heading", name="Verslag over september 2026").count() == 1
    problems += [f"summary: {p}" for p in check_loaded(visitor)]
    _screenshot(page, tmp_path, "portal-verantwoording.png")

    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Verslag bekijken").click()
    assert page.url.endswith(f"{PAGE}/{PERIOD_KEY}/verslag.html")
    assert page.evaluate("document.documentElement.lang") == "nl"
    styles = page.evaluate(
        """() => ({
            h2: getComputedStyle(document.querySelector('h2')).borderBottomStyle,
            width: getComputedStyle(document.body).maxInlineSize,
            charts: document.querySelectorAll('figure svg[role=img]').length,
        })"""
    )
    assert styles["h2"] == "solid", f"the inline stylesheet did not apply: {styles}"
    assert styles["charts"] >= 7
    problems += [f"document: {p}" for p in axe_problems(page)]
    _screenshot(page, tmp_path, "verantwoording-verslag.png")
    foreign = [u for u in visitor.requests if not u.startswith(server)]
    assert not foreign, foreign
    assert not problems, "\n".join(problems)
