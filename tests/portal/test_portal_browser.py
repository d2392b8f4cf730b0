"""Every kind of portal page in Debian's Chromium: axe-core (WCAG 2.1 A/AA), keyboard, CSS, network.

A real uvicorn server serves the demo register with the demo policies active (falling back to the
test register, without policies, when the demo is missing or invalid), so every activity page shows
its data-use rules; one browser and one page visit every page in turn, so the whole module stays
fast. The Content-Security-Policy stays on (see tests/browser.py), and a CSP violation by the
page itself is reported.

Set PORTAL_SCREENSHOTS=<dir> to keep the screenshots of the activity list, an activity, its rules
and the rules page that the last test takes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from glazenstad.db.engine import make_engine
from glazenstad.execution.sensors import SensorPipeline, takes_open_data
from glazenstad.execution.simulate_sensors import simulate_sensors
from glazenstad.register.loader import RegisterValidationError, load_register, parse_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.browser import (
    Visitor,
    check_loaded,
    foreign_requests,
    require_assets,
    screenshots,
    visiting,
)
from tests.conftest import DEMO_REGISTER, TEST_REGISTER, free_port, serving
from tests.portal.conftest import activate_policies, demo_policies

pytestmark = [pytest.mark.heavy, pytest.mark.browser]


def _register_tree() -> Path:
    """The demo register when it is valid, else the test register (said in the test output)."""
    try:
        parse_register(DEMO_REGISTER)
    except RegisterValidationError as exc:
        print(f"demo register not usable ({exc}); using {TEST_REGISTER}")
        return TEST_REGISTER
    return DEMO_REGISTER


@dataclass
class LiveServer:
    url: str
    register: Path
    organisations: list[str]
    pages: list[tuple[str, str]]
    # The organisation whose logbook holds RESIDENT_BSN's records (for "Mijn verwerkingen").
    resident_org: str


RESIDENT_BSN = "999993653"


def _resident_records(register_uri: str, activity_ids: list[str]) -> list[dict[str, Any]]:
    """Log records (LDV core format) of the resident, one per activity, starting now."""
    now = int(time.time() * 1000)
    return [
        {
            "trace_id": f"{n + 1:032x}",
            "span_id": f"{n + 1:016x}",
            "name": "Verwerking voor de browsertest",
            "start_time": now + n,
            "end_time": now + n + 5,
            "status": "Ok",
            "attributes": {
                "dpl.core.processing_activity_id": (
                    f"{register_uri}/processing-activities/{activity_id}"
                ),
                "dpl.core.data_subject_id": RESIDENT_BSN,
                "dpl.core.data_subject_id_type": "BSN",
            },
        }
        for n, activity_id in enumerate(activity_ids)
    ]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_assets()
    data_dir = tmp_path_factory.mktemp("portal-browser")
    database_url = f"sqlite:///{data_dir / 'glazenstad.sqlite3'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(Settings(database_url=database_url, data_dir=data_dir, public_url=url))
    register = _register_tree()
    engine = make_engine(database_url)
    load_register(engine, register, approved_by="test-approver")
    engine.dispose()
    if register == DEMO_REGISTER:
        activate_policies(database_url, demo_policies())

    snapshot = app.state.glazenstad.register.snapshot()
    pages = [
        ("home", "/"),
        ("toegankelijkheid", "/toegankelijkheid"),
        ("inloggen", "/inloggen"),
        ("mijn-verwerkingen (niet ingelogd)", "/mijn-verwerkingen"),
    ]
    for org_id, reg in snapshot.organisations.items():
        base = f"/organisaties/{org_id}"
        pages += [
            (f"{org_id}", base),
            (f"{org_id}/verwerkingen", f"{base}/verwerkingen"),
            (f"{org_id}/verwerkingen?gefilterd", f"{base}/verwerkingen?bijzonder=ja&q=e"),
            (f"{org_id}/algoritmes", f"{base}/algoritmes"),
            (f"{org_id}/sensoren", f"{base}/sensoren"),
            (f"{org_id}/spelregels", f"{base}/spelregels"),
        ]
        pages += [
            (f"{org_id}/verwerking/{a.id}", f"{base}/verwerkingen/{a.id}") for a in reg.activities()
        ]
        pages += [
            (f"{org_id}/algoritme/{a.id}", f"{base}/algoritmes/{a.id}") for a in reg.algorithms()
        ]
        pages += [(f"{org_id}/sensor/{s.id}", f"{base}/sensoren/{s.id}") for s in reg.sensors()]
        pages.append((f"{org_id}/metingen", f"{base}/metingen"))
        open_sensors = [s for s in reg.sensors() if takes_open_data(s)]
        pages += [(f"{org_id}/metingen/{s.id}", f"{base}/metingen/{s.id}") for s in open_sensors]
        pages += [
            (f"{org_id}/metingen/{s.id}?dag", f"{base}/metingen/{s.id}?weergave=dag")
            for s in open_sensors[:1]
        ]
    pages.append(("404", "/organisaties/bestaat-niet"))
    resident_org = "voorbeeldstad" if "voorbeeldstad" in snapshot.organisations else ""
    resident_org = resident_org or next(iter(snapshot.organisations))
    resident_reg = snapshot.organisations[resident_org]
    time.sleep(0.002)  # records made "now" start after the register versions were recorded
    app.state.glazenstad.logbook.ingest(
        resident_org,
        _resident_records(resident_reg.org.register_uri, [a.id for a in resident_reg.activities()]),
    )
    # Two days of sensor measurements (and a few from an unregistered sensor), fed in process.
    engine = app.state.glazenstad.engine
    simulate_sensors(
        snapshot,
        rate=200,
        duration=2,
        pipeline=SensorPipeline(engine, app.state.glazenstad.register),
        unregistered=2,
        history=timedelta(days=2),
        realtime=False,
        seed=1,
    )

    with serving(app, port):
        yield LiveServer(url, register, list(snapshot.organisations), pages, resident_org)


@pytest.fixture(scope="module")
def visitor(live_server: LiveServer) -> Iterator[Visitor]:
    with visiting() as visitor:
        yield visitor


def _check_page(visitor: Visitor, base_url: str, path: str) -> list[str]:
    """Everything that is wrong with one page, as readable lines (empty: all good)."""
    response = visitor.page.goto(base_url + path, wait_until="load")
    expected_status = 404 if path == "/organisaties/bestaat-niet" else 200
    if response is None or response.status != expected_status:
        return [f"status {response.status if response else None}, expected {expected_status}"]
    return check_loaded(visitor)


def test_every_page_passes_axe_and_the_basics(visitor: Visitor, live_server: LiveServer) -> None:
    report: list[str] = []
    for name, path in live_server.pages:
        for problem in _check_page(visitor, live_server.url, path):
            report.append(f"{name} ({path}): {problem}")
    activities = sum(1 for name, _ in live_server.pages if "/verwerking/" in name)
    print(
        f"checked {len(live_server.pages)} pages, {activities} activities, {live_server.register}"
    )
    assert not visitor.failed_css, visitor.failed_css
    assert not report, "\n".join(report)


def test_resident_login_and_overview_pass_axe(visitor: Visitor, live_server: LiveServer) -> None:
    """The login form with an error, the filled "Mijn verwerkingen" page, and logging out."""
    page = visitor.page
    report: list[str] = []
    page.goto(live_server.url + "/inloggen", wait_until="load")
    page.get_by_label("Burgerservicenummer (BSN)").fill("123456789")
    with page.expect_navigation(wait_until="load") as navigation:
        page.get_by_role("button", name="Inloggen").click()
    assert navigation.value.status == 400
    assert page.locator(".gs-error-summary").count() == 1
    report += [f"inloggen (fout): {p}" for p in check_loaded(visitor)]

    page.get_by_label("Organisatie").select_option(live_server.resident_org)
    page.get_by_label("Burgerservicenummer (BSN)").fill(RESIDENT_BSN)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Inloggen").click()
    assert urlsplit(page.url).path == "/mijn-verwerkingen"
    assert page.locator(".gs-mine .gs-result").count() > 0
    assert page.locator(".gs-mine a[href^='http']").count() > 0  # links to the law
    assert RESIDENT_BSN not in page.content()
    report += [f"mijn-verwerkingen (ingelogd): {p}" for p in check_loaded(visitor)]
    if os.environ.get("PORTAL_SCREENSHOTS"):
        target = Path(os.environ["PORTAL_SCREENSHOTS"]) / "portal-mijn-verwerkingen.png"
        page.screenshot(path=str(target), full_page=True)

    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Uitloggen").click()
    assert page.locator(".gs-mine").count() == 0
    assert page.get_by_role("link", name="Inloggen om uw verwerkingen te zien").count() == 1
    assert not report, "\n".join(report)


def test_no_request_leaves_the_portal_host(visitor: Visitor, live_server: LiveServer) -> None:
    visitor.page.goto(live_server.url + "/", wait_until="load")
    assert visitor.requests, "no requests were recorded"
    foreign = foreign_requests(visitor)
    assert not foreign, foreign


def test_skip_link_moves_to_the_main_content(visitor: Visitor, live_server: LiveServer) -> None:
    page = visitor.page
    page.goto(live_server.url + "/toegankelijkheid", wait_until="load")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    assert page.evaluate("document.activeElement.id") == "main"


def test_search_form_works_without_javascript_help(
    visitor: Visitor, live_server: LiveServer
) -> None:
    page = visitor.page
    org_id = live_server.organisations[0]
    page.goto(f"{live_server.url}/organisaties/{org_id}/verwerkingen", wait_until="load")
    total = page.locator(".gs-result").count()
    page.get_by_label("Bijzondere persoonsgegevens").select_option("ja")
    page.get_by_role("button", name="Zoeken").click()
    page.wait_for_load_state("load")
    assert "bijzonder=ja" in page.url
    assert page.get_by_label("Bijzondere persoonsgegevens").input_value() == "ja"
    found = page.locator(".gs-result").count()
    assert 0 < found < total
    badges = page.locator(
        ".gs-result .utrecht-status-badge", has_text="Bijzondere persoonsgegevens"
    )
    assert badges.count() == found
    assert "gevonden" in page.get_by_role("status").inner_text()


def test_pages_render_to_screenshots(
    visitor: Visitor, live_server: LiveServer, tmp_path: Path
) -> None:
    """Pages render to real pictures (kept in PORTAL_SCREENSHOTS=<dir> when set, to look at)."""
    target = screenshots(tmp_path)
    page = visitor.page
    activities = [path for name, path in live_server.pages if "/verwerking/" in name]
    activity = next((p for p in activities if p.endswith("/parkeerhandhaving-scanauto")), None)
    activity = activity or activities[0]
    shots = {
        "activity-list": activity.rsplit("/", 1)[0],
        "activity": activity,
        "spelregels": activity.split("/verwerkingen/", 1)[0] + "/spelregels",
        "home": "/",
    }
    for name, path in shots.items():
        page.goto(live_server.url + path, wait_until="load")
        page.screenshot(path=str(target / f"portal-{name}.png"), full_page=True)
    # The rules on the activity page, with the folded rules for all activities opened.
    page.goto(live_server.url + activity, wait_until="load")
    page.locator("#spelregels ~ .gs-rule-group details").evaluate_all(
        "items => items.forEach(d => d.open = true)"
    )
    section = page.locator("section[aria-labelledby=spelregels]")
    section.screenshot(path=str(target / "portal-rules.png"))
    for name in (*shots, "rules"):
        picture = (target / f"portal-{name}.png").read_bytes()
        assert picture.startswith(b"\x89PNG") and len(picture) > 10_000, name
