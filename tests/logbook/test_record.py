"""Validation of LDV records: every field, valid and invalid, each rejection naming its field."""

from __future__ import annotations

from typing import Any

import pytest

from glazenstad.logbook.record import (
    ATTR_ACTIVITY,
    ATTR_PROCESSOR,
    ATTR_SUBJECT_ID,
    ATTR_SUBJECT_TYPE,
    RecordError,
    parse_record,
    validate_batch,
)
from tests.logbook.conftest import ACTIVITY, BSN, make_record

VALID: list[tuple[str, dict[str, Any]]] = [
    ("complete", {}),
    ("parent span", {"parent_span_id": "00f067aa0ba902b7"}),
    ("parent span null", {"parent_span_id": None}),
    ("no resource", {"resource": ...}),
    ("resource null", {"resource": None}),
    ("status Unset", {"status": "Unset"}),
    ("status Error", {"status": "Error"}),
    ("end equals start", {"start_time": 1_700_000_000_000, "end_time": 1_700_000_000_000}),
    ("times as OTLP decimal strings", {"start_time": "1700000000000", "end_time": "1700000000001"}),
    (
        "no data subject",
        {"attributes": {ATTR_SUBJECT_ID: None, ATTR_SUBJECT_TYPE: None}},
    ),
    ("subject type URI", {"attributes": {ATTR_SUBJECT_TYPE: "https://example.org/id-types/x"}}),
    ("kenteken", {"attributes": {ATTR_SUBJECT_ID: "12-ABC-3", ATTR_SUBJECT_TYPE: "kenteken"}}),
    ("processor", {"attributes": {ATTR_PROCESSOR: "https://app.teststad.example/parkeren"}}),
    (
        "urn activity",
        {"attributes": {ATTR_ACTIVITY: "urn:uuid:1b4e28ba-2fa1-11d2-883f-b9a761bde3fb"}},
    ),
    (
        "other attribute types",
        {
            "attributes": {
                "exception.message": "boom",
                "retry": 2,
                "ratio": 0.5,
                "cached": False,
                "tags": ["a", "b"],
                "empty": [],
            }
        },
    ),
]

