"""OTLP/HTTP ingest conversion: real SDK spans, encoded as the OTLP HTTP exporter sends them,
decoded from protobuf and OTLP/JSON, converted to LDV records that `parse_record` accepts."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from glazenstad.logbook.otlp import (
    OtlpError,
    count_spans,
    decode_request,
    error_response,
    export_response,
    partial_success_dict,
    partial_success_response,
    spans_to_records,
)
from glazenstad.logbook.record import (
    ATTR_ACTIVITY,
    ATTR_PROCESSOR,
    ATTR_SUBJECT_ID,
    ATTR_SUBJECT_TYPE,
    parse_record,
    validate_batch,
)
from tests.logbook.conftest import ACTIVITY, BSN

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
T0 = 1_764_000_000_123_456_789  # ns: 2025-11-24, sub-millisecond part to check the rounding
BASE64_ID = "AAECAwQFBgcICQoLDA0ODw=="  # what protobuf's own JSON mapping would write
PROCESSOR = "https://portaal.teststad.example/parkeren"


@pytest.fixture
def spans() -> Iterator[list[ReadableSpan]]:
    """A parent span with two child spans (one per data subject), one failing, plus one span
    without the processing activity id; made by the real SDK."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "scanauto", "service.version": "1.2"})
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("glazenstad.tests")

    parent = tracer.start_span(
        "Scanronde",
        start_time=T0,
        attributes={ATTR_ACTIVITY: ACTIVITY, ATTR_PROCESSOR: PROCESSOR},
    )
    ctx = trace.set_span_in_context(parent)
    child = tracer.start_span(
        "Kenteken controleren",
        context=ctx,
        start_time=T0 + 1_000_000,
        attributes={
            ATTR_ACTIVITY: ACTIVITY,
            ATTR_SUBJECT_ID: BSN,
            ATTR_SUBJECT_TYPE: "BSN",
            "zone": "centrum",
            "pogingen": 2,
            "vertrouwen": 0.75,
            "betaald": True,
            "zones": ["centrum", "oost"],
        },
    )
    child.set_status(Status(StatusCode.OK))
    child.end(end_time=T0 + 5_999_999)
    failing = tracer.start_span(
        "Parkeerrecht opvragen",
        context=ctx,
        start_time=T0 + 6_000_000,
        attributes={ATTR_ACTIVITY: ACTIVITY, ATTR_SUBJECT_ID: "AB-123-C"},
    )
    failing.set_attribute(ATTR_SUBJECT_TYPE, "kenteken")
    failing.record_exception(TimeoutError("parkeerregister antwoordt niet"))
    failing.set_status(Status(StatusCode.ERROR, "timeout"))
    failing.end(end_time=T0 + 9_000_000)
    unlogged = tracer.start_span("Zonder activiteit", context=ctx, start_time=T0 + 9_000_000)
    unlogged.end(end_time=T0 + 9_500_000)
    parent.end(end_time=T0 + 10_000_000)

    provider.shutdown()
    # Finished order: child, failing, unlogged, parent.
    yield list(exporter.get_finished_spans())


def otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON as the specification defines it: protobuf JSON, but ids in hex."""
    document = json_format.MessageToDict(request)
    for rs in document.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document).encode()


def convert(body: bytes, content_type: str, encoding: str | None = None) -> list[Any]:
    return spans_to_records(decode_request(body, content_type, encoding))


def sdk_ids(span: ReadableSpan) -> tuple[str, str, str | None]:
    ctx = span.get_span_context()
    assert ctx is not None
    parent = span.parent.span_id if span.parent is not None else None
    return (
        trace.format_trace_id(ctx.trace_id),
        trace.format_span_id(ctx.span_id),
        trace.format_span_id(parent) if parent is not None else None,
    )


def test_protobuf_round_trip_gives_exact_ldv_records(spans: list[ReadableSpan]) -> None:
    request = encode_spans(spans)
    results = convert(request.SerializeToString(), PROTOBUF)
    assert len(results) == count_spans(request) == 4
    child, failing, _, parent = results

    # Parent/child structure and ids survive exactly.
    child_ids, _, _, parent_ids = (sdk_ids(s) for s in spans)
    record = child[0]
    assert child[1] is None
    assert (record["trace_id"], record["span_id"], record["parent_span_id"]) == child_ids
    assert child_ids[2] == parent_ids[1]
    assert failing[0]["parent_span_id"] == parent_ids[1]
    assert "parent_span_id" not in parent[0]
    assert {r[0]["trace_id"] for r in (child, failing, parent)} == {parent_ids[0]}

    assert record == {
        "trace_id": child_ids[0],
        "span_id": child_ids[1],
        "parent_span_id": child_ids[2],
        "name": "Kenteken controleren",
        "start_time": (T0 + 1_000_000) // 1_000_000,
        "end_time": (T0 + 5_999_999) // 1_000_000,
        "status": "Ok",
        "resource": {"attributes": dict(spans[0].resource.attributes)},
        "attributes": {
            ATTR_ACTIVITY: ACTIVITY,
            ATTR_SUBJECT_ID: BSN,
            ATTR_SUBJECT_TYPE: "BSN",
            "zone": "centrum",
            "pogingen": 2,
            "vertrouwen": 0.75,
            "betaald": True,
            "zones": ["centrum", "oost"],
        },
    }
    assert record["resource"]["attributes"]["service.name"] == "scanauto"
    assert record["resource"]["attributes"]["telemetry.sdk.language"] == "python"
    assert record["start_time"] == 1_764_000_000_124
    assert record["end_time"] == 1_764_000_000_129  # integer division, not rounding

    parsed = parse_record(record)
    assert parsed.processing_activity_id == ACTIVITY
    assert parsed.data_subject_id == BSN
    assert parsed.attributes["pogingen"] == 2
    assert parent[0]["status"] == "Unset"
    assert parse_record(parent[0]).processor == PROCESSOR


def test_exception_event_goes_into_attributes(spans: list[ReadableSpan]) -> None:
    _, (record, reason), _, _ = convert(encode_spans(spans).SerializeToString(), PROTOBUF)
    assert reason is None
    assert record["status"] == "Error"
    attributes = record["attributes"]
    assert attributes["exception.type"] == "TimeoutError"
    assert attributes["exception.message"] == "parkeerregister antwoordt niet"
    assert "TimeoutError" in attributes["exception.stacktrace"]
    assert "exception.escaped" not in attributes
    parsed = parse_record(record)
    assert parsed.data_subject_id_type == "kenteken"
    assert parsed.attributes["exception.type"] == "TimeoutError"


def test_span_without_activity_is_rejected_with_reason(spans: list[ReadableSpan]) -> None:
    results = convert(encode_spans(spans).SerializeToString(), PROTOBUF)
    assert results[2] == (None, f"attributes.{ATTR_ACTIVITY}: required")
    valid = validate_batch(r for r, _ in results if r is not None)
    assert not valid.rejected
    assert len(valid.accepted) == 3


def test_activity_only_on_resource_gets_a_hint() -> None:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    rs.resource.attributes.add(key=ATTR_ACTIVITY, value=AnyValue(string_value=ACTIVITY))
    span = rs.scope_spans.add().spans.add(
        trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="x", start_time_unix_nano=T0
    )
    span.end_time_unix_nano = T0
    [(record, reason)] = spans_to_records(request)
    assert record is None
    assert (
        reason
        == f"attributes.{ATTR_ACTIVITY}: required (it is a resource attribute; set it on the span)"
    )


def test_otlp_json_round_trip_equals_protobuf(spans: list[ReadableSpan]) -> None:
    request = encode_spans(spans)
    body = otlp_json(request)
    assert (
        json.loads(body)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
        == (sdk_ids(spans[0])[0])
    )
    assert decode_request(body, "application/json; charset=utf-8") == request
    assert convert(body, JSON) == convert(request.SerializeToString(), PROTOBUF)


def test_otlp_json_as_in_the_specification() -> None:
    """Hand-written OTLP/JSON: hex ids, int64 as strings, enum as integer, unknown fields."""
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "balie"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "balie"},
                        "spans": [
                            {
                                "traceId": "5B8EFFF798038103D269B633813FC60C",
                                "spanId": "EEE19B7EC3C1B174",
                                "parentSpanId": "EEE19B7EC3C1B173",
                                "name": "Paspoort aanvragen",
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": 1544712661000000000,
                                "kind": 2,
                                "status": {"code": 2, "message": "kapot"},
                                "futureField": {"x": 1},
                                "attributes": [
                                    {"key": ATTR_ACTIVITY, "value": {"stringValue": ACTIVITY}},
                                    {"key": "aantal", "value": {"intValue": "3"}},
                                    {"key": "groot", "value": {"intValue": "9007199254740993"}},
                                    {"key": "ratio", "value": {"doubleValue": 0.5}},
                                    {"key": "spoed", "value": {"boolValue": False}},
                                    {
                                        "key": "codes",
                                        "value": {
                                            "arrayValue": {
                                                "values": [{"intValue": "1"}, {"intValue": 2}]
                                            }
                                        },
                                    },
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    [(record, reason)] = convert(json.dumps(body).encode(), JSON)
    assert reason is None
    assert record == {
        "trace_id": "5b8efff798038103d269b633813fc60c",
        "span_id": "eee19b7ec3c1b174",
        "parent_span_id": "eee19b7ec3c1b173",
        "name": "Paspoort aanvragen",
        "start_time": 1_544_712_660_000,
        "end_time": 1_544_712_661_000,
        "status": "Error",
        "resource": {"attributes": {"service.name": "balie"}},
        "attributes": {
            ATTR_ACTIVITY: ACTIVITY,
            "aantal": 3,
            "groot": 9_007_199_254_740_993,
            "ratio": 0.5,
            "spoed": False,
            "codes": [1, 2],
        },
    }
    parse_record(record)


def test_gzip_protobuf_and_json(spans: list[ReadableSpan]) -> None:
    request = encode_spans(spans)
    expected = convert(request.SerializeToString(), PROTOBUF)
    assert convert(gzip.compress(request.SerializeToString()), PROTOBUF, "gzip") == expected
    assert convert(gzip.compress(otlp_json(request)), JSON, "GZIP") == expected
    assert convert(request.SerializeToString(), PROTOBUF, "identity") == expected
    # Two gzip members one after the other are one body (as gzip -d reads them).
    data = request.SerializeToString()
    two = gzip.compress(data[:10]) + gzip.compress(data[10:])
    assert decode_request(two, PROTOBUF, "gzip") == request


def test_empty_request_has_no_spans() -> None:
    assert spans_to_records(decode_request(b"", PROTOBUF)) == []
    assert spans_to_records(decode_request(b"{}", JSON)) == []


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "status", "message"),
    [
        (b"\x0a\xff\xff", PROTOBUF, None, 400, "not a valid protobuf ExportTraceServiceRequest"),
        (b"\xff\xff\xff\xff", PROTOBUF, None, 400, "not a valid protobuf"),
        (b"{not json", JSON, None, 400, "body: not valid JSON"),
        (b'"a string"', JSON, None, 400, "must be an object with 'resourceSpans'"),
        (b"\xff\xfe{}", JSON, None, 400, "JSON must be encoded as UTF-8"),
        (b"\xef\xbb\xbf[]", JSON, None, 400, "must be an object"),  # a UTF-8 BOM is allowed
        (
            b'{"resourceSpans": 5}',
            JSON,
            None,
            400,
            "not a valid OTLP/JSON ExportTraceServiceRequest",
        ),
        (
            json.dumps(
                {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": BASE64_ID}]}]}]}
            ).encode(),
            JSON,
            None,
            400,
            f"body.resourceSpans[0].scopeSpans[0].spans[0].traceId: {BASE64_ID!r} "
            "is not a hex string (OTLP/JSON encodes trace and span ids as hex, not base64)",
        ),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "0 1"}]}]}]}',
            JSON,
            None,
            400,
            "spans[0].spanId: '0 1' is not a hex string",
        ),
        (b"{}", "text/plain", None, 415, "Content-Type: 'text/plain' is not supported"),
        (b"{}", "", None, 415, "Content-Type: '' is not supported"),
        (b"{}", JSON, "br", 415, "Content-Encoding: 'br' is not supported"),
        (b"not gzip", JSON, "gzip", 400, "body: not valid gzip data"),
        (gzip.compress(b"{}", mtime=0)[:-12], JSON, "gzip", 400, "body: gzip data is truncated"),
    ],
)
def test_bad_bodies_raise_clear_errors(
    body: bytes, content_type: str, encoding: str | None, status: int, message: str
) -> None:
    with pytest.raises(OtlpError) as info:
        decode_request(body, content_type, encoding)
    assert message in str(info.value)
    assert info.value.status == status


def test_gzip_bomb_is_refused() -> None:
    body = gzip.compress(b"\x00" * 2_000_000)
    with pytest.raises(OtlpError, match="larger than 1000000 bytes after gzip") as info:
        decode_request(body, PROTOBUF, "gzip", max_bytes=1_000_000)
    assert info.value.status == 413
    with pytest.raises(OtlpError, match="larger than 10 bytes"):
        decode_request(b"{" + b" " * 20 + b"}", JSON, max_bytes=10)


def _request_with_attribute(value: AnyValue) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    span = (
        request.resource_spans.add()
        .scope_spans.add()
        .spans.add(
            trace_id=b"\x01" * 16,
            span_id=b"\x02" * 8,
            name="x",
            start_time_unix_nano=T0,
            end_time_unix_nano=T0,
        )
    )
    span.attributes.add(key=ATTR_ACTIVITY, value=AnyValue(string_value=ACTIVITY))
    span.attributes.add(key="waarde", value=value)
    return request


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (AnyValue(bytes_value=b"\x00"), "attributes.waarde: a bytes value is not supported"),
        (
            AnyValue(kvlist_value={"values": [KeyValue(key="a")]}),
            "attributes.waarde: a key-value list is not supported",
        ),
        (AnyValue(), "attributes.waarde: has no value"),
        (
            AnyValue(array_value={"values": [AnyValue(array_value={})]}),
            "attributes.waarde[0]: nested arrays are not supported",
        ),
        (
            AnyValue(array_value={"values": [AnyValue(bytes_value=b"x")]}),
            "attributes.waarde[0]: a bytes value is not supported",
        ),
    ],
)
def test_unsupported_attribute_values_reject_the_span(value: AnyValue, reason: str) -> None:
    [(record, got)] = spans_to_records(_request_with_attribute(value))
    assert record is None
    assert got is not None and got.startswith(reason)


def test_span_level_problems_reject_only_that_span() -> None:
    request = _request_with_attribute(AnyValue(string_value="ok"))
    spans = request.resource_spans[0].scope_spans[0].spans
    good = spans[0]
    no_start = spans.add()
    no_start.CopyFrom(good)
    no_start.start_time_unix_nano = 0
    bad_status = spans.add()
    bad_status.CopyFrom(good)
    bad_status.status.code = 7  # type: ignore[assignment]
    duplicate = spans.add()
    duplicate.CopyFrom(good)
    duplicate.attributes.add(key="waarde", value=AnyValue(string_value="nog eens"))
    results = spans_to_records(request)
    assert results[0][1] is None
    assert results[1] == (None, "start_time_unix_nano: missing (0 means unknown in OTLP)")
    assert results[2] == (None, "status: unknown OTLP status code 7")
    assert results[3] == (None, "attributes: attribute 'waarde' occurs more than once")


def test_bad_resource_rejects_its_spans() -> None:
    request = _request_with_attribute(AnyValue(string_value="ok"))
    request.resource_spans[0].resource.attributes.add(key="blob", value=AnyValue(bytes_value=b"x"))
    assert spans_to_records(request) == [
        (None, "resource.attributes.blob: a bytes value is not supported (send a string)")
    ]


def test_invalid_ids_are_left_to_parse_record() -> None:
    request = _request_with_attribute(AnyValue(string_value="ok"))
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b"\x01" * 8
    [(record, reason)] = spans_to_records(request)
    assert reason is None and record is not None
    assert (
        validate_batch([record])
        .rejected[0]
        .reason.startswith("trace_id: must be 32 lowercase hex characters")
    )


def test_partial_success_response_protobuf_and_json() -> None:
    body = partial_success_response(2, "2 spans rejected: ...")
    response = ExportTraceServiceResponse()
    response.ParseFromString(body)
    assert response.HasField("partial_success")
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message == "2 spans rejected: ..."

    as_json = json.loads(partial_success_response(2, "twee", "application/json; charset=utf-8"))
    assert as_json == {"partialSuccess": {"rejectedSpans": "2", "errorMessage": "twee"}}
    assert partial_success_dict(2, "twee") == as_json
    parsed = json_format.Parse(json.dumps(as_json), ExportTraceServiceResponse())
    assert parsed.partial_success.rejected_spans == 2

    # Everything accepted: partial_success stays unset (an empty response).
    assert partial_success_response(0, "") == b""
    assert json.loads(partial_success_response(0, "", JSON)) == {}
    assert not export_response().HasField("partial_success")
    # A warning with nothing rejected is allowed by OTLP: rejected 0, message set.
    warning = export_response(0, "let op")
    assert warning.HasField("partial_success")
    assert warning.partial_success.rejected_spans == 0


def test_error_response_is_a_google_rpc_status() -> None:
    status = status_pb2.Status()
    status.ParseFromString(error_response("body: not valid JSON é" + "x" * 200))
    assert status.code == 3
    assert status.message == "body: not valid JSON é" + "x" * 200
    assert json.loads(error_response("kapot", JSON)) == {"code": 3, "message": "kapot"}


def test_real_otlp_http_exporter_body_is_decoded() -> None:
    """The OTLP HTTP exporter posts gzip-compressed protobuf to a local server; we decode what it
    sent, answer with a partial success, and the exporter accepts the answer."""
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    received: list[tuple[bytes, str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(
                (body, self.headers["Content-Type"], self.headers.get("Content-Encoding"))
            )
            request = decode_request(body, received[-1][1], received[-1][2])
            rejected = [r for _, r in spans_to_records(request) if r is not None]
            answer = partial_success_response(len(rejected), "; ".join(rejected))
            self.send_response(200)
            self.send_header("Content-Type", PROTOBUF)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        exporter = OTLPSpanExporter(
            endpoint=f"http://127.0.0.1:{server.server_address[1]}/v1/traces",
            compression=Compression.Gzip,
            timeout=5,
        )
        provider = TracerProvider(resource=Resource.create({"service.name": "scanauto"}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("glazenstad.tests")
        with (
            tracer.start_as_current_span("Ronde", attributes={ATTR_ACTIVITY: ACTIVITY}) as outer,
            tracer.start_as_current_span(
                "Scan", attributes={ATTR_ACTIVITY: ACTIVITY, ATTR_SUBJECT_ID: BSN}
            ),
        ):
            pass
        provider.shutdown()
    finally:
        server.shutdown()
        server.server_close()

    assert len(received) == 2  # SimpleSpanProcessor: one request per span
    body, content_type, encoding = received[0]
    assert content_type == PROTOBUF
    assert encoding == "gzip"
    [(inner, reason)] = convert(body, content_type, encoding)
    # The inner span lacks data_subject_id_type: converted fine, rejected by parse_record.
    assert reason is None and inner is not None
    assert inner["parent_span_id"] == trace.format_span_id(outer.get_span_context().span_id)
    assert validate_batch([inner]).rejected[0].reason == (
        f"attributes.{ATTR_SUBJECT_TYPE}: required when {ATTR_SUBJECT_ID} is given"
    )
    [(outer_record, _)] = convert(*received[1])
    parsed = parse_record(outer_record)
    assert parsed.span_id == trace.format_span_id(outer.get_span_context().span_id)
    assert parsed.resource is not None
    assert parsed.resource["attributes"]["service.name"] == "scanauto"
