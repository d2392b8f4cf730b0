"""The impact page in Debian's Chromium: axe-core (WCAG 2.1 A/AA), keyboard, CSS, CSP.

A policy advisor chooses the draft and a period with the form, as with a mouse or keyboard, and
reads the outcome; the form with a wrong period is checked too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
from tests.insight.test_impact_setup import Seeded, seed_impact

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    require_assets()
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
    with visiting() as visitor:
        yield visitor


def test_a_policy_advisor_reckons_with_a_draft(
    visitor: Visitor, server: tuple[str, Seeded], tmp_path: Path
) -> None:
    base, seeded = server
    page = visitor.page
    report: list[str] = []

    def check(name: str) -> None:
        report.extend(f"{name}: {problem}" for problem in check_loaded(visitor))

    log_in_staff(page, base, "beleidsadviseur-sociaal-domein")
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
    page.screenshot(path=str(screenshots(tmp_path) / "portal-gevolgen.png"), full_page=True)
    assert not report, "\n".join(report)
