"""The policy dashboard on SQLite and PostgreSQL: who may see it, what it shows, its filters.

One application per database serves the demo municipalities (Voorbeeldstad and Duinwijk) with
the demo policies active and a known set of decisions, log records, a break-the-glass review
and a signal, written through the same code production uses. Tests only read from it.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from glazenstad.db.engine import make_engine
from glazenstad.insight.compliance.history import store_snapshot
from glazenstad.insight.compliance.model import ComplianceReport
from glazenstad.insight.incidents.reviews import JUSTIFIED, Reviewer, record_review
from glazenstad.insight.signals.access import Actor as SignalActor
from glazenstad.insight.signals.decisions import BlockingRule, DeniedDecision
from glazenstad.insight.signals.store import SignalStore
from glazenstad.register.loader import load_register
from glazenstad.rules.decisionlog import write_decisions
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from glazenstad.web.state import AppState
from tests.conftest import DEMO_REGISTER, PG_ADMIN_URL, login_staff, require_postgres
from tests.portal.conftest import activate_policies, demo_policies

ORG = "voorbeeldstad"
DUINWIJK = "duinwijk"
WMO = "wmo-maatwerkvoorziening"
PARKING = "parkeerhandhaving-scanauto"
BEACH = "strandparkeervergunningen"
OFFICE_HOURS = "kantoortijd-sociaal-domein"
WMO_BINDING = "doelbinding-wmo-maatwerkvoorziening"
DASHBOARD = "/medewerkers/dashboard"

# What `seed` writes (all within the last week): (purpose, department, effect, reason, rules,
# break-the-glass, count), per organisation.
DECISIONS = {
    ORG: [
        (WMO, "Sociaal Domein", "permit", "permit", [WMO_BINDING], False, 20),
        (WMO, "Sociaal Domein", "deny", "deny_rule", [OFFICE_HOURS], False, 6),
        (WMO, "Sociaal Domein", "permit", "break_glass", [WMO_BINDING], True, 2),
        (PARKING, "Parkeren", "permit", "permit", [], False, 30),
        (PARKING, "Parkeren", "deny", "no_permit", [], False, 4),
    ],
    DUINWIJK: [(BEACH, "Publiekszaken", "permit", "permit", [], False, 11)],
}
LOG_RECORDS = {ORG: {PARKING: 5, WMO: 3}, DUINWIJK: {BEACH: 2}}


def decision_rows(now: datetime) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for org, groups in DECISIONS.items():
        for n, (purpose, department, effect, reason, rules, glass, count) in enumerate(groups):
            for i in range(count):
                rows.setdefault(org, []).append(
                    {
                        "decision_id": uuid.uuid4().hex,
                        # Spread over the last days, never in the future.
                        "decided_at": now - timedelta(days=(i + n) % 6, minutes=10 + i),
                        "organisation_id": org,
                        "policy_version": None,
                        "compiled_hash": None,
                        "engine_version": "glazenstad-rules/1",
                        "input_hash": "0" * 64,
                        "purpose": purpose,
                        "action": "read",
                        "data_category": "naw",
                        "role": "wmo-consulent" if department == "Sociaal Domein" else "medewerker",
                        "department": department,
                        "effect": effect,
                        "reason": reason,
                        "rules": rules,
                        "break_glass": glass,
                        "request": {"purpose": purpose},
                    }
                )
    return rows


def log_records(register_uri: str, counts: dict[str, int], now_ms: int) -> list[dict[str, Any]]:
    records = []
    for activity, count in counts.items():
        for _ in range(count):
            number = uuid.uuid4().int
            records.append(
                {
                    "trace_id": f"{number % 16**32:032x}",
                    "span_id": f"{number % 16**16:016x}",
                    "name": "Dossier ingezien",
                    "start_time": now_ms,
                    "end_time": now_ms + 3,
                    "status": "Ok",
                    "attributes": {
                        "dpl.core.processing_activity_id": (
                            f"{register_uri}/processing-activities/{activity}"
                        ),
                    },
                }
            )
    return records


def seed(state: AppState) -> dict[str, list[dict[str, Any]]]:
    """Decisions, log records, one review, one signal and one compliance measurement."""
    now = datetime.now(UTC)
    rows = decision_rows(now)
    with state.engine.begin() as conn:
        for org_rows in rows.values():
            write_decisions(conn, org_rows)
    snapshot = state.register.snapshot()
    now_ms = int(now.timestamp() * 1000)
    for org, counts in LOG_RECORDS.items():
        reg = snapshot.organisation(org)
        assert reg is not None
        result = state.logbook.ingest(org, log_records(reg.org.register_uri, counts, now_ms))
        assert result.accepted == sum(counts.values()), result.rejected
    glass = [r for r in rows[ORG] if r["break_glass"]]
    reviewer = Reviewer("fg", "F. de Graaf", ORG, ("functionaris-gegevensbescherming",), "FG")
    record_review(
        state.engine, ORG, glass[0]["decision_id"], reviewer=reviewer, verdict=JUSTIFIED, note=None
    )
    denied = next(r for r in rows[ORG] if r["rules"] == [OFFICE_HOURS])
    SignalStore(state.engine).file(
        SignalActor("wmo-consulent", ORG, may_file=True),
        DeniedDecision(
            decision_id=denied["decision_id"],
            organisation_id=ORG,
            decided_at=denied["decided_at"],
            purpose=WMO,
            action="read",
            data_category="naw",
            role="wmo-consulent",
            department="Sociaal Domein",
            reason="deny_rule",
            rules=(BlockingRule(OFFICE_HOURS, "Kantoortijd", "Afdeling Sociaal Domein"),),
        ),
        OFFICE_HOURS,
        "Een crisis in een gezin houdt zich niet aan kantoortijd.",
    )
    store_snapshot(
        state.engine,
        ComplianceReport(
            organisation_id=ORG,
            organisation_name="Gemeente Voorbeeldstad",
            measured_at=now - timedelta(hours=1),
            weighting_version="1",
            checks=(),
            activities=(),
            overall_score=87.5,
            activity_average=90.0,
            organisation_deduction=2,
        ),
        stored_by="fg",
    )
    return rows


def build_app(database_url: str, data_dir: Path) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url, data_dir=data_dir))
    engine = make_engine(database_url)
    load_register(engine, DEMO_REGISTER, approved_by="test-approver")
    engine.dispose()
    activate_policies(database_url, demo_policies())
    with TestClient(app) as client:
        seed(app.state.glazenstad)
        yield client


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def seeded_client(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The seeded demo application on a new database of `backend`, dropped afterwards."""
    data_dir = tmp_path_factory.mktemp("dashboard")
    if backend == "sqlite":
        yield from build_app(f"sqlite:///{data_dir / 'glazenstad.sqlite3'}", data_dir)
        return
    require_postgres()
    name = f"gs_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield from build_app(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", data_dir)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def app_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    yield from seeded_client(request.param, tmp_path_factory)


