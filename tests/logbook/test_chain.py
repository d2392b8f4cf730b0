"""The hand-written canonical serialization is exactly `json.dumps` of the record, sorted.

`chain.content_digest` writes the JSON field by field for speed; the definition it must match is
the plain one below. Hypothesis draws records with awkward strings (quotes, backslashes,
control characters, non-ASCII), nested attributes and nulls.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from glazenstad.logbook.chain import CONTENT_FIELDS, HASH_VERSION, link, record_hash, row_digest

text = st.text(max_size=30)
optional_text = st.none() | text
attribute_value = (
    text
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.lists(st.integers(), max_size=3)
    | st.lists(text, max_size=3)
)
attributes = st.dictionaries(text, attribute_value, max_size=5)

rows = st.fixed_dictionaries(
    {
        "activity_known": st.booleans(),
        "activity_version": st.none() | st.integers(1, 10_000),
        "attributes": attributes,
        "chain_partition": text,
        "data_subject_id_type": optional_text,
        "data_subject_pseudonym": optional_text,
        "end_time_ms": st.integers(0, 253_402_300_799_999),
        "name": text,
        "organisation_id": text,
        "parent_span_id": optional_text,
        "processing_activity_id": text,
        "processor": optional_text,
        "received_at": st.datetimes(timezones=st.just(UTC)),
        "resource": st.none() | st.fixed_dictionaries({"attributes": attributes}),
        "span_id": text,
        "start_time_ms": st.integers(0, 253_402_300_799_999),
        "status": st.sampled_from(["Unset", "Ok", "Error"]),
        "trace_id": text,
        "sequence": st.integers(1, 2**40),
        "prev_hash": st.binary(min_size=32, max_size=32).map(bytes.hex),
    }
)


def reference_digest(row: dict[str, Any]) -> bytes:
    document = {name: row[name] for name in CONTENT_FIELDS}
    received: datetime = document["received_at"]
    document["received_at"] = received.isoformat(timespec="microseconds")
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).digest()


@settings(max_examples=300, deadline=None)
@given(rows)
def test_content_digest_is_sha256_of_sorted_json(row: dict[str, Any]) -> None:
    assert row_digest(row) == reference_digest(row)


@given(rows)
def test_record_hash_binds_content_chain_sequence_and_previous_hash(row: dict[str, Any]) -> None:
    partition = row["chain_partition"].encode("utf-8")
    expected = hashlib.sha256(
        HASH_VERSION
        + reference_digest(row)
        + len(partition).to_bytes(2, "big")
        + partition
        + row["sequence"].to_bytes(8, "big")
        + bytes.fromhex(row["prev_hash"])
    ).hexdigest()
    assert record_hash(row) == expected
    digest = row_digest(row)
    sequence, prev = row["sequence"], row["prev_hash"]
    assert link(digest, row["chain_partition"], sequence + 1, prev) != expected
    assert link(digest, row["chain_partition"] + "x", sequence, prev) != expected
