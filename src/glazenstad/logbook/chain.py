"""The hash of a stored log record: SHA-256 over a canonical serialization of its fields.

The serialization is JSON with sorted keys, no whitespace and UTF-8, of exactly the fields in
`HASHED_FIELDS` (which include `prev_hash`, the hash of the record before it in the chain), with
`received_at` as an ISO 8601 UTC timestamp with microseconds. A version prefix lets a later
format coexist with this one. Changing any stored field, the order of records or the set of
records changes a hash that `verify` recomputes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

HASH_VERSION: Final = b"glazenstad-ldv-chain-v1\n"

HASHED_FIELDS: Final = (
    "organisation_id",
    "chain_partition",
    "sequence",
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "start_time_ms",
    "end_time_ms",
    "status",
    "processing_activity_id",
    "activity_known",
    "activity_version",
    "data_subject_pseudonym",
    "data_subject_id_type",
    "processor",
    "resource",
    "attributes",
    "received_at",
    "prev_hash",
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def canonical(row: Mapping[Any, Any]) -> bytes:
    document = {name: _plain(row[name]) for name in HASHED_FIELDS}
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def record_hash(row: Mapping[Any, Any]) -> str:
    """The hash of a record as stored (its `prev_hash` included)."""
    return hashlib.sha256(HASH_VERSION + canonical(row)).hexdigest()
