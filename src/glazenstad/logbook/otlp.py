"""OTLP/HTTP trace ingest: decode an export request and convert its spans to LDV records.

The Logboek Dataverwerkingen recommends OTLP from the OpenTelemetry SDK as the transport, so an
application can send its spans unchanged. This module does the OTLP side only:

* `decode_request` turns an OTLP/HTTP body (`application/x-protobuf` or `application/json`,
  optionally `Content-Encoding: gzip`) into an `ExportTraceServiceRequest`, or raises `OtlpError`
  with the HTTP status the OTLP/HTTP specification asks for (400 bad data, 415 unsupported
  content type or encoding, 413 too large after decompression).
* `spans_to_records` converts every span, in request order, to the record dict that
  `record.parse_record` (and so `LogStore.ingest`) accepts; a span that cannot be converted gets
  `(None, reason)` instead, so the caller can count it as rejected (never silently dropped).
* `partial_success_response` / `error_response` encode the OTLP answer in the request's format.

OTLP/JSON differs from the protobuf JSON mapping in one point: trace and span ids are hex
strings, not base64 (OTLP specification, "JSON Protobuf Encoding"). `decode_request` rewrites them
to base64 before handing the document to `json_format`. Unknown fields are ignored, as the
specification requires of receivers.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Iterable
from typing import Any, Final

from google.protobuf import json_format  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from glazenstad.logbook.record import ATTR_ACTIVITY

CONTENT_TYPE_PROTOBUF: Final = "application/x-protobuf"
CONTENT_TYPE_JSON: Final = "application/json"
CONTENT_TYPES: Final = (CONTENT_TYPE_PROTOBUF, CONTENT_TYPE_JSON)

# Upper bound of a decompressed body: a small gzip body can expand a thousandfold.
MAX_BODY_BYTES: Final = 32 * 1024 * 1024

# OpenTelemetry's exception semantic conventions, copied from an "exception" span event.
EXCEPTION_ATTRIBUTES: Final = ("exception.message", "exception.type", "exception.stacktrace")

# google.rpc.Code values used in an OTLP/HTTP error body.
RPC_INVALID_ARGUMENT: Final = 3

_STATUS_NAMES: Final = {0: "Unset", 1: "Ok", 2: "Error"}
_HEX: Final = re.compile(r"[0-9a-fA-F]*")
_ID_FIELDS: Final = (
    ("traceId", "trace_id"),
    ("spanId", "span_id"),
    ("parentSpanId", "parent_span_id"),
)


class OtlpError(ValueError):
    """An OTLP/HTTP body cannot be decoded; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class _SpanError(ValueError):
    """One span cannot be converted; the message is its rejection reason."""


# --- decoding ---------------------------------------------------------------------------------


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header, lowercase, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    out: list[bytes] = []
    size = 0
    data = body
    while True:  # a gzip file may hold several members, one after another
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = inflater.decompress(data, max_bytes - size + 1)
        except zlib.error as exc:
            raise OtlpError(f"body: not valid gzip data ({exc})") from exc
        size += len(chunk)
        if size > max_bytes or inflater.unconsumed_tail:
            raise OtlpError(f"body: larger than {max_bytes} bytes after gzip decompression", 413)
        if not inflater.eof:
            raise OtlpError("body: gzip data is truncated")
        out.append(chunk)
        data = inflater.unused_data
        if not data:
            return b"".join(out)