@pytest.fixture
def client(app_client: TestClient) -> Iterator[TestClient]:
    """The shared application, with a fresh cookie jar (nobody logged in) for each test."""
    app_client.cookies.clear()
    yield app_client
    app_client.cookies.clear()


# --- reading a page --------------------------------------------------------------------------


@dataclass
class Page:
    """What the tests read from a dashboard page: key figures, tables by caption, charts."""

    figures: dict[str, str] = field(default_factory=dict)
    tables: dict[str, list[list[str]]] = field(default_factory=dict)
    charts: dict[str, ET.Element] = field(default_factory=dict)
    html: str = ""

    def figure(self, label: str) -> int:
        return int(self.figures[label].split()[0].replace(".", ""))

    def table(self, caption: str) -> dict[str, list[str]]:
        """Rows by their first cell."""
        return {row[0]: row[1:] for row in self.tables[caption]}


class _Reader(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__()
        self.page = page
        self.text: list[str] | None = None
        self.key = ""
        self.caption = ""
        self.row: list[str] | None = None
        self.in_svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.in_svg += 1
        if self.in_svg:
            return
        if tag in ("dt", "dd", "caption", "th", "td"):
            self.text = []
        elif tag == "tr":
            self.row = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.in_svg -= 1
            return
        if self.in_svg:
            return
        content = " ".join("".join(self.text or []).split())
        if tag == "dt":
            self.key = content
        elif tag == "dd" and self.key:
            self.page.figures[self.key] = content
        elif tag == "caption":
            self.caption = content
            self.page.tables[content] = []
        elif tag in ("th", "td") and self.row is not None:
            self.row.append(content)
        elif tag == "tr" and self.row is not None:
            if self.caption and self.row and not all(c == "" for c in self.row):
                self.page.tables[self.caption].append(self.row)
            self.row = None
        if tag in ("dt", "dd", "caption", "th", "td"):
            self.text = None

    def handle_data(self, data: str) -> None:
        if self.text is not None and not self.in_svg:
            self.text.append(data)


def read(html: str) -> Page:
    page = Page(html=html)
    _Reader(page).feed(html)
    for svg in re.findall(r"<svg\b.*?</svg>", html, flags=re.S):
        root = ET.fromstring(svg)
        title = root.find("{http://www.w3.org/2000/svg}title")
        assert title is not None and title.text
        page.charts[title.text] = root
    # Table headers are the first row; keep only body rows.
    for caption, rows in page.tables.items():
        page.tables[caption] = rows[1:] if rows else rows
    return page


def dashboard(client: TestClient, query: str = "") -> Page:
    response = client.get(DASHBOARD + query)
    assert response.status_code == 200, response.text[:2000]
    return read(response.text)


# --- access ----------------------------------------------------------------------------------


def test_without_login_the_dashboard_asks_for_one(client: TestClient) -> None:
    response = client.get(DASHBOARD + "?periode=7", follow_redirects=False)
    assert response.status_code == 303
    assert (
        response.headers["location"]
        == "/medewerkers/inloggen?terug=/medewerkers/dashboard%3Fperiode%3D7"
    )


@pytest.mark.parametrize("user", ["handhaver-parkeren", "wmo-consulent", "klantmanager"])
def test_staff_without_insight_read_are_refused(client: TestClient, user: str) -> None:
    login_staff(client, user)
    response = client.get(DASHBOARD)
    assert response.status_code == 403
    assert "Geen toegang" in response.text and "insight:read" in response.text
    assert "Besluiten" not in response.text


def test_staff_see_their_own_organisation_only(client: TestClient) -> None:
    login_staff(client, "duinwijk-fg")
    page = dashboard(client)
    assert page.figure("Besluiten") == 11
    assert page.figure("Logregels in het logboek") == 2
    assert "Ondersteuning via de Wmo (maatwerkvoorzieningen)" not in page.html
    assert OFFICE_HOURS not in page.html and "Controle op betaald parkeren" not in page.html
    assert set(page.table("Besluiten, logregels en verwijderingen per verwerking")) == {
        "Parkeervergunningen strandgebied"
    }


# --- figures ---------------------------------------------------------------------------------


def test_key_figures_tables_and_charts_agree_with_what_was_written(client: TestClient) -> None:
    login_staff(client, "informatiemanager")
    page = dashboard(client)
    assert page.figure("Besluiten") == 62
    assert page.figure("Toegestaan") == 52
    assert page.figure("Geweigerd") == 10
    assert page.figures["Geweigerd"].endswith("(16,1% van de besluiten)")
    assert page.figure("Noodtoegang (regel doorbroken)") == 2
    assert "1 wacht op beoordeling" in page.figures["Noodtoegang (regel doorbroken)"]
    assert page.figure("Logregels in het logboek") == 8
    assert page.figure("Signalen uit de uitvoering") == 1

    activities = page.table("Besluiten, logregels en verwijderingen per verwerking")
    wmo = activities["Ondersteuning via de Wmo (maatwerkvoorzieningen)"]
    assert wmo[:3] == ["28", "22", "6 (21,4%)"]
    assert wmo[3] == "2 (1 open)" and wmo[4] == "3"
    parking = next(v for k, v in activities.items() if k.startswith("Controle op betaald parkeren"))
    assert parking[:3] == ["34", "30", "4 (11,8%)"] and parking[4] == "5"

    rules = page.table("Besluiten per spelregel (waarin de regel de doorslag gaf) en signalen")
    office = next(v for k, v in rules.items() if k.endswith(f"({OFFICE_HOURS})"))
    assert office == ["6", "0", "6", "0", "1 (1 open)"]
    binding = next(v for k, v in rules.items() if k.endswith(f"({WMO_BINDING})"))
    assert binding[:4] == ["22", "22", "0", "2"]

    # The decisions chart's table adds up to the key figures, per series.
    over_time = page.table("Besluiten per dag")
    assert len(over_time) == 30
    sums = [sum(int(row[i].replace(".", "")) for row in over_time.values()) for i in range(4)]
    assert sums == [50, 2, 10, 62]
    reasons = page.table("Meest voorkomende redenen om te weigeren")
    assert next(iter(reasons.items())) == (
        f"Een spelregel verbiedt het: Dossiers in het sociaal domein alleen inzien in kantoortijd "
        f"({OFFICE_HOURS})",
        ["6"],
    )
    assert reasons["Geen spelregel staat het toe"] == ["4"]
    # The chart shows the same numbers as text beside its bars.
    chart = page.charts["Meest voorkomende redenen om te weigeren"]
    words = ["".join(t.itertext()) for t in chart.iter("{http://www.w3.org/2000/svg}text")]
    assert "6" in words and "4" in words
    log = page.table("Logregels per dag, per verwerking")
    assert sum(int(row[-1]) for row in log.values()) == 8
    for title, chart in page.charts.items():
        assert chart.get("role") == "img", title


def test_break_glass_section_counts_reviews(client: TestClient) -> None:
    login_staff(client, "fg")
    page = dashboard(client)
    assert page.figure("Besluiten met noodtoegang") == 2
    assert page.figures["Beoordeeld"].startswith("1 (1 terecht, 0 niet terecht)")
    assert page.figure("Wacht op beoordeling") == 1
    assert 'href="/medewerkers/doorbraken"' in page.html  # fg may review


def test_review_link_only_for_reviewers(client: TestClient) -> None:
    login_staff(client, "informatiemanager")
    assert 'href="/medewerkers/doorbraken"' not in dashboard(client).html


@pytest.mark.parametrize(
    ("query", "decisions", "logs"),
    [
        ("?afdeling=Parkeren", 34, 5),
        ("?afdeling=Sociaal+Domein", 28, 3),
        (f"?verwerking={WMO}", 28, 3),
        (f"?regel={OFFICE_HOURS}", 6, 8),
        (f"?afdeling=Parkeren&verwerking={WMO}", 0, 0),
        ("?afdeling=Bestaat+niet", 0, 0),
        ("?periode=7", 62, 8),
        ("?periode=365", 62, 8),
    ],
)
def test_filters_narrow_every_section(
    client: TestClient, query: str, decisions: int, logs: int
) -> None:
    login_staff(client, "beleidsadviseur-sociaal-domein")
    page = dashboard(client, query)
    assert page.figure("Besluiten") == decisions
    assert page.figure("Logregels in het logboek") == logs
    name = "periode" if "periode" in query else query[1:].split("=")[0]
    assert re.search(rf'id="filter-{name}"', page.html)


def test_a_year_is_shown_per_week(client: TestClient) -> None:
    login_staff(client, "fg")
    page = dashboard(client, "?periode=365")
    weeks = page.table("Besluiten per week")
    assert 52 <= len(weeks) <= 54
    assert all(k.startswith("Week van ") for k in weeks)
    assert sum(int(row[-1]) for row in weeks.values()) == 62


def test_own_dates_and_wrong_dates(client: TestClient) -> None:
    login_staff(client, "fg")
    today = datetime.now(UTC).date()
    first = today - timedelta(days=9)
    page = dashboard(client, f"?van={first}&tot={today}")
    assert len(page.table("Besluiten per dag")) == 10
    assert page.figure("Besluiten") == 62
    assert "klopt niet" not in page.html
    wrong = dashboard(client, f"?van={today}&tot={first}")
    assert "De eigen periode klopt niet" in wrong.html
    assert len(wrong.table("Besluiten per dag")) == 30  # the default instead
    assert "klopt niet" in dashboard(client, "?van=gisteren&tot=").html


def test_strange_input_is_no_error(client: TestClient) -> None:
    login_staff(client, "fg")
    for query in ("?periode=abc", "?regel=" + "x" * 5000, "?verwerking=%3Cscript%3E", "?van=&tot="):
        response = client.get(DASHBOARD + query)
        assert response.status_code == 200, query
        assert "<script>" not in response.text


def test_the_page_has_no_inline_style_or_script(client: TestClient) -> None:
    login_staff(client, "fg")
    html = client.get(DASHBOARD).text
    assert "<script" not in html
    assert " style=" not in html
    assert "<style" not in html


@pytest.mark.parametrize(
    ("query", "used", "waiting"),
    [
        ("", 2, 1),
        ("?afdeling=Parkeren", 0, 0),
        (f"?regel={WMO_BINDING}", 2, 1),
        (f"?regel={OFFICE_HOURS}", 0, 0),
    ],
)
def test_break_glass_follows_the_filters(
    client: TestClient, query: str, used: int, waiting: int
) -> None:
    login_staff(client, "fg")
    page = dashboard(client, query)
    assert page.figure("Besluiten met noodtoegang") == used
    assert page.figure("Wacht op beoordeling") == waiting
    assert page.figures["Noodtoegang (regel doorbroken)"].startswith(
        f"{used} ({waiting} wacht op beoordeling)"
    )
