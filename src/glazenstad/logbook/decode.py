"""Decoding a JSON batch of log records straight into validated records, in one pass.

Ingest spends most of its time per record on decoding JSON and checking fields one by one in
Python. Here msgspec decodes each record into a typed structure whose types and constraints
(hex patterns, lengths, time range, status, no unknown fields) are checked as it decodes, in C;
the few remaining checks (all-zero ids, end before start, the dpl.core attributes) run in Python
on values already known to be of the right type.

`parse_record` stays the definition of a valid record and the only source of rejection reasons:
whatever the typed decoder does not accept, for whatever reason, is decoded again with `json`
and handed to `parse_record`, which either rejects it naming the field or accepts it (the typed
decoder is deliberately narrower: no `\\u` escapes, which could carry NUL or lone surrogates, no
list-valued attributes, times as numbers only). So the typed path may leave a valid record to
the slow path, but never accepts a record `parse_record` would refuse, and accepted records are
equal on both paths; `tests/logbook/test_decode.py` checks this on generated records.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import Meta

from glazenstad.logbook.record import (
    MAX_ATTRIBUTES,
    MAX_NAME,
    MAX_STRING,
    MAX_TIME_MS,
    LogRecord,
    RecordError,
    complete_record,
    parse_record,
)

_Key = Annotated[str, Meta(min_length=1, max_length=255)]
_Value = Annotated[str, Meta(max_length=MAX_STRING)] | int | float | bool
_Attributes = Annotated[dict[_Key, _Value], Meta(max_length=MAX_ATTRIBUTES)]
_Time = Annotated[int, Meta(ge=0, le=MAX_TIME_MS)]


class _Resource(msgspec.Struct, forbid_unknown_fields=True):
    attributes: _Attributes = {}


class _Record(msgspec.Struct, forbid_unknown_fields=True):
    trace_id: Annotated[str, Meta(pattern="^[0-9a-f]{32}$")]
    span_id: Annotated[str, Meta(pattern="^[0-9a-f]{16}$")]
    name: Annotated[str, Meta(min_length=1, max_length=MAX_NAME)]
    start_time: _Time
    end_time: _Time
    status: Literal["Unset", "Ok", "Error"]
    attributes: _Attributes
    parent_span_id: Annotated[str, Meta(pattern="^([0-9a-f]{16})?$")] | None = None
    resource: _Resource | None = None


class Envelope(msgspec.Struct):
    """`POST /api/v1/logboek/records`: the organisation and its records, each still raw JSON."""

    organisation_id: str = msgspec.field(name="organisationId")
    records: list[msgspec.Raw] = []


_RECORD: Final = msgspec.json.Decoder(_Record)
_ENVELOPE: Final = msgspec.json.Decoder(Envelope)
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16


def decode_envelope(body: bytes) -> Envelope | None:
    """The batch's envelope, or None when the typed decoder cannot read it (ask the slow path)."""
    try:
        return _ENVELOPE.decode(body)
    except (msgspec.MsgspecError, RecursionError):  # RecursionError: nested thousands deep
        return None


def _typed(raw: bytes) -> LogRecord | None:
    if b"\\u" in raw:
        return None
    try:
        r = _RECORD.decode(raw)
    except (msgspec.MsgspecError, RecursionError):  # RecursionError: nested thousands deep
        return None
    parent = r.parent_span_id or None
    if (
        r.trace_id == _ZERO_TRACE
        or r.span_id == _ZERO_SPAN
        or parent == _ZERO_SPAN
        or parent == r.span_id
        or r.end_time < r.start_time
        or r.name.isspace()
    ):
        return None
    resource = None if r.resource is None else {"attributes": r.resource.attributes}
    try:
        return complete_record(
            r.trace_id,
            r.span_id,
            parent,
            r.name,
            r.start_time,
            r.end_time,
            r.status,
            resource,
            r.attributes,
        )
    except RecordError:
        return None


def decode_record(raw: bytes | msgspec.Raw) -> LogRecord:
    """One record from its JSON text; raises RecordError with `parse_record`'s reason."""
    text = bytes(raw)
    record = _typed(text)
    if record is not None:
        return record
    try:
        document: Any = json.loads(text)
    except ValueError:
        raise RecordError("record: not valid JSON") from None
    return parse_record(document)


def decode_records(raws: list[msgspec.Raw]) -> list[LogRecord | RecordError]:
    """Every record of a batch: a LogRecord, or the RecordError that names its problem."""
    result: list[LogRecord | RecordError] = []
    for raw in raws:
        try:
            result.append(decode_record(raw))
        except RecordError as exc:
            result.append(exc)
    return result
