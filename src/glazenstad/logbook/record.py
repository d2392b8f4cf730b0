"""The LDV log record as the ingest accepts it, and its validation.

A record is a JSON object with the field names of the Logboek Dataverwerkingen standard
(snake_case: `trace_id`, `span_id`, `parent_span_id`, `name`, `start_time`, `end_time`, `status`,
`resource`, `attributes`). Validation is hand-written rather than a pydantic model: it runs once
per record on the ingest hot path, and every rejection must name the field in plain words
("span_id: must be 16 lowercase hex characters"). One bad record never rejects its batch:
`validate_batch` returns the accepted records and, for every rejected one, its index and reason.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

ATTR_ACTIVITY: Final = "dpl.core.processing_activity_id"
ATTR_SUBJECT_ID: Final = "dpl.core.data_subject_id"
ATTR_SUBJECT_TYPE: Final = "dpl.core.data_subject_id_type"
ATTR_PROCESSOR: Final = "dpl.core.foreign_operation.processor"
DPL_ATTRIBUTES: Final = frozenset(
    {ATTR_ACTIVITY, ATTR_SUBJECT_ID, ATTR_SUBJECT_TYPE, ATTR_PROCESSOR}
)

STATUSES: Final = ("Unset", "Ok", "Error")
FIELDS: Final = frozenset(
    {
        "trace_id",
        "span_id",
        "parent_span_id",
        "name",
        "start_time",
        "end_time",
        "status",
        "resource",
        "attributes",
    }
)

# Milliseconds since the epoch up to 9999-12-31T23:59:59.999Z: later values cannot be shown as
# a date by any component, and a uint64 beyond this is a unit mistake (ns or µs sent as ms).
MAX_TIME_MS: Final = 253_402_300_799_999
MAX_NAME = 1000
MAX_URI = 600
MAX_STRING = 4096
MAX_ATTRIBUTES = 128

_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
_URI = re.compile(r"(https?://[^\s]+|urn:[a-zA-Z0-9][a-zA-Z0-9-]{0,31}:[^\s]+)")
_HTTP_URL = re.compile(r"https?://[^\s]+")
# NUL cannot be stored in PostgreSQL text, lone surrogates cannot be encoded as UTF-8: either
# would make the whole batch's insert fail, so the record carrying one is rejected alone.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# Records carry times as milliseconds since this moment (the LDV format).
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def ms_to_datetime(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


AttributeValue = str | bool | int | float | list[str] | list[bool] | list[int] | list[float]


class RecordError(ValueError):
    """A record is invalid; the message names the field."""


@dataclass(slots=True)
class LogRecord:
    """One validated LDV record, before pseudonymisation.

    Not frozen: a frozen dataclass is built several times slower, and this is built once per
    ingested record; nothing changes a record after validation.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_time: int
    end_time: int
    status: str
    processing_activity_id: str
    data_subject_id: str | None
    data_subject_id_type: str | None
    processor: str | None
    resource: dict[str, Any] | None
    # Attributes other than the four dpl.core ones above.
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.trace_id, self.span_id)


@dataclass(frozen=True)
class Rejected:
    index: int
    reason: str


@dataclass
class BatchValidation:
    accepted: list[tuple[int, LogRecord]]
    rejected: list[Rejected]


def _hex_id(value: Any, name: str, pattern: re.Pattern[str], length: int) -> str:
    if not isinstance(value, str):
        raise RecordError(f"{name}: must be a string of {length} lowercase hex characters")
    if not pattern.fullmatch(value):
        raise RecordError(f"{name}: must be {length} lowercase hex characters, got {_show(value)}")
    if value.count("0") == length:
        raise RecordError(f"{name}: must not be all zeros (an invalid id in W3C Trace Context)")
    return value


def _time(value: Any, name: str) -> int:
    # OTLP's JSON encoding writes 64-bit integers as decimal strings; accept both.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{name}: must be an integer, milliseconds since 1970-01-01 UTC")
    if value < 0:
        raise RecordError(f"{name}: must not be negative")
    if value > MAX_TIME_MS:
        raise RecordError(
            f"{name}: {value} is after the year 9999; send milliseconds, not micro- or nanoseconds"
        )
    return value


