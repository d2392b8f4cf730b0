"""W3C Trace Context for the gateway: read the caller's `traceparent`, send our own upstream.

Parsed by hand (one regular expression) rather than through the OpenTelemetry propagator: the
gateway needs only the ids, per request, on its hot path. An invalid header starts a new trace,
as the W3C recommendation says a receiver must.
"""

from __future__ import annotations

import re

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def parse_traceparent(value: str | None) -> tuple[str, str] | None:
    """(trace id, parent span id) of a valid `traceparent`, else None."""
    if not value:
        return None
    found = _TRACEPARENT.fullmatch(value.strip())
    if found is None:
        return None
    version, trace_id, span_id, _flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE:
        return None
    if span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id


def traceparent(trace_id: str, span_id: str) -> str:
    """The header for an upstream call made by span `span_id` (always sampled: LDV logs all)."""
    return f"00-{trace_id}-{span_id}-01"
