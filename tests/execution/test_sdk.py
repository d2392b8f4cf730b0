"""The execution SDK logs processings to a live Glazen Stad server over OTLP/HTTP.

Each test runs once on SQLite and once on PostgreSQL; the records are read back from the logbook
table with SQLAlchemy Core.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from sqlalchemy import Row, select

from glazenstad.db.engine import make_engine
from glazenstad.execution.sdk import (
    ProcessingLog,
    continue_trace,
    httpx_trace_hook,
    inject_headers,
)
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.tables import log_record
from glazenstad.logbook.verify import verify
from tests.logbook.conftest import ACTIVITY, BSN, KEY_2026, ORG

OTHER_BSN = "999990019"
PSEUDONYMS = Pseudonymizer.from_config(KEY_2026)
TOKEN = "test-system-teststad"  # tests/fixtures/systems.yaml


@pytest.fixture
def log(server: str) -> Iterator[ProcessingLog]:
    """Spans exported one by one with the real OTLP exporter, so a flush is not needed."""
    processing_log = ProcessingLog(
        server, ORG, "scanauto-app", service_version="1.2.3", batch=False, token=TOKEN
    )
    yield processing_log
    processing_log.shutdown()


def sampled(traceparent: str) -> bool:
    """The W3C 'sampled' flag (bit 0 of the trace flags; newer SDKs also set 'random')."""
    return bool(int(traceparent.rsplit("-", 1)[1], 16) & 0x01)


def stored(database_url: str) -> list[Row[Any]]:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = list(conn.execute(select(log_record).order_by(log_record.c.sequence)))
    engine.dispose()
    return rows


def test_several_subjects_give_one_child_record_each(
    server: str, database_url: str, log: ProcessingLog
) -> None:
    with log.processing(
        ACTIVITY,
        "Controle parkeerrecht",
        subjects=[("BSN", BSN), ("BSN", OTHER_BSN)],
        processor="https://scanauto.teststad.example",
    ) as span:
        parent_context = span.get_span_context()

    rows = stored(database_url)
    assert len(rows) == 3
    parent = next(r for r in rows if r.parent_span_id is None)
    children = [r for r in rows if r.parent_span_id is not None]
    assert parent.span_id == f"{parent_context.span_id:016x}"
    assert parent.trace_id == f"{parent_context.trace_id:032x}"
    assert parent.data_subject_pseudonym is None and parent.data_subject_id_type is None
    assert all(c.parent_span_id == parent.span_id for c in children)
    assert all(c.trace_id == parent.trace_id for c in rows)
    assert sorted(c.data_subject_pseudonym for c in children) == sorted(
        PSEUDONYMS.pseudonym(ORG, "BSN", subject) for subject in (BSN, OTHER_BSN)
    )
    assert all(c.data_subject_id_type == "BSN" for c in children)
    assert all(r.name == "Controle parkeerrecht" for r in rows)
    assert all(r.processing_activity_id == ACTIVITY and r.activity_known for r in rows)
    assert all(r.processor == "https://scanauto.teststad.example" for r in rows)
    assert all(r.status == "Unset" for r in rows)
    assert all(r.resource["attributes"]["service.name"] == "scanauto-app" for r in rows)
    assert all(r.resource["attributes"]["service.version"] == "1.2.3" for r in rows)
    dump = " ".join(str(v) for row in rows for v in row)
    assert BSN not in dump and OTHER_BSN not in dump
    engine = make_engine(database_url)
    assert verify(engine, ORG).ok
    engine.dispose()


def test_one_subject_stays_on_the_processing_span(database_url: str, log: ProcessingLog) -> None:
    with log.processing(ACTIVITY, "Kenteken controleren", subjects=[("kenteken", "AB-12-CD")]):
        pass
    (row,) = stored(database_url)
    assert row.parent_span_id is None
    assert row.data_subject_pseudonym == PSEUDONYMS.pseudonym(ORG, "kenteken", "AB-12-CD")
    assert row.data_subject_id_type == "kenteken"
    assert row.processor is None


def test_a_failing_block_is_an_error_record_with_exception_attributes(
    database_url: str, log: ProcessingLog
) -> None:
    with (
        pytest.raises(LookupError, match="kenteken"),
        log.processing(ACTIVITY, "Kenteken controleren", subjects=[("BSN", BSN)]),
    ):
        raise LookupError(f"kenteken van {BSN} niet gevonden")

    (row,) = stored(database_url)
    assert row.status == "Error"
    assert row.attributes["exception.type"] == "LookupError"
    assert row.attributes["exception.message"] == "kenteken van [data subject] niet gevonden"
    assert "Traceback" in row.attributes["exception.stacktrace"]
    assert "raise LookupError" in row.attributes["exception.stacktrace"]
    assert BSN not in " ".join(str(v) for v in row)


def test_a_failure_marks_every_subject_record(database_url: str, log: ProcessingLog) -> None:
    with (
        pytest.raises(ValueError),
        log.processing(ACTIVITY, "Controle", subjects=[("BSN", BSN), ("BSN", OTHER_BSN)]),
    ):
        raise ValueError("stuk")
    rows = stored(database_url)
    assert len(rows) == 3
    assert all(r.status == "Error" and r.attributes["exception.message"] == "stuk" for r in rows)


def test_traceparent_round_trip(database_url: str, log: ProcessingLog) -> None:
    headers: dict[str, str] = {}
    with log.processing(ACTIVITY, "Aanvraag versturen") as calling:
        inject_headers(headers)
        caller = calling.get_span_context()
    assert headers["traceparent"][:-3] == f"00-{caller.trace_id:032x}-{caller.span_id:016x}"
    assert sampled(headers["traceparent"])

    # the receiving side: no current span any more, only the incoming header
    assert not trace.get_current_span().get_span_context().is_valid
    with (
        continue_trace({"Traceparent": headers["traceparent"]}),
        log.processing(ACTIVITY, "Aanvraag behandelen") as receiving,
    ):
        assert receiving.get_span_context().trace_id == caller.trace_id
    assert not trace.get_current_span().get_span_context().is_valid

    rows = stored(database_url)
    sent = next(r for r in rows if r.name == "Aanvraag versturen")
    received = next(r for r in rows if r.name == "Aanvraag behandelen")
    assert received.trace_id == sent.trace_id == f"{caller.trace_id:032x}"
    assert received.parent_span_id == sent.span_id == f"{caller.span_id:016x}"


def test_an_unsampled_incoming_trace_is_still_logged(database_url: str, log: ProcessingLog) -> None:
    """No sampling: the caller's 'not sampled' flag does not drop the record."""
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    with (
        continue_trace({"traceparent": f"00-{trace_id}-{span_id}-00"}),
        log.processing(ACTIVITY, "Aanvraag behandelen"),
    ):
        outgoing = inject_headers(dict[str, str]())
    assert outgoing["traceparent"].startswith(f"00-{trace_id}-")
    assert sampled(outgoing["traceparent"])
    (row,) = stored(database_url)
    assert (row.trace_id, row.parent_span_id) == (trace_id, span_id)


