"""Telling residents how old an answer from the read replica may be (docs/replica.md).

A resident who has just been processed may look before the replica has replayed that record.
The answer is not wrong, only behind; the resident is told so when the replica is further
behind than `GLAZENSTAD_DATABASE_READ_LAG_NOTICE_S`: the API with the `Data-Lag-Seconds` header,
the portal with a line above the list.
"""

from __future__ import annotations

import math
from typing import Any

from glazenstad.db.replica import SOURCE_REPLICA, ReadRouter

LAG_HEADER = "Data-Lag-Seconds"
LAG_HEADER_DOC: dict[str, Any] = {
    LAG_HEADER: {
        "description": "Present when the answer came from the read replica and the replica was "
        "further behind the primary than the configured notice threshold: the data may be up "
        "to this many seconds old (whole seconds, rounded up). Records acknowledged more "
        "recently may be missing from this answer.",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def replica_age(reads: ReadRouter, source: str, threshold_s: float) -> float | None:
    """How old an answer from `source` may be, when it came from the replica and exceeds the
    threshold; None otherwise (an answer from the primary is current)."""
    if source != SOURCE_REPLICA:
        return None
    return reads.stale_seconds(threshold_s)


def whole_seconds(age: float) -> int:
    """The age as whole seconds, rounded up: never understate how far behind the data is."""
    return max(1, math.ceil(age))


def lag_headers(age: float | None) -> dict[str, str]:
    return {} if age is None else {LAG_HEADER: str(whole_seconds(age))}
