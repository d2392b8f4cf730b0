"""OTLP trace ingest under bad input: a decoded request or a clear 4xx, never a crash or a 5xx.

`POST /v1/traces` takes bodies from any system holding a token, in protobuf or JSON, maybe
gzipped. Hypothesis sends arbitrary bytes, valid protobuf bodies with flipped, inserted and cut
bytes, and valid OTLP/JSON documents with a random field replaced by a wrong value. The decoder
must return a request (whose spans then convert to records or to a reason each) or raise
`OtlpError` with 400, 413 or 415; the endpoint must answer 200 with OTLP's partial success or a
4xx whose body states the reason, in the format that was asked for.
"""

from __future__ import annotations

import copy
import gzip
import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from glazenstad.db.engine import make_engine
from glazenstad.logbook.otlp import OtlpError, decode_request, spans_to_records
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS, system_token
from tests.logbook.conftest import ACTIVITY

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def valid_json_document() -> dict[str, Any]:
    """An OTLP/JSON export request with two spans, as an SDK sends it (hex ids)."""
    now = time.time_ns()
    span = {
        "traceId": uuid.uuid4().hex,  # fresh ids: a stored record is never re-sent
        "spanId": "eee19b7ec3c1b174",
        "name": "Kenteken controleren",
        "kind": 1,
        "startTimeUnixNano": str(now - 1_000_000),
        "endTimeUnixNano": str(now),
        "attributes": [
            {"key": "dpl.core.processing_activity_id", "value": {"stringValue": ACTIVITY}},
            {"key": "zone", "value": {"intValue": "3"}},
            {"key": "vlaggen", "value": {"arrayValue": {"values": [{"boolValue": True}]}}},
        ],
        "events": [
            {
                "name": "exception",
                "timeUnixNano": str(now),
                "attributes": [{"key": "exception.type", "value": {"stringValue": "Fout"}}],
            }
        ],
        "status": {"code": 1},
    }
    child = {
        **copy.deepcopy(span),
        "spanId": "eee19b7ec3c1b175",
        "parentSpanId": "eee19b7ec3c1b174",
    }
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "scanauto"}}]
                },
                "scopeSpans": [{"scope": {"name": "test"}, "spans": [span, child]}],
            }
        ]
    }


def valid_protobuf() -> bytes:
    request = decode_request(json.dumps(valid_json_document()).encode(), JSON)
    data: bytes = request.SerializeToString()
    return data


def assert_decodes_or_refuses(body: bytes, content_type: str, encoding: str | None = None) -> None:
    """The decoder's contract: a request whose spans all convert or say why, or an OtlpError."""
    try:
        request = decode_request(body, content_type, encoding)
    except OtlpError as exc:
        assert exc.status in (400, 413, 415), exc.status
        assert str(exc).strip()
        return
    assert isinstance(request, ExportTraceServiceRequest)
    for record, reason in spans_to_records(request):
        assert (record is None) != (reason is None)
        assert reason is None or reason.strip()


# --- mutations --------------------------------------------------------------------------------