def _storable(value: str, name: str) -> str:
    # ASCII text (nearly all of it) only needs the NUL test, which is much cheaper than a search.
    if ("\x00" in value) if value.isascii() else _UNSTORABLE.search(value):
        raise RecordError(f"{name}: contains a NUL character or an unpaired surrogate")
    return value


def _string(value: Any, name: str, max_length: int, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise RecordError(f"{name}: must be a string")
    _storable(value, name)
    if not empty and (not value or value.isspace()):
        raise RecordError(f"{name}: must not be empty")
    if len(value) > max_length:
        raise RecordError(f"{name}: longer than {max_length} characters")
    return value


def _attribute_value(value: Any, name: str) -> Any:
    """OpenTelemetry attribute values: a primitive or a homogeneous list of primitives."""
    if isinstance(value, str):
        return _string(value, name, MAX_STRING, empty=True)
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RecordError(f"{name}: must be a finite number")
        return value
    if isinstance(value, list):
        kinds = {type(v) for v in value}
        if len(kinds) > 1:
            raise RecordError(f"{name}: a list value must hold values of one type")
        for i, item in enumerate(value):
            if isinstance(item, list | dict) or item is None:
                raise RecordError(f"{name}[{i}]: must be a string, boolean or number")
            _attribute_value(item, f"{name}[{i}]")
        return list(value)
    if value is None:
        raise RecordError(f"{name}: must not be null (leave the attribute out instead)")
    raise RecordError(f"{name}: must be a string, boolean, number or a list of those")


def _attribute_map(value: Any, name: str) -> dict[str, Any]:
    if type(value) is not dict and not isinstance(value, Mapping):
        raise RecordError(f"{name}: must be an object of attribute names to values")
    if len(value) > MAX_ATTRIBUTES:
        raise RecordError(f"{name}: more than {MAX_ATTRIBUTES} attributes")
    result: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or len(key) > 255:
            raise RecordError(f"{name}: attribute names must be 1 to 255 characters")
        if not key.isascii() or "\x00" in key:
            _storable(key, f"{name}: attribute name")
        if type(item) is str and item.isascii() and "\x00" not in item and len(item) <= MAX_STRING:
            result[key] = item  # the common case, without building the field's name
        else:
            result[key] = _attribute_value(item, f"{name}.{key}")
    return result


def _show(value: str) -> str:
    """What is wrong with an id, without repeating it: a client that put a BSN or a plate in the
    wrong field must not get it back in an answer it may log."""
    problems = [f"{len(value)} characters"]
    if any(c.isupper() for c in value):
        problems.append("upper case")
    if any(c not in "0123456789abcdefABCDEF" for c in value):
        problems.append("characters that are not hex")
    return ", ".join(problems)


def parse_record(raw: Any) -> LogRecord:
    """Validate one record; raises RecordError naming the first invalid field."""
    # `type(…) is dict` first: JSON gives dicts, and an ABC isinstance check costs more.
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise RecordError("record: must be a JSON object")
    if not FIELDS.issuperset(raw):
        unknown = sorted(str(k) for k in raw if k not in FIELDS)
        raise RecordError(f"{unknown[0]}: unknown field (allowed: {', '.join(sorted(FIELDS))})")
    for required in ("trace_id", "span_id", "name", "start_time", "end_time", "status"):
        if required not in raw:
            raise RecordError(f"{required}: required")
    if "attributes" not in raw:
        raise RecordError(f"attributes: required (with {ATTR_ACTIVITY})")

    trace_id = _hex_id(raw["trace_id"], "trace_id", _TRACE_ID, 32)
    span_id = _hex_id(raw["span_id"], "span_id", _SPAN_ID, 16)
    parent = raw.get("parent_span_id")
    parent_span_id = (
        None if parent in (None, "") else _hex_id(parent, "parent_span_id", _SPAN_ID, 16)
    )
    if parent_span_id == span_id:
        raise RecordError("parent_span_id: must differ from span_id")
    name = _string(raw["name"], "name", MAX_NAME)
    start = _time(raw["start_time"], "start_time")
    end = _time(raw["end_time"], "end_time")
    if end < start:
        raise RecordError(f"end_time: {end} is before start_time {start}")
    status = raw["status"]
    if status not in STATUSES:
        raise RecordError(f"status: must be one of {', '.join(STATUSES)}, got {status!r}")

    resource: dict[str, Any] | None = None
    if raw.get("resource") is not None:
        res = raw["resource"]
        if type(res) is not dict and not isinstance(res, Mapping):
            raise RecordError("resource: must be an object with 'attributes'")
        if len(res) > 1 or (res and "attributes" not in res):
            extra = sorted(str(k) for k in res if k != "attributes")
            raise RecordError(f"resource.{extra[0]}: unknown field (allowed: attributes)")
        resource = {"attributes": _attribute_map(res.get("attributes", {}), "resource.attributes")}

    attributes = _attribute_map(raw["attributes"], "attributes")
    return complete_record(
        trace_id, span_id, parent_span_id, name, start, end, status, resource, attributes
    )


def complete_record(
    trace_id: str,
    span_id: str,
    parent_span_id: str | None,
    name: str,
    start: int,
    end: int,
    status: str,
    resource: dict[str, Any] | None,
    attributes: dict[str, Any],
) -> LogRecord:
    """The record from checked fields: takes the dpl.core attributes out of `attributes`.

    Shared by `parse_record` and the typed batch decoder (`logbook/decode.py`), which check the
    fields before it in their own ways; raises RecordError for a missing or invalid dpl.core
    attribute.
    """
    if ATTR_ACTIVITY not in attributes:
        raise RecordError(f"attributes.{ATTR_ACTIVITY}: required")
    activity = attributes.pop(ATTR_ACTIVITY)
    if not isinstance(activity, str) or not _URI.fullmatch(
        _storable(activity, f"attributes.{ATTR_ACTIVITY}")
    ):
        raise RecordError(f"attributes.{ATTR_ACTIVITY}: must be a URI (https://… or urn:…)")
    if len(activity) > MAX_URI:
        raise RecordError(f"attributes.{ATTR_ACTIVITY}: longer than {MAX_URI} characters")

    subject = attributes.pop(ATTR_SUBJECT_ID, None)
    subject_type = attributes.pop(ATTR_SUBJECT_TYPE, None)
    if subject is not None:
        if isinstance(subject, list):
            raise RecordError(
                f"attributes.{ATTR_SUBJECT_ID}: one data subject per record "
                "(log one child span per subject)"
            )
        subject = _string(subject, f"attributes.{ATTR_SUBJECT_ID}", 200).strip()
        if subject_type is None:
            raise RecordError(
                f"attributes.{ATTR_SUBJECT_TYPE}: required when {ATTR_SUBJECT_ID} is given"
            )
    if subject_type is not None:
        subject_type = _string(subject_type, f"attributes.{ATTR_SUBJECT_TYPE}", 200).strip()
        if subject is None:
            raise RecordError(f"attributes.{ATTR_SUBJECT_TYPE}: given without {ATTR_SUBJECT_ID}")

    processor = attributes.pop(ATTR_PROCESSOR, None)
    if processor is not None and (
        not isinstance(processor, str)
        or not _HTTP_URL.fullmatch(_storable(processor, f"attributes.{ATTR_PROCESSOR}"))
    ):
        raise RecordError(f"attributes.{ATTR_PROCESSOR}: must be a URL (https://…)")
    if processor is not None and len(processor) > MAX_URI:
        raise RecordError(f"attributes.{ATTR_PROCESSOR}: longer than {MAX_URI} characters")

    return LogRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        name=name,
        start_time=start,
        end_time=end,
        status=status,
        processing_activity_id=activity,
        data_subject_id=subject,
        data_subject_id_type=subject_type,
        processor=processor,
        resource=resource,
        attributes=attributes,
    )


def validate_batch(raws: Iterable[Any]) -> BatchValidation:
    """Validate every record; a bad record is rejected alone, with its index and reason."""
    result = BatchValidation([], [])
    for index, raw in enumerate(raws):
        try:
            result.accepted.append((index, parse_record(raw)))
        except RecordError as exc:
            result.rejected.append(Rejected(index, str(exc)))
    return result
