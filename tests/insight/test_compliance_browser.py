"""The staff page "Naleving" in Debian's Chromium: axe-core (WCAG 2.1 A/AA), keyboard, CSS, CSP.

A real server over the demo municipality with evidence on the page (records under an activity
that is not in the register, an unregistered sensor, a stored snapshot for the history table),
checked as the portal's own browser test checks its pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from glazenstad.db.engine import make_engine
from glazenstad.execution.mqtt import Message
from glazenstad.execution.sensors import SensorPipeline, encode_reading, sensor_topic
from glazenstad.insight.compliance import run_checks, store_snapshot
from glazenstad.register.store import RegisterStore
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.browser import (
    Visitor,
    check_loaded,
    log_in_staff,
    require_assets,
    screenshots,
    visiting,
)
from tests.conftest import serving
from tests.gateway.conftest import load_demo
from tests.insight.test_compliance_support import ingest, record

pytestmark = pytest.mark.browser

ORG = "voorbeeldstad"
UNKNOWN = "https://voorbeeldstad.example/register/processing-activities/geheim-project"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_assets()
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
    with visiting() as visitor:
        yield visitor


def test_compliance_page_passes_axe_and_shows_the_evidence(
    visitor: Visitor, server: str, tmp_path: Path
) -> None:
    page = visitor.page
    log_in_staff(page, server, "fg", back="/medewerkers/naleving")
    assert page.url.endswith("/medewerkers/naleving")
    problems = check_loaded(visitor)
    assert page.get_by_role("heading", name="Naleving: wat er echt gebeurde").count() == 1
    assert page.get_by_role("heading", name="NA001 Verwerking zonder geregistreerd doel").count()
    assert page.get_by_text("onbekende-sensor").count() >= 1
    assert page.get_by_role("table", name="Eerdere metingen, nieuwste eerst").count() == 1
    # The list of checks links to each check on the page.
    page.get_by_role("link", name="NA008 Sensor stuurt gegevens zonder registratie").click()
    assert page.evaluate("location.hash") == "#na008"
    page.screenshot(path=str(screenshots(tmp_path) / "portal-naleving.png"), full_page=True)
    assert not problems, "\n".join(problems)