def _decode_content(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        return _gunzip(body, max_bytes)
    if encoding != "identity":
        raise OtlpError(
            f"Content-Encoding: {content_encoding!r} is not supported (use gzip or none)", 415
        )
    if len(body) > max_bytes:
        raise OtlpError(f"body: larger than {max_bytes} bytes", 413)
    return body


def _hex_to_base64(value: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value  # json_format reports the wrong type with the field name
    if not _HEX.fullmatch(value) or len(value) % 2:
        raise OtlpError(
            f"{where}: {value[:40]!r} is not a hex string "
            "(OTLP/JSON encodes trace and span ids as hex, not base64)"
        )
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")


def _first_key(obj: dict[str, Any], names: Iterable[str]) -> str | None:
    return next((name for name in names if name in obj), None)


def _ids_hex_to_base64(document: Any) -> None:
    """Rewrite OTLP/JSON's hex ids in place to the base64 that the protobuf JSON mapping uses."""

    def items(obj: Any, names: tuple[str, str], where: str) -> Iterable[tuple[str, Any]]:
        if not isinstance(obj, dict):
            return []
        key = _first_key(obj, names)
        value = obj.get(key) if key else None
        if not isinstance(value, list):
            return []
        return ((f"{where}.{key}[{i}]", item) for i, item in enumerate(value))

    def rewrite(obj: Any, where: str, fields: Iterable[tuple[str, str]]) -> None:
        if not isinstance(obj, dict):
            return
        for names in fields:
            for name in names:
                if name in obj:
                    obj[name] = _hex_to_base64(obj[name], f"{where}.{name}")

    for rs_where, rs in items(document, ("resourceSpans", "resource_spans"), "body"):
        for ss_where, ss in items(rs, ("scopeSpans", "scope_spans"), rs_where):
            for span_where, span in items(ss, ("spans", "spans"), ss_where):
                rewrite(span, span_where, _ID_FIELDS)
                for link_where, link in items(span, ("links", "links"), span_where):
                    rewrite(link, link_where, _ID_FIELDS[:2])


def decode_request(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None = None,
    *,
    max_bytes: int = MAX_BODY_BYTES,
) -> ExportTraceServiceRequest:
    """Decode an OTLP/HTTP trace export body; raises OtlpError naming what is wrong."""
    kind = media_type(content_type)
    if kind not in CONTENT_TYPES:
        raise OtlpError(
            f"Content-Type: {content_type!r} is not supported "
            f"(use {CONTENT_TYPE_PROTOBUF} or {CONTENT_TYPE_JSON})",
            415,
        )
    data = _decode_content(body, content_encoding, max_bytes)
    request = ExportTraceServiceRequest()
    if kind == CONTENT_TYPE_PROTOBUF:
        try:
            request.ParseFromString(data)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise OtlpError(
                f"body: not a valid protobuf ExportTraceServiceRequest ({exc or 'decode error'})"
            ) from exc
        return request
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise OtlpError(f"body: JSON must be encoded as UTF-8 ({exc})") from exc
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise OtlpError(f"body: not valid JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise OtlpError("body: the JSON must be an object with 'resourceSpans'")
    _ids_hex_to_base64(document)
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError, ValueError, TypeError) as exc:
        raise OtlpError(f"body: not a valid OTLP/JSON ExportTraceServiceRequest ({exc})") from exc
    return request


# --- conversion -------------------------------------------------------------------------------


def _any_value(value: Any, where: str, *, in_array: bool = False) -> Any:
    """An OTLP AnyValue as a record attribute value (primitive or list of primitives)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "array_value":
        if in_array:
            raise _SpanError(f"{where}: nested arrays are not supported")
        return [
            _any_value(item, f"{where}[{i}]", in_array=True)
            for i, item in enumerate(value.array_value.values)
        ]
    if kind == "kvlist_value":
        raise _SpanError(f"{where}: a key-value list is not supported (use flat attributes)")
    if kind == "bytes_value":
        raise _SpanError(f"{where}: a bytes value is not supported (send a string)")
    raise _SpanError(f"{where}: has no value (leave the attribute out instead)")


def _attributes(key_values: Iterable[Any], where: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for kv in key_values:
        key, value = kv.key, kv.value
        if key in result:
            raise _SpanError(f"{where}: attribute {key!r} occurs more than once")
        # Strings first and without building the attribute's name: nearly every value is one.
        if value.WhichOneof("value") == "string_value":
            result[key] = value.string_value
        else:
            result[key] = _any_value(value, f"{where}.{key}")
    return result


def _hex(value: bytes) -> str:
    return value.hex()


def _ms(nanos: int, name: str) -> int:
    if nanos == 0:
        raise _SpanError(f"{name}: missing (0 means unknown in OTLP)")
    return nanos // 1_000_000


def _span_record(span: Any, resource: dict[str, Any] | None) -> dict[str, Any]:
    status_code = span.status.code
    if status_code not in _STATUS_NAMES:
        raise _SpanError(f"status: unknown OTLP status code {status_code}")
    attributes = _attributes(span.attributes, "attributes")
    if ATTR_ACTIVITY not in attributes:
        hint = (
            " (it is a resource attribute; set it on the span)"
            if resource and ATTR_ACTIVITY in resource["attributes"]
            else ""
        )
        raise _SpanError(f"attributes.{ATTR_ACTIVITY}: required{hint}")
    # The exception semantic conventions record an error as an "exception" event; its attributes
    # go into the record's attributes (the last event wins; attributes on the span itself win).
    from_events: dict[str, Any] = {}
    for i, event in enumerate(span.events):
        if event.name != "exception":
            continue
        for kv in event.attributes:
            if kv.key in EXCEPTION_ATTRIBUTES:
                from_events[kv.key] = _any_value(kv.value, f"events[{i}].attributes.{kv.key}")
    for key, value in from_events.items():
        attributes.setdefault(key, value)
    record: dict[str, Any] = {
        "trace_id": _hex(span.trace_id),
        "span_id": _hex(span.span_id),
        "name": span.name,
        "start_time": _ms(span.start_time_unix_nano, "start_time_unix_nano"),
        "end_time": _ms(span.end_time_unix_nano, "end_time_unix_nano"),
        "status": _STATUS_NAMES[status_code],
        "attributes": attributes,
    }
    if span.parent_span_id:
        record["parent_span_id"] = _hex(span.parent_span_id)
    if resource is not None:  # a copy per record: records of one resource share no dicts
        record["resource"] = {"attributes": dict(resource["attributes"])}
    return record


def spans_to_records(
    request: ExportTraceServiceRequest,
) -> list[tuple[dict[str, Any] | None, str | None]]:
    """One (record, None) or (None, reason) per span, in request order."""
    results: list[tuple[dict[str, Any] | None, str | None]] = []
    for resource_spans in request.resource_spans:
        resource: dict[str, Any] | None = None
        resource_error: str | None = None
        try:
            resource_attributes = _attributes(
                resource_spans.resource.attributes, "resource.attributes"
            )
        except _SpanError as exc:
            resource_error = str(exc)
        else:
            if resource_attributes:
                resource = {"attributes": resource_attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if resource_error is not None:
                    results.append((None, resource_error))
                    continue
                try:
                    results.append((_span_record(span, resource), None))
                except _SpanError as exc:
                    results.append((None, str(exc)))
    return results


def count_spans(request: ExportTraceServiceRequest) -> int:
    return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)


# --- responses --------------------------------------------------------------------------------


def export_response(rejected: int = 0, message: str = "") -> ExportTraceServiceResponse:
    """The ExportTraceServiceResponse; partial_success is left unset when there is nothing in it."""
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return response


def partial_success_response(
    rejected: int, message: str, content_type: str | None = CONTENT_TYPE_PROTOBUF
) -> bytes:
    """The encoded response body, in the request's format (OTLP/HTTP answers in kind)."""
    response = export_response(rejected, message)
    if media_type(content_type) == CONTENT_TYPE_JSON:
        return json.dumps(partial_success_dict(rejected, message)).encode()
    data: bytes = response.SerializeToString()
    return data


def partial_success_dict(rejected: int, message: str) -> dict[str, Any]:
    """The OTLP/JSON response as a dict (int64 as a decimal string, as protobuf JSON writes it)."""
    result: dict[str, Any] = json_format.MessageToDict(export_response(rejected, message))
    return result


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def error_response(
    message: str,
    content_type: str | None = CONTENT_TYPE_PROTOBUF,
    code: int = RPC_INVALID_ARGUMENT,
) -> bytes:
    """An OTLP/HTTP error body: a google.rpc.Status {code, message} in the request's format.

    Encoded by hand (two fields) so the googleapis-common-protos package is not needed.
    """
    if media_type(content_type) == CONTENT_TYPE_JSON:
        return json.dumps({"code": code, "message": message}).encode()
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
