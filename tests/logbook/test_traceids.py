"""Trace and span ids that Glazen Stad starts itself: W3C Trace Context's form, never invalid."""

from __future__ import annotations

import re

import pytest

from glazenstad.execution.gateway.trace import parse_traceparent, traceparent
from glazenstad.logbook import traceids


def test_ids_have_the_w3c_form_and_make_a_valid_traceparent() -> None:
    trace_ids = {traceids.new_trace_id() for _ in range(1000)}
    span_ids = {traceids.new_span_id() for _ in range(1000)}
    assert len(trace_ids) == 1000 and len(span_ids) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", t) for t in trace_ids)
    assert all(re.fullmatch(r"[0-9a-f]{16}", s) for s in span_ids)
    trace_id, span_id = next(iter(trace_ids)), next(iter(span_ids))
    assert parse_traceparent(traceparent(trace_id, span_id)) == (trace_id, span_id)


def test_an_all_zero_draw_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """All zeros is the invalid id of W3C Trace Context: a receiver would start a new trace."""
    draws = iter([0, 5, 0, 7])
    monkeypatch.setattr(traceids.random, "getrandbits", lambda bits: next(draws))
    assert traceids.new_trace_id() == "0" * 31 + "5"
    assert traceids.new_span_id() == "0" * 15 + "7"
