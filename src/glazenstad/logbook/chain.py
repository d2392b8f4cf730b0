"""The hash of a stored log record, in two steps: its content, then its place in a chain.

1. The *content digest* is SHA-256 over the canonical serialization of the record's stored
   fields (`CONTENT_FIELDS`): JSON with sorted keys, no whitespace, UTF-8, nested objects sorted
   too, `received_at` as an ISO 8601 UTC timestamp with microseconds.
2. The *record hash* is SHA-256 over a version prefix, the content digest, the chain's partition
   (length-prefixed UTF-8), the record's sequence number (8 bytes, big-endian) and the hash of
   the record before it (`prev_hash`).

Two steps because only the second needs the chain: a writer computes the content digests of a
batch before it takes a chain's lock, and it learns which chain it got (see `store.py`: on
PostgreSQL concurrent writers take different chains of the organisation) only when it has the
lock. Under the lock it costs one small hash per record. Changing any stored field, moving a
record to another chain, the order of records or the set of records still changes a hash that
`verify` recomputes. The version prefix lets a later format coexist.

The serialization is written out field by field rather than with `json.dumps(sort_keys=True)`
of a dict: it is the ingest's hottest code, and the nested `resource` and `attributes` are
serialized once and stored as that same text. `tests/logbook/test_chain.py` checks it against
`json.dumps` of the whole record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

HASH_VERSION: Final = b"glazenstad-ldv-chain-v3\n"

CONTENT_FIELDS: Final = (
    "activity_known",
    "activity_version",
    "attributes",
    "data_subject_id_type",
    "data_subject_pseudonym",
    "end_time_ms",
    "name",
    "organisation_id",
    "parent_span_id",
    "processing_activity_id",
    "processor",
    "received_at",
    "resource",
    "span_id",
    "start_time_ms",
    "status",
    "trace_id",
)

# The C string encoder `json.dumps(..., ensure_ascii=False)` uses for every string.
_encode: Any = json.encoder.encode_basestring
_NULL: Final = "null"


def json_text(value: Any) -> str:
    """Canonical JSON of a nested value (`resource`, `attributes`): sorted keys, compact."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def timestamp_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def content_digest(
    activity_known: bool,
    activity_version: int | None,
    attributes_json: str,
    data_subject_id_type: str | None,
    data_subject_pseudonym: str | None,
    end_time_ms: int,
    name: str,
    organisation_id: str,
    parent_span_id: str | None,
    processing_activity_id: str,
    processor: str | None,
    received_at: str,
    resource_json: str,
    span_id: str,
    start_time_ms: int,
    status: str,
    trace_id: str,
    /,
) -> bytes:
    """SHA-256 of the canonical content, arguments in `CONTENT_FIELDS` order.

    `*_json` come from `json_text`, `received_at` from `timestamp_text`. Positional only: this
    runs once per ingested record, and keyword passing of 18 arguments costs measurably.
    """
    id_type = _NULL if data_subject_id_type is None else _encode(data_subject_id_type)
    pseudonym = _NULL if data_subject_pseudonym is None else _encode(data_subject_pseudonym)
    text = (
        f'{{"activity_known":{"true" if activity_known else "false"},'
        f'"activity_version":{"null" if activity_version is None else int(activity_version)},'
        f'"attributes":{attributes_json},'
        f'"data_subject_id_type":{id_type},'
        f'"data_subject_pseudonym":{pseudonym},'
        f'"end_time_ms":{int(end_time_ms)},'
        f'"name":{_encode(name)},'
        f'"organisation_id":{_encode(organisation_id)},'
        f'"parent_span_id":{_NULL if parent_span_id is None else _encode(parent_span_id)},'
        f'"processing_activity_id":{_encode(processing_activity_id)},'
        f'"processor":{_NULL if processor is None else _encode(processor)},'
        f'"received_at":{_encode(received_at)},'
        f'"resource":{resource_json},'
        f'"span_id":{_encode(span_id)},'
        f'"start_time_ms":{int(start_time_ms)},'
        f'"status":{_encode(status)},'
        f'"trace_id":{_encode(trace_id)}}}'
    )
    return hashlib.sha256(text.encode("utf-8")).digest()


def link(digest: bytes, chain_partition: str, sequence: int, prev_hash: str) -> str:
    """The record hash: its content digest bound to its place in a chain."""
    partition = chain_partition.encode("utf-8")
    return hashlib.sha256(
        HASH_VERSION
        + digest
        + len(partition).to_bytes(2, "big")
        + partition
        + sequence.to_bytes(8, "big")
        + bytes.fromhex(prev_hash)
    ).hexdigest()


def row_digest(row: Mapping[Any, Any]) -> bytes:
    """The content digest of a record as read back from the database."""
    return content_digest(
        bool(row["activity_known"]),
        row["activity_version"],
        json_text(row["attributes"]),
        row["data_subject_id_type"],
        row["data_subject_pseudonym"],
        row["end_time_ms"],
        row["name"],
        row["organisation_id"],
        row["parent_span_id"],
        row["processing_activity_id"],
        row["processor"],
        timestamp_text(row["received_at"]),
        json_text(row["resource"]),
        row["span_id"],
        row["start_time_ms"],
        row["status"],
        row["trace_id"],
    )


def record_hash(row: Mapping[Any, Any]) -> str:
    """The hash of a record as stored (its `sequence` and `prev_hash` included)."""
    return link(row_digest(row), row["chain_partition"], int(row["sequence"]), row["prev_hash"])
