"""The gateway against a real source over HTTP, with the demo policy, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, text

from glazenstad.logbook.tables import log_record
from glazenstad.rules.decisionlog import stored_decision
from tests.gateway.conftest import BSN_A, BSN_B, ORG, TOKENS, Setup

pytestmark = pytest.mark.heavy

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def call(
    setup: Setup,
    path: str,
    *,
    who: str | None = "burgerzaken",
    purpose: str | None = "brp-bijhouding",
    method: str = "GET",
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    sent = dict(headers or {})
    if who is not None:
        sent["Authorization"] = f"Bearer {TOKENS[who]}"
    if purpose is not None:
        sent["Glazenstad-Purpose"] = purpose
    return httpx.request(method, setup.url + path, headers=sent, timeout=30, **kwargs)


def records(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(log_record).order_by(log_record.c.span_id)))


def test_permit_forwards_with_trace_context_and_logs_one_record(setup: Setup) -> None:
    answer = call(
        setup,
        f"/brp/personen/{BSN_A}",
        headers={"traceparent": f"00-{TRACE}-{CALLER_SPAN}-01", "Accept-Encoding": "gzip"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["burgerservicenummer"] == BSN_A  # reading: no obligations
    decision_id = answer.headers["glazenstad-decision-id"]
    timing = dict(
        part.strip().split(";dur=") for part in answer.headers["server-timing"].split(",")
    )
    assert set(timing) == {"decide", "source", "log", "gateway"}
    assert all(float(v) >= 0 for v in timing.values())
    assert float(timing["log"]) > 0  # the answer waited for its log record's commit

    forwarded = setup.source.seen[-1]
    assert "authorization" not in forwarded
    assert "glazenstad-purpose" not in forwarded
    version, trace_id, gateway_span, flags = forwarded["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE, "01")
    assert gateway_span != CALLER_SPAN
    assert forwarded["accept-encoding"] == "gzip"  # passed through, not rewritten

    [row] = records(setup.engine)
    assert (row.trace_id, row.span_id, row.parent_span_id) == (TRACE, gateway_span, CALLER_SPAN)
    assert row.status == "Ok"
    assert row.processing_activity_id.endswith("/processing-activities/brp-bijhouding")
    assert row.data_subject_pseudonym != BSN_A and BSN_A not in row.data_subject_pseudonym
    assert row.data_subject_pseudonym == setup.settings.pseudonymizer().pseudonym(ORG, "BSN", BSN_A)
    assert row.attributes["glazenstad.decision_id"] == decision_id
    assert row.attributes["http.route"] == "/brp/personen/{bsn}"
    stored = stored_decision(setup.engine, decision_id)
    assert stored is not None and stored["effect"] == "permit"


def test_deny_answers_problem_with_the_rule_and_forwards_nothing(setup: Setup) -> None:
    answer = call(setup, f"/brp/personen/{BSN_A}", who="handhaver")
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 403 and problem["title"] == "Geen toegang"
    assert problem["purpose"] == "brp-bijhouding"
    assert "parkeerhandhaver" in problem["detail"] or "rol" in problem["detail"].lower()
    assert setup.source.seen == []
    assert records(setup.engine) == []
    stored = stored_decision(setup.engine, problem["decisionId"])
    assert stored is not None and stored["effect"] == "deny"
    assert answer.headers["glazenstad-decision-id"] == problem["decisionId"]


def test_share_applies_obligations_mask_and_pseudonymise(setup: Setup) -> None:
    answer = call(setup, f"/brp/verstrekkingen/personen/{BSN_A}", who="verstrekking")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # brp-verstrekking-met-pseudoniem: BSN as pseudonym; nationality, residence title and
    # earlier addresses left out.
    assert body["burgerservicenummer"] == setup.settings.pseudonymizer().pseudonym(
        ORG, "BSN", BSN_A
    )
    for dropped in ("nationaliteit", "verblijfstitel", "eerdereAdressen"):
        assert dropped not in body
    assert body["naam"]["geslachtsnaam"] == "Jansen"
    assert int(answer.headers["content-length"]) == len(answer.content)
    # The caller is told what was changed, by its own field names.
    assert answer.headers["glazenstad-withheld"] == "eerdereAdressen, nationaliteit, verblijfstitel"
    assert answer.headers["glazenstad-pseudonymised"] == "burgerservicenummer"
    assert setup.source.seen[-1]["accept-encoding"] == "identity"
    [row] = records(setup.engine)
    assert row.data_subject_pseudonym == body["burgerservicenummer"]


def test_fields_of_denied_categories_are_dropped(setup: Setup) -> None:
    answer = call(
        setup,
        f"/sociaal-domein-zaaksysteem/clienten/{BSN_A}/dossiers",
        who="consulent",
        purpose="wmo-maatwerkvoorziening",
        headers={"Glazenstad-Case-Id": "z-1"},
    )
    assert answer.status_code == 200, answer.text
    [dossier] = answer.json()["dossiers"]
    # Wmo lists health data, not criminal records: the one stays, the other is left out.
    assert dossier["gezondheidsnotities"] == "Rolstoel nodig"
    assert "strafrechtelijkeGegevens" not in dossier


def test_case_rule_denies_another_case_and_break_glass_permits(setup: Setup) -> None:
    path = f"/sociaal-domein-zaaksysteem/clienten/{BSN_A}/dossiers"
    other = {"Glazenstad-Case-Id": "z-9"}
    denied = call(setup, path, who="consulent", purpose="wmo-maatwerkvoorziening", headers=other)
    assert denied.status_code == 403
    assert "alleen-eigen-dossier" in denied.json()["rules"]
    glass = call(
        setup,
        path,
        who="consulent",
        purpose="wmo-maatwerkvoorziening",
        headers={**other, "Glazenstad-Justification": "Collega ziek, inwoner zonder hulp"},
    )
    assert glass.status_code == 200, glass.text
    stored = stored_decision(setup.engine, glass.headers["glazenstad-decision-id"])
    assert stored is not None and stored["break_glass"] is True


def test_subjects_from_the_answer_get_one_child_record_each(setup: Setup) -> None:
    answer = call(setup, "/brp/personen?postcode=1234AB")
    assert answer.status_code == 200, answer.text
    assert [p["burgerservicenummer"] for p in answer.json()["personen"]] == [BSN_A, BSN_B]
    rows = records(setup.engine)
    assert len(rows) == 3
    [parent] = [r for r in rows if r.data_subject_pseudonym is None]
    children = [r for r in rows if r.data_subject_pseudonym is not None]
    assert {r.parent_span_id for r in children} == {parent.span_id}
    pseudonymizer = setup.settings.pseudonymizer()
    assert {r.data_subject_pseudonym for r in children} == {
        pseudonymizer.pseudonym(ORG, "BSN", BSN_A),
        pseudonymizer.pseudonym(ORG, "BSN", BSN_B),
    }
    assert len({r.trace_id for r in rows}) == 1


def test_compressed_answers_stream_through_unchanged(setup: Setup) -> None:
    answer = call(setup, f"/brp/gezipt/{BSN_A}", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.json()["burgerservicenummer"] == BSN_A  # httpx decompresses


def test_obligations_on_a_non_json_answer_fail_closed(setup: Setup) -> None:
    answer = call(setup, f"/brp/teksten/{BSN_A}", who="verstrekking")
    assert answer.status_code == 502
    assert BSN_A not in answer.text.replace(f"/brp/teksten/{BSN_A}", "")
    [row] = records(setup.engine)
    assert row.status == "Error"


def test_writes_pass_the_body_and_are_decided_as_write(setup: Setup) -> None:
    answer = call(
        setup,
        f"/sociaal-domein-zaaksysteem/clienten/{BSN_A}/notities",
        method="POST",
        who="consulent",
        purpose="wmo-maatwerkvoorziening",
        headers={"Glazenstad-Case-Id": "z-1"},
        json={"notitie": "Huisbezoek gedaan"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"ontvangen": {"notitie": "Huisbezoek gedaan"}}
    stored = stored_decision(setup.engine, answer.headers["glazenstad-decision-id"])
    assert stored is not None and stored["action"] == "write"


def test_caller_errors_are_problems_naming_what(setup: Setup) -> None:
    unauthenticated = call(setup, f"/brp/personen/{BSN_A}", who=None)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    wrong = httpx.get(
        f"{setup.url}/brp/personen/{BSN_A}",
        headers={"Authorization": "Bearer nope", "Glazenstad-Purpose": "brp-bijhouding"},
    )
    assert wrong.status_code == 401
    no_purpose = call(setup, f"/brp/personen/{BSN_A}", purpose=None)
    assert no_purpose.status_code == 400
    assert no_purpose.json()["invalidParams"][0]["name"] == "header.Glazenstad-Purpose"
    unknown = call(setup, "/brp/onbekend")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert setup.source.seen == []


def test_purpose_alias_of_nlx_is_accepted(setup: Setup) -> None:
    answer = call(
        setup,
        f"/brp/personen/{BSN_A}",
        purpose=None,
        headers={"X-NLX-Request-Process-Id": "brp-bijhouding"},
    )
    assert answer.status_code == 200, answer.text


def test_unreachable_source_is_502_and_logged_as_error(setup: Setup) -> None:
    setup.gateway.config.upstreams["brp"] = "http://127.0.0.1:9"  # discard port: refused
    answer = call(setup, f"/brp/personen/{BSN_A}")
    assert answer.status_code == 502
    [row] = records(setup.engine)
    assert row.status == "Error"


def test_no_log_no_data(setup: Setup) -> None:
    """When the logbook cannot store the record, the caller gets 503 and none of the data."""
    with setup.engine.begin() as conn:
        conn.execute(text("DROP TABLE log_record"))
    answer = call(setup, f"/brp/personen/{BSN_A}")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert "Jansen" not in answer.text
