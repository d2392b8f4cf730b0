"""The typed batch decoder agrees with `parse_record` on every record, valid or not.

`decode_record` must accept exactly the records `parse_record` accepts, build equal records, and
reject the others with `parse_record`'s reason. Hypothesis mutates a valid record field by field
with awkward values (wrong types, limits, escapes, zeros, lists, nulls) and compares both.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from glazenstad.logbook.decode import _typed, decode_envelope, decode_record, decode_records
from glazenstad.logbook.record import FIELDS as RECORD_FIELDS
from glazenstad.logbook.record import MAX_ATTRIBUTES, LogRecord, RecordError, parse_record
from tests.logbook.conftest import make_record

FIELDS = [*sorted(RECORD_FIELDS), "extra"]
ATTRIBUTE_NAMES = [
    "dpl.core.processing_activity_id",
    "dpl.core.data_subject_id",
    "dpl.core.data_subject_id_type",
    "dpl.core.foreign_operation.processor",
    "zone",
    "",
    "x" * 256,
]

strings = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "Ok",
            "Error",
            "ok",
            "0" * 16,
            "0" * 32,
            "a" * 16,
            "A" * 16,
            "0123456789abcdef",
            "0123456789abcdef0123456789abcdef",
            "https://register.teststad.example/processing-activities/parkeren-scanauto",
            "urn:nl:activiteit:1",
            "ftp://elders",
            "999993653",
            "BSN",
            "a\x00b",
            "\ud800",
            "é",
            "x" * 4097,
            "1700000000000",
        ]
    ),
    st.text(max_size=20),
)
scalars = st.one_of(
    strings,
    st.integers(-5, 2**70),
    st.sampled_from([0, 253_402_300_799_999, 253_402_300_800_000, 1.5, 1.0, True, False, None]),
    st.floats(allow_nan=True, allow_infinity=True),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(["attributes", "other"]), st.just({}), max_size=2),
)
attribute_maps = st.dictionaries(st.sampled_from(ATTRIBUTE_NAMES) | st.text(max_size=8), values)


def outcome(run: Any) -> LogRecord | str:
    try:
        return run()  # type: ignore[no-any-return]
    except RecordError as exc:
        return f"refused: {exc}"


@st.composite
def documents(draw: st.DrawFn) -> str:
    record: dict[str, Any] = make_record()
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        choice = draw(st.integers(0, 3))
        if choice == 0:
            record.pop(name, None)
        elif name in ("attributes", "resource") and choice == 1:
            changed = draw(attribute_maps)
            if name == "resource":
                record[name] = {"attributes": changed}
            else:
                before = record.get(name)
                record[name] = {**(before if isinstance(before, dict) else {}), **changed}
        else:
            record[name] = draw(values)
    attributes = record.get("attributes")
    if isinstance(attributes, dict) and draw(st.integers(0, 7)) == 0:  # too many attributes
        attributes.update({f"a{i}": "v" for i in range(MAX_ATTRIBUTES)})
    return json.dumps(record, ensure_ascii=draw(st.booleans()), allow_nan=True)


@settings(max_examples=1500, deadline=None)
@given(documents())
def test_typed_decoder_agrees_with_parse_record(text: str) -> None:
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # a raw lone surrogate: not UTF-8, the batch itself is refused
        assume(False)
    expected = outcome(lambda: parse_record(json.loads(raw)))
    assert outcome(lambda: decode_record(raw)) == expected


def test_a_valid_batch_decodes_on_the_typed_path_and_refusals_keep_their_reason() -> None:
    good = make_record()
    body = json.dumps(
        {"organisationId": "teststad", "records": [good, {**good, "span_id": "0" * 16}]}
    ).encode()
    envelope = decode_envelope(body)
    assert envelope is not None and envelope.organisation_id == "teststad"
    first, second = decode_records(envelope.records)
    assert first == parse_record(good)
    assert _typed(json.dumps(good).encode()) == first  # the fast path took it
    assert isinstance(second, RecordError) and str(second).startswith("span_id: must not be all")


def test_duplicate_keys_and_float_times_follow_json() -> None:
    good = json.dumps(make_record())
    doubled = good[:-1] + ', "name": "tweede naam"}'
    assert outcome(lambda: decode_record(doubled.encode())) == outcome(
        lambda: parse_record(json.loads(doubled))
    )
    as_float = json.dumps({**make_record(), "start_time": 1.0e12})
    assert "start_time" in str(outcome(lambda: decode_record(as_float.encode())))
    assert isinstance(msgspec.json.decode(good.encode()), dict)
