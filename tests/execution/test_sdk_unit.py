"""The SDK's spans, looked at in memory: no server needed."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from glazenstad.execution.sdk import (
    ATTR_ACTIVITY,
    ATTR_PROCESSOR,
    ATTR_SUBJECT_ID,
    ATTR_SUBJECT_TYPE,
    ProcessingLog,
    Subject,
    continue_trace,
    extract_context,
    inject_headers,
)

ACTIVITY = "https://register.teststad.example/processing-activities/parkeren-scanauto"


@pytest.fixture
def memory() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def log(memory: InMemorySpanExporter) -> Iterator[ProcessingLog]:
    processing_log = ProcessingLog("http://unused", "teststad", "app", exporter=memory, batch=False)
    yield processing_log
    processing_log.shutdown()


def test_endpoint_and_sampler() -> None:
    processing_log = ProcessingLog("http://logboek.example/", "teststad", "app")
    try:
        assert processing_log.endpoint == "http://logboek.example/v1/traces"
        assert processing_log.provider.sampler.get_description() == "AlwaysOnSampler"
    finally:
        processing_log.shutdown()


def test_subjects_parent_has_none_and_duplicates_count_once(
    log: ProcessingLog, memory: InMemorySpanExporter
) -> None:
    with log.processing(
        ACTIVITY,
        "n",
        subjects=[Subject("BSN", "1"), ("BSN", "2"), ("BSN", "1")],
        processor="https://app.example",
    ):
        pass
    spans = memory.get_finished_spans()
    assert len(spans) == 3
    parent = spans[-1]
    assert parent.parent is None
    assert ATTR_SUBJECT_ID not in (parent.attributes or {})
    children = spans[:2]
    assert [(c.attributes or {})[ATTR_SUBJECT_ID] for c in children] == ["1", "2"]
    for span in spans:
        attributes = span.attributes or {}
        assert attributes[ATTR_ACTIVITY] == ACTIVITY
        assert attributes[ATTR_PROCESSOR] == "https://app.example"
    for child in children:
        assert child.parent is not None and child.parent.span_id == parent.context.span_id
        assert (child.attributes or {})[ATTR_SUBJECT_TYPE] == "BSN"


def test_no_subject_id_reaches_python_logging(
    log: ProcessingLog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        pytest.raises(RuntimeError),
        log.processing(ACTIVITY, "n", subjects=[("BSN", "123456782")]),
    ):
        raise RuntimeError("123456782")
    assert "123456782" not in caplog.text


def test_the_processing_span_is_current_and_restored(log: ProcessingLog) -> None:
    before = trace.get_current_span()
    with log.processing(ACTIVITY, "n") as span:
        assert trace.get_current_span() is span
    assert trace.get_current_span() is before


def test_a_processing_is_entered_once(log: ProcessingLog) -> None:
    processing = log.processing(ACTIVITY, "n")
    with processing:
        pass
    with pytest.raises(RuntimeError), processing:
        pass


@pytest.mark.parametrize(
    ("activity", "subjects", "processor"),
    [("", (), None), (ACTIVITY, [("BSN", "")], None), (ACTIVITY, (), "")],
)
def test_invalid_arguments(
    log: ProcessingLog, activity: str, subjects: list[tuple[str, str]], processor: str | None
) -> None:
    with pytest.raises(ValueError):
        log.processing(activity, "n", subjects=subjects, processor=processor)


def test_malformed_or_missing_traceparent_leaves_the_context(log: ProcessingLog) -> None:
    with log.processing(ACTIVITY, "n") as span:
        for headers in ({}, {"traceparent": "rubbish"}):
            ctx = extract_context(headers)
            assert trace.get_current_span(ctx) is span
            with continue_trace(headers):
                assert trace.get_current_span() is span


def test_inject_without_a_span_adds_nothing() -> None:
    assert inject_headers({"accept": "text/plain"}) == {"accept": "text/plain"}
