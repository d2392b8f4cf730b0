"""The demo gateway configuration in front of the real demo sources: the caseworker's view."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from glazenstad.execution.gateway import load_gateway_config
from glazenstad.logbook.tables import log_record
from glazenstad.rules.decisionlog import stored_decision
from tests.gateway.conftest import DEMO_GATEWAY as DEMO
from tests.gateway.conftest import ORG, Demo


def test_a_wmo_consultant_breaks_the_glass_and_sees_no_criminal_records(demo: Demo) -> None:
    url, engine, settings, population = demo
    bsn = next(b for b, files in population.dossiers.items() if files)
    case = population.dossiers[bsn][0].dossiernummer
    answer = httpx.get(
        f"{url}/sociaal-domein-zaaksysteem/clienten/{bsn}/dossiers",
        headers={
            "Authorization": "Bearer demo-wmo-consulent",
            "Glazenstad-Purpose": "wmo-maatwerkvoorziening",
            "Glazenstad-Case-Id": case,
            "Glazenstad-Justification": "Dossier van een afwezige collega, inwoner wacht",
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    files = body if isinstance(body, list) else body.get("dossiers", body)
    text = answer.text
    assert "justitieleAntecedenten" not in text  # a category Wmo does not list
    assert "gezondheidsnotities" in text  # one it does
    assert files
    with engine.connect() as conn:
        [row] = conn.execute(select(log_record)).all()
    assert row.data_subject_pseudonym == settings.pseudonymizer().pseudonym(ORG, "BSN", bsn)
    assert bsn not in str(tuple(row))


def test_a_parking_enforcer_may_not_read_benefits(demo: Demo) -> None:
    url, engine, _settings, population = demo
    bsn = next(b for b, rows in population.uitkeringen.items() if rows)
    answer = httpx.get(
        f"{url}/werk-inkomen-suite/uitkeringen/{bsn}",
        headers={
            "Authorization": "Bearer demo-parkeerhandhaver",
            "Glazenstad-Purpose": "parkeerhandhaving-scanauto",
        },
        timeout=30,
    )
    assert answer.status_code == 403
    assert answer.json()["detail"]
    with engine.connect() as conn:
        assert conn.execute(select(log_record)).all() == []


def assigned_cases(demo_run: Demo) -> list[tuple[str, str]]:
    """(BSN, dossier number) of the cases the demo consultant is assigned to."""
    client = load_gateway_config(DEMO).client("demo-wmo-consulent")
    assert client is not None
    cases = set(client.case_assignments)
    return [
        (bsn, d.dossiernummer)
        for bsn, files in demo_run.population.dossiers.items()
        for d in files
        if d.dossiernummer in cases
    ]


def test_the_demo_consultants_cases_exist_in_the_demo_sources(demo: Demo) -> None:
    found = assigned_cases(demo)
    assert len(found) == 3
    assert all(demo.population.uitkeringen.get(bsn) for bsn, _ in found)


def test_linking_benefits_to_a_care_file_needs_consent_and_a_reason(demo: Demo) -> None:
    bsn, case = assigned_cases(demo)[0]
    headers = {
        "Authorization": "Bearer demo-wmo-consulent",
        "Glazenstad-Purpose": "wmo-maatwerkvoorziening",
        "Glazenstad-Case-Id": case,
        "Glazenstad-Link-Dataset": "sociaal-domein-zaaksysteem",
    }
    path = f"{demo.url}/werk-inkomen-suite/uitkeringen/{bsn}"
    refused = httpx.get(path, headers=headers, timeout=30)
    assert refused.status_code == 403
    assert "integrale-aanpak-niet-zonder-toestemming" in refused.json()["rules"]
    consent = {**headers, "Glazenstad-Consent": "wmo-maatwerkvoorziening"}
    no_reason = httpx.get(path, headers=consent, timeout=30)
    assert no_reason.status_code == 403
    assert "Glazenstad-Justification" in no_reason.json()["detail"]
    linked = httpx.get(
        path,
        headers={**consent, "Glazenstad-Justification": "Integrale aanpak huishouden"},
        timeout=30,
    )
    assert linked.status_code == 200, linked.text
    stored = stored_decision(demo.engine, linked.headers["glazenstad-decision-id"])
    assert stored is not None and stored["action"] == "link"
    assert "integrale-aanpak-koppelen-met-toestemming" in stored["rules"]