INVALID: list[tuple[str, Any, str]] = [
    ("not an object", ["a list"], "record: must be a JSON object"),
    ("unknown field", {"user_id": "jan"}, "user_id: unknown field"),
    ("trace_id missing", {"trace_id": ...}, "trace_id: required"),
    ("trace_id short", {"trace_id": "4bf92f3577b34da6a3ce929d0e0e473"}, "trace_id: must be 32"),
    ("trace_id long", {"trace_id": "4bf92f3577b34da6a3ce929d0e0e47360"}, "trace_id: must be 32"),
    (
        "trace_id uppercase",
        {"trace_id": "4BF92F3577B34DA6A3CE929D0E0E4736"},
        "trace_id: must be 32",
    ),
    ("trace_id uuid form", {"trace_id": "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"}, "trace_id:"),
    ("trace_id zeros", {"trace_id": "0" * 32}, "trace_id: must not be all zeros"),
    ("trace_id number", {"trace_id": 12}, "trace_id: must be a string"),
    ("span_id missing", {"span_id": ...}, "span_id: required"),
    ("span_id short", {"span_id": "00f067aa0ba902b"}, "span_id: must be 16"),
    ("span_id not hex", {"span_id": "00f067aa0ba902bz"}, "span_id: must be 16"),
    ("span_id zeros", {"span_id": "0" * 16}, "span_id: must not be all zeros"),
    ("parent_span_id bad", {"parent_span_id": "xyz"}, "parent_span_id: must be 16"),
    ("parent_span_id zeros", {"parent_span_id": "0" * 16}, "parent_span_id: must not be all"),
    ("name missing", {"name": ...}, "name: required"),
    ("name empty", {"name": "  "}, "name: must not be empty"),
    ("name number", {"name": 5}, "name: must be a string"),
    ("name too long", {"name": "x" * 1001}, "name: longer than"),
    ("start_time missing", {"start_time": ...}, "start_time: required"),
    ("start_time negative", {"start_time": -1}, "start_time: must not be negative"),
    ("start_time float", {"start_time": 1.5}, "start_time: must be an integer"),
    ("start_time bool", {"start_time": True}, "start_time: must be an integer"),
    ("start_time text", {"start_time": "gisteren"}, "start_time: must be an integer"),
    ("start_time nanoseconds", {"start_time": 1_700_000_000_000_000_000}, "start_time: "),
    ("end_time missing", {"end_time": ...}, "end_time: required"),
    ("end before start", {"start_time": 2000, "end_time": 1999}, "end_time: 1999 is before"),
    ("status missing", {"status": ...}, "status: required"),
    ("status lowercase", {"status": "ok"}, "status: must be one of Unset, Ok, Error"),
    ("status OTLP code", {"status": 1}, "status: must be one of"),
    ("resource not object", {"resource": "scanauto"}, "resource: must be an object"),
    ("resource extra field", {"resource": {"attributes": {}, "x": 1}}, "resource.x: unknown"),
    (
        "resource nested value",
        {"resource": {"attributes": {"a": {"b": 1}}}},
        "resource.attributes.a: must be a string",
    ),
    ("attributes missing", {"attributes": ...}, "attributes: required"),
    ("attributes not object", {"attributes": ["x"]}, "attributes: must be an object"),
    ("activity missing", {"attributes": {ATTR_ACTIVITY: None}}, f"attributes.{ATTR_ACTIVITY}: req"),
    ("activity not URI", {"attributes": {ATTR_ACTIVITY: "parkeren"}}, f"{ATTR_ACTIVITY}: must be"),
    ("activity number", {"attributes": {ATTR_ACTIVITY: 7}}, f"{ATTR_ACTIVITY}: must be a URI"),
    ("subject number", {"attributes": {ATTR_SUBJECT_ID: 999993653}}, f"{ATTR_SUBJECT_ID}: must"),
    ("subject empty", {"attributes": {ATTR_SUBJECT_ID: ""}}, f"{ATTR_SUBJECT_ID}: must not be"),
    (
        "two subjects",
        {"attributes": {ATTR_SUBJECT_ID: [BSN, "111222333"]}},
        f"{ATTR_SUBJECT_ID}: one data subject per record",
    ),
    (
        "subject without type",
        {"attributes": {ATTR_SUBJECT_TYPE: None}},
        f"{ATTR_SUBJECT_TYPE}: req",
    ),
    (
        "type without subject",
        {"attributes": {ATTR_SUBJECT_ID: None}},
        f"{ATTR_SUBJECT_TYPE}: given",
    ),
    ("type number", {"attributes": {ATTR_SUBJECT_TYPE: 1}}, f"{ATTR_SUBJECT_TYPE}: must be"),
    ("processor not URL", {"attributes": {ATTR_PROCESSOR: "scanauto"}}, f"{ATTR_PROCESSOR}: must"),
    ("attribute object", {"attributes": {"x": {"y": 1}}}, "attributes.x: must be a string"),
    ("attribute NaN", {"attributes": {"x": float("nan")}}, "attributes.x: must be a finite"),
    ("name with NUL", {"name": "a\x00b"}, "name: contains a NUL character"),
    ("attribute surrogate", {"attributes": {"x": "\ud800"}}, "attributes.x: contains a NUL"),
    ("attribute name NUL", {"attributes": {"x\x00": "1"}}, "attributes: attribute name: contains"),
    (
        "activity with NUL",
        {"attributes": {ATTR_ACTIVITY: ACTIVITY + "\x00"}},
        f"attributes.{ATTR_ACTIVITY}: contains a NUL",
    ),
    ("attribute mixed list", {"attributes": {"x": [1, "a"]}}, "attributes.x: a list value"),
    ("attribute nested list", {"attributes": {"x": [[1]]}}, "attributes.x[0]: must be"),
]


@pytest.mark.parametrize(("changes"), [c for _, c in VALID], ids=[n for n, _ in VALID])
def test_valid_records(changes: dict[str, Any]) -> None:
    record = parse_record(make_record(**changes))
    assert record.processing_activity_id.startswith(("https://", "urn:"))
    assert ATTR_ACTIVITY not in record.attributes


@pytest.mark.parametrize(
    ("changes", "reason"),
    [(c, r) for _, c, r in INVALID],
    ids=[n for n, _, _ in INVALID],
)
def test_invalid_records_name_the_field(changes: Any, reason: str) -> None:
    raw = make_record(**changes) if isinstance(changes, dict) else changes
    with pytest.raises(RecordError) as info:
        parse_record(raw)
    assert str(info.value).startswith(reason) or reason in str(info.value)
    assert BSN not in str(info.value)


def test_null_attribute_value_is_rejected() -> None:
    raw = make_record()
    raw["attributes"]["x"] = None
    with pytest.raises(RecordError, match=r"^attributes\.x: must not be null"):
        parse_record(raw)


def test_dpl_attributes_are_lifted_out() -> None:
    record = parse_record(
        make_record(attributes={ATTR_PROCESSOR: "https://app.example/x", "exception.type": "E"})
    )
    assert record.processing_activity_id == ACTIVITY
    assert (record.data_subject_id, record.data_subject_id_type) == (BSN, "BSN")
    assert record.processor == "https://app.example/x"
    assert record.attributes == {"exception.type": "E"}


def test_one_bad_record_does_not_reject_the_batch() -> None:
    batch = [make_record(), make_record(status="OK"), "nope", make_record()]
    result = validate_batch(batch)
    assert [i for i, _ in result.accepted] == [0, 3]
    assert [(r.index, r.reason.split(":")[0]) for r in result.rejected] == [
        (1, "status"),
        (2, "record"),
    ]
