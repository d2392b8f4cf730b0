"""Compliance through the API, the staff portal and the command line, on the demo municipality.

Staff endpoints need a staff token with `insight:read` and answer 404 for another organisation;
the public score holds no evidence. Snapshots stored by the command line are the history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from glazenstad.cli import app as cli
from glazenstad.db.engine import make_engine
from glazenstad.insight.compliance import (
    activity_history,
    run_checks,
    score_history,
    store_snapshot,
)
from glazenstad.register.store import RegisterStore
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import login_staff, staff_token
from tests.gateway.conftest import load_demo
from tests.insight.test_compliance_support import ingest, record

pytestmark = pytest.mark.heavy

ORG = "voorbeeldstad"
UNKNOWN = "https://voorbeeldstad.example/register/processing-activities/geheim-project"
API = "/api/v1/organisations"


def _seed(engine: Engine) -> str:
    """Demo register and policies, plus one record under an unregistered activity."""
    load_demo(engine)
    rec = record(UNKNOWN, datetime.now(UTC) + timedelta(milliseconds=5))
    ingest(engine, [rec], organisation=ORG)
    return str(rec["trace_id"])


@pytest.fixture
def setup(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Engine, str]]:
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path, mode="demo"))
    engine = make_engine(database_url)
    trace_id = _seed(engine)
    with TestClient(app) as client:
        yield client, engine, trace_id
    engine.dispose()


def _later() -> str:
    return (datetime.now(UTC) + timedelta(seconds=2)).isoformat()


# --- staff API --------------------------------------------------------------------------------


def test_staff_report_needs_a_token_the_permission_and_the_own_organisation(
    setup: tuple[TestClient, Engine, str],
) -> None:
    client, _, _ = setup
    for path in (f"{API}/{ORG}/compliance", f"{API}/{ORG}/compliance/history"):
        anonymous = client.get(path)
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        wrong = client.get(path, headers={"Authorization": "Bearer niet-geldig"})
        assert wrong.status_code == 401
        lacking = client.get(path, headers=staff_token("handhaver-parkeren"))
        assert lacking.status_code == 403 and "insight:read" in lacking.json()["detail"]
        other = client.get(path.replace(ORG, "duinwijk"), headers=staff_token("fg"))
        assert other.status_code == 404
        assert other.headers["content-type"] == "application/problem+json"
        # And the other way round: duinwijk's privacy officer cannot see voorbeeldstad.
        assert client.get(path, headers=staff_token("duinwijk-fg")).status_code == 404


def test_staff_report_has_every_check_with_evidence(
    setup: tuple[TestClient, Engine, str],
) -> None:
    client, _, trace_id = setup
    response = client.get(
        f"{API}/{ORG}/compliance", params={"at": _later()}, headers=staff_token("informatiemanager")
    )
    assert response.status_code == 200, response.text
    assert response.headers["API-Version"]
    body = response.json()
    assert body["organisationId"] == ORG
    codes = [c["code"] for c in body["checks"]]
    assert codes == [f"NA{n:03d}" for n in range(1, 12)]
    na001 = next(c for c in body["checks"] if c["code"] == "NA001")
    assert na001["status"] == "fail" and na001["count"] == 1
    [item] = na001["items"]
    assert item["subject"] == UNKNOWN
    assert item["examples"][0]["reference"].startswith(trace_id)
    assert {"key", "titleEn", "weight", "scope", "figures", "links"} <= set(na001)
    assert 0 <= body["overallScore"] <= 100
    assert body["activities"] and {"activityId", "score", "failed"} <= set(body["activities"][0])


def test_evidence_links_lead_to_pages_that_exist(
    setup: tuple[TestClient, Engine, str],
) -> None:
    client, _, _ = setup
    # Forty days on, every activity of the demo is "active without log records": many links.
    at = (datetime.now(UTC) + timedelta(days=40)).isoformat()
    body = client.get(
        f"{API}/{ORG}/compliance", params={"at": at}, headers=staff_token("fg")
    ).json()
    hrefs = {link["href"] for check in body["checks"] for link in check["links"]}
    hrefs |= {
        link["href"]
        for check in body["checks"]
        for item in check["items"]
        for link in item["links"]
    }
    assert any("/processing-activities/" in h for h in hrefs)
    assert any(h.startswith("/organisaties/") for h in hrefs)
    login_staff(client, "fg")
    for href in sorted(hrefs):
        response = client.get(href, headers=staff_token("fg"))
        assert response.status_code == 200, href


def test_bad_moment_is_a_400_naming_the_parameter(
    setup: tuple[TestClient, Engine, str],
) -> None:
    client, _, _ = setup
    response = client.get(
        f"{API}/{ORG}/compliance", params={"at": "gisteren"}, headers=staff_token("fg")
    )
    assert response.status_code == 400
    assert response.json()["invalidParams"][0]["name"] == "query.at"
    early = client.get(
        f"{API}/{ORG}/compliance",
        params={"at": "1999-01-01T00:00:00Z"},
        headers=staff_token("fg"),
    )
    assert early.status_code == 400 and early.json()["invalidParams"][0]["name"] == "query.at"


def test_history_lists_stored_snapshots_newest_first(
    setup: tuple[TestClient, Engine, str],
) -> None:
    client, engine, _ = setup
    register = RegisterStore(engine)
    first = datetime.now(UTC) + timedelta(seconds=1)
    for days in (0, 1):
        report = run_checks(engine, register, ORG, first + timedelta(days=days))
        store_snapshot(engine, report, stored_by="test")
    response = client.get(f"{API}/{ORG}/compliance/history", headers=staff_token("fg"))
    assert response.status_code == 200
    page = response.json()
    assert page["pagination"]["totalResults"] == 2
    moments = [s["measuredAt"] for s in page["results"]]
    assert moments == sorted(moments, reverse=True)
    newest = page["results"][0]
    assert {c["code"] for c in newest["checks"]} == {f"NA{n:03d}" for n in range(1, 12)}
    assert newest["activityScores"] and "examples" not in json.dumps(newest)


# --- public score -----------------------------------------------------------------------------


def test_public_score_shows_scores_and_nothing_else(
    setup: tuple[TestClient, Engine, str],
) -> None:
    client, engine, trace_id = setup
    live = client.get(f"{API}/{ORG}/compliance-score")
    assert live.status_code == 200
    body = live.json()
    assert body["source"] == "live"
    assert set(body) == {
        "organisationId",
        "measuredAt",
        "weightingVersion",
        "overallScore",
        "source",
        "activities",
    }
    assert all(set(a) == {"activityId", "name", "score"} for a in body["activities"])
    text = live.text
    for secret in (trace_id, UNKNOWN, "examples", "items", "reference"):
        assert secret not in text

    report = run_checks(
        engine, RegisterStore(engine), ORG, datetime.now(UTC) + timedelta(seconds=1)
    )
    store_snapshot(engine, report, stored_by="test")
    stored = client.get(f"{API}/{ORG}/compliance-score").json()
    assert stored["source"] == "snapshot"
    assert stored["overallScore"] == report.overall_score
    assert {a["activityId"]: a["score"] for a in stored["activities"]} == {
        a.activity_id: a.score for a in report.activities
    }
    assert trace_id not in json.dumps(stored)

    assert client.get(f"{API}/nergensstad/compliance-score").status_code == 404


# --- portal -----------------------------------------------------------------------------------


def test_staff_page_shows_checks_evidence_scores_and_history(
    setup: tuple[TestClient, Engine, str],
) -> None:
    client, engine, trace_id = setup
    page = client.get("/medewerkers/naleving", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/medewerkers/inloggen?terug=/medewerkers/naleving")

    login_staff(client, "handhaver-parkeren")
    assert client.get("/medewerkers/naleving").status_code == 403

    report = run_checks(engine, RegisterStore(engine), ORG, datetime.now(UTC))
    store_snapshot(engine, report, stored_by="test")
    login_staff(client, "beleidsadviseur-sociaal-domein")
    html = client.get("/medewerkers/naleving")
    assert html.status_code == 200
    text = html.text
    for n in range(1, 12):
        assert f'id="na{n:03d}"' in text and f'href="#na{n:03d}"' in text
    assert "Verwerking zonder geregistreerd doel" in text
    assert trace_id in text  # the example, by trace id
    assert "Score per verwerking" in text and "Hoe de score wordt berekend" in text
    assert "Eerdere metingen, nieuwste eerst" in text
    assert "999993653" not in text
    assert re.search(r'lang="en"', text)


# --- command line -----------------------------------------------------------------------------


@pytest.fixture
def cli_database(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> Iterator[tuple[Engine, str]]:
    from glazenstad.settings import get_settings

    monkeypatch.setenv("GLAZENSTAD_DATABASE_URL", database_url)
    get_settings.cache_clear()
    engine = make_engine(database_url)
    from glazenstad.db.engine import migrate

    migrate(engine)
    trace_id = _seed(engine)
    yield engine, trace_id
    engine.dispose()
    get_settings.cache_clear()


def test_cli_check_prints_evidence_stores_a_snapshot_and_shows_history(
    cli_database: tuple[Engine, str],
) -> None:
    engine, trace_id = cli_database
    runner = CliRunner()
    at = _later()
    result = runner.invoke(cli, ["compliance", "check", "--organisation", ORG, "--at", at])
    assert result.exit_code == 0, result.output
    assert "NA001 Niet voldaan" in result.output and trace_id in result.output
    assert "Totaalscore" in result.output and "Opgeslagen als meting" in result.output

    as_json = runner.invoke(
        cli, ["compliance", "check", "--organisation", ORG, "--at", at, "--json"]
    )
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert document["snapshotId"] and len(document["checks"]) == 11

    dry = runner.invoke(cli, ["compliance", "check", "--organisation", ORG, "--no-store"])
    assert dry.exit_code == 0
    snapshots = score_history(engine, ORG)
    assert len(snapshots) == 2
    some_activity = next(iter(snapshots[-1].activity_scores))
    assert len(activity_history(engine, ORG, some_activity)) == 2

    history = runner.invoke(cli, ["compliance", "history", "--organisation", ORG, "--json"])
    assert history.exit_code == 0
    assert len(json.loads(history.stdout)["snapshots"]) == 2
    table = runner.invoke(cli, ["compliance", "history", "--organisation", ORG])
    assert "Nalevingsscore voorbeeldstad" in table.output

    # Two organisations in the demo: which one must be said.
    unnamed = runner.invoke(cli, ["compliance", "check"])
    assert unnamed.exit_code == 2 and "duinwijk, voorbeeldstad" in unnamed.output
    unknown = runner.invoke(cli, ["compliance", "check", "--organisation", "nergensstad"])
    assert unknown.exit_code == 2 and "nergensstad" in unknown.output
    bad = runner.invoke(cli, ["compliance", "check", "--organisation", ORG, "--at", "morgen"])
    assert bad.exit_code == 2 and "--at" in bad.output