@st.composite
def mutated_bytes(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "varint"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and data:
            del data[at : at + draw(st.integers(1, 8))]
        elif action == "truncate":
            del data[at:]
        elif action == "varint":  # a length or tag of ten continuation bytes: too long a varint
            data[at:at] = b"\xff" * 10
    return bytes(data)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        ["", "zz", "0x1", "-1", "1e400", "\ud800", "a\x00b", "5b8efff798038103d269b633813fc60c"]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_json(draw: st.DrawFn) -> bytes:
    document = valid_json_document()
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(document) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = document
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            parent[path[-1]] = draw(json_values)
        else:
            del parent[path[-1]]
    return json.dumps(document, allow_nan=True).encode("utf-8", "surrogatepass")


# --- the decoder ------------------------------------------------------------------------------


def test_the_valid_bodies_decode() -> None:
    """The starting points of the mutations are valid, so the mutations test the edges."""
    for body, kind in ((valid_protobuf(), PROTOBUF), (json.dumps(valid_json_document()), JSON)):
        request = decode_request(body.encode() if isinstance(body, str) else body, kind)
        results = spans_to_records(request)
        assert len(results) == 2 and all(record is not None for record, _ in results)


@FUZZ
@given(
    body=st.binary(max_size=600),
    content_type=st.sampled_from([PROTOBUF, JSON, "application/json; charset=utf-8", "text/x"]),
    encoding=st.sampled_from([None, "gzip", "identity", "br"]),
)
def test_arbitrary_bytes(body: bytes, content_type: str, encoding: str | None) -> None:
    assert_decodes_or_refuses(body, content_type, encoding)


@FUZZ
@given(data=st.data())
def test_mutated_protobuf(data: st.DataObject) -> None:
    body = data.draw(mutated_bytes(valid_protobuf()))
    assert_decodes_or_refuses(body, PROTOBUF)
    assert_decodes_or_refuses(gzip.compress(body), PROTOBUF, "gzip")


@FUZZ
@given(data=st.data())
def test_mutated_json(data: st.DataObject) -> None:
    assert_decodes_or_refuses(data.draw(mutated_json()), JSON)
    original = json.dumps(valid_json_document()).encode()
    assert_decodes_or_refuses(data.draw(mutated_bytes(original)), JSON)


HOSTILE_BODIES: dict[str, tuple[bytes, str, str | None]] = {
    "json nested 10k levels": (
        b'{"resourceSpans":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        JSON,
        None,
    ),
    "json nested objects": (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, JSON, None),
    "protobuf nested messages": (b"\x0a\x02" * 5_000, PROTOBUF, None),
    "json latin-1": ('{"resourceSpans": [], "x": "café"}'.encode("latin-1"), JSON, None),
    "json utf-16 with bom": ('{"resourceSpans": []}'.encode("utf-16"), JSON, None),
    "json lone surrogate escape": (
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"\\ud800"}]}]}]}',
        JSON,
        None,
    ),
    "json nul byte": (b'{"resourceSpans": []}\x00', JSON, None),
    "json array": (b"[]", JSON, None),
    "json huge integer": (
        b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":'
        + b"9" * 5000
        + b"}]}]}]}",
        JSON,
        None,
    ),
    "gzip bomb": (gzip.compress(b"\x00" * (40 * 1024 * 1024)), PROTOBUF, "gzip"),
    "truncated gzip": (gzip.compress(valid_protobuf())[:-6], PROTOBUF, "gzip"),
    "gzip of garbage": (b"\x1f\x8b" + b"\x00" * 30, PROTOBUF, "gzip"),
    "negative length": (b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", PROTOBUF, None),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_bodies_decode_or_are_refused(name: str) -> None:
    body, content_type, encoding = HOSTILE_BODIES[name]
    assert_decodes_or_refuses(body, content_type, encoding)


# --- the endpoint -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """One application for the module (hypothesis runs many examples against it)."""
    with tempfile.TemporaryDirectory(prefix="glazenstad-otlp-fuzz-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'otlp.sqlite3'}"
        app = create_app(
            Settings(database_url=url, data_dir=Path(tmp), system_clients=TEST_SYSTEMS)
        )
        load_register(make_engine(url), TEST_REGISTER, approved_by="test-approver")
        with TestClient(app, headers=system_token()) as test_client:
            yield test_client


def assert_clean_answer(
    client: TestClient, body: bytes, content_type: str, encoding: str | None
) -> None:
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    response = client.post("/v1/traces", content=body, headers=headers)
    assert response.status_code < 500, (response.status_code, response.content[:300])
    answer_json = content_type.split(";")[0].strip() == JSON
    if response.status_code == 200:
        if answer_json:
            answer = response.json()
            assert isinstance(answer, dict)
        else:
            ExportTraceServiceResponse.FromString(response.content)
        return
    assert 400 <= response.status_code < 500
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        assert response.json()["detail"].strip()  # refused before OTLP decoding (size, rate)
    elif answer_json:
        assert response.json()["message"].strip()
    else:  # google.rpc.Status: field 1 the code, field 2 the message
        assert response.content.startswith(b"\x08") and b"\x12" in response.content


@FUZZ
@given(data=st.data())
def test_the_endpoint_answers_every_body_cleanly(client: TestClient, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["bytes", "protobuf", "json"]))
    if kind == "bytes":
        body = data.draw(st.binary(max_size=400))
        content_type = data.draw(st.sampled_from([PROTOBUF, JSON]))
    elif kind == "protobuf":
        body, content_type = data.draw(mutated_bytes(valid_protobuf())), PROTOBUF
    else:
        body, content_type = data.draw(mutated_json()), JSON
    encoding = data.draw(st.sampled_from([None, None, "gzip"]))
    if encoding == "gzip" and data.draw(st.booleans()):
        body = gzip.compress(body)
    assert_clean_answer(client, body, content_type, encoding)


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_the_endpoint_refuses_hostile_bodies_cleanly(client: TestClient, name: str) -> None:
    body, content_type, encoding = HOSTILE_BODIES[name]
    assert_clean_answer(client, body, content_type, encoding)


def test_valid_spans_are_still_stored(client: TestClient) -> None:
    """The endpoint under fuzzing is a working one: the valid body is accepted whole."""
    response = client.post(
        "/v1/traces", content=valid_protobuf(), headers={"Content-Type": PROTOBUF}
    )
    assert response.status_code == 200, response.content
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 0, answer.partial_success.error_message