def test_httpx_hook_puts_traceparent_on_outgoing_requests(server: str, log: ProcessingLog) -> None:
    request = httpx.Request("GET", f"{server}/")
    with log.processing(ACTIVITY, "Ophalen") as span:
        current = span.get_span_context()
        httpx_trace_hook(request)
        with httpx.Client(event_hooks={"request": [httpx_trace_hook]}) as client:
            response = client.get(f"{server}/v1/traces")  # a real request to the live server
    expected = f"00-{current.trace_id:032x}-{current.span_id:016x}"
    assert request.headers["traceparent"][:-3] == expected
    assert int(request.headers["traceparent"].split("-")[1], 16) == current.trace_id
    assert sampled(request.headers["traceparent"])
    assert response.request.headers["traceparent"][:-3] == expected  # the headers that were sent


def test_decorator_logs_every_call(database_url: str, log: ProcessingLog) -> None:
    @log.processing(ACTIVITY, "Sync", subjects=[("BSN", BSN)])
    def check(value: int) -> int:
        span = trace.get_current_span()
        assert span.is_recording()
        return value * 2

    @log.processing(ACTIVITY, "Async")
    async def check_async(value: int) -> int:
        await asyncio.sleep(0)
        return value + 1

    assert check(2) == 4
    assert check(3) == 6
    assert asyncio.run(check_async(1)) == 2
    assert check.__name__ == "check"
    rows = stored(database_url)
    assert [r.name for r in rows] == ["Sync", "Sync", "Async"]
    assert len({r.trace_id for r in rows}) == 3  # independent processings, each a trace of its own
    assert rows[0].data_subject_pseudonym == PSEUDONYMS.pseudonym(ORG, "BSN", BSN)


def test_batched_export_after_flush(server: str, database_url: str) -> None:
    batched = ProcessingLog(server, ORG, "scanauto-app", token=TOKEN)  # batched by default
    try:
        with (
            batched.processing(ACTIVITY, "Genest"),
            batched.processing(ACTIVITY, "Binnenste", subjects=[("BSN", BSN)]),
        ):
            pass
        assert batched.flush()
        rows = stored(database_url)
    finally:
        batched.shutdown()
    outer = next(r for r in rows if r.name == "Genest")
    inner = next(r for r in rows if r.name == "Binnenste")
    assert inner.parent_span_id == outer.span_id and inner.trace_id == outer.trace_id
    assert all(r.processing_activity_id == ACTIVITY for r in rows)
    assert inner.data_subject_pseudonym == PSEUDONYMS.pseudonym(ORG, "BSN", BSN)
