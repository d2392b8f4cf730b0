"""Deletion receipts: what retention removed from a chain, hashed and chained like the records.

A receipt covers one batch of deletions in one chain (organisation, partition). For every
contiguous run of deleted sequence numbers it has a range with the count and the two chain
anchors: `first_prev_hash` (the `prev_hash` of the first deleted record, which is the
`record_hash` of the record before the gap, or the genesis hash when the run starts at 1) and
`last_hash` (the `record_hash` of the last deleted record, which the record after the gap names as
its `prev_hash`). With them `verify` still follows every link across a gap without the deleted
records, and a gap nobody wrote a receipt for stays a break.

Receipts are numbered 1, 2, 3, … per chain and each one's hash covers its fields, its ranges and
the hash of the receipt before it (`prev_receipt_hash`), so altering, reordering or removing a
receipt shows up just as it does for records. A receipt whose hash does not recompute is not
trusted: its ranges cover nothing, so its gaps are reported as deletions without a receipt.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection, select

from glazenstad.logbook.tables import GENESIS_HASH, log_deletion_range, log_deletion_receipt

RECEIPT_HASH_VERSION: Final = b"glazenstad-deletion-receipt-v1\n"

RECEIPT_FIELDS: Final = (
    "organisation_id",
    "chain_partition",
    "receipt_number",
    "run_id",
    "ran_at",
    "deleted",
    "first_sequence",
    "last_sequence",
    "by_activity",
    "lateness_max_ms",
    "lateness_median_ms",
    "lateness_p95_ms",
    "prev_receipt_hash",
)
RANGE_FIELDS: Final = ("first_sequence", "last_sequence", "count", "first_prev_hash", "last_hash")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("ran_at must be timezone-aware")
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def receipt_hash(receipt: Mapping[Any, Any], ranges: Sequence[Mapping[Any, Any]]) -> str:
    """SHA-256 over the receipt's fields and its ranges (in sequence order), canonical JSON."""
    document = {name: _plain(receipt[name]) for name in RECEIPT_FIELDS}
    ordered = sorted(ranges, key=lambda r: int(r["first_sequence"]))
    document["ranges"] = [{name: r[name] for name in RANGE_FIELDS} for r in ordered]
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(RECEIPT_HASH_VERSION + text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DeletionRange:
    receipt_number: int
    first_sequence: int
    last_sequence: int
    count: int
    first_prev_hash: str
    last_hash: str


@dataclass
class ChainReceipts:
    """The receipts of one chain as `verify` uses them."""

    receipts: int = 0
    last_number: int = 0
    last_hash: str = GENESIS_HASH
    # Ranges of receipts that verify, by first sequence number.
    ranges: dict[int, list[DeletionRange]] = field(default_factory=lambda: defaultdict(list))
    # The first problem found in the receipts themselves (None when they all verify).
    problem: str | None = None


def load_receipts(conn: Connection, organisation_id: str, partition: str) -> ChainReceipts:
    """Read and check the receipts of one chain: numbering, links, hashes, range counts."""
    result = ChainReceipts()
    r, g = log_deletion_receipt, log_deletion_range
    receipts = conn.execute(
        select(r)
        .where(r.c.organisation_id == organisation_id, r.c.chain_partition == partition)
        .order_by(r.c.receipt_number, r.c.id)
    ).all()
    if not receipts:
        return result
    ranges_of: dict[int, list[Mapping[Any, Any]]] = defaultdict(list)
    for row in conn.execute(
        select(g)
        .join(r, r.c.id == g.c.receipt_id)
        .where(r.c.organisation_id == organisation_id, r.c.chain_partition == partition)
        .order_by(g.c.first_sequence)
    ):
        ranges_of[int(row.receipt_id)].append(row._mapping)

    def problem(text: str) -> None:
        if result.problem is None:
            result.problem = text

    expected, prev_hash = 1, GENESIS_HASH
    for receipt in receipts:
        number = int(receipt.receipt_number)
        ranges = ranges_of.get(int(receipt.id), [])
        if number != expected:
            problem(
                f"deletion receipt {expected} is missing (the next one is {number})"
                if number > expected
                else f"deletion receipt {number} occurs twice"
            )
        elif receipt.prev_receipt_hash != prev_hash:
            problem(
                f"deletion receipt {number} does not link to the receipt before it "
                "(a receipt was removed, reordered or rewritten)"
            )
        trusted = receipt_hash(receipt._mapping, ranges) == receipt.receipt_hash
        if not trusted:
            problem(f"deletion receipt {number} does not match its hash (modified)")
        elif sum(int(x["count"]) for x in ranges) != int(receipt.deleted) or any(
            int(x["count"]) != int(x["last_sequence"]) - int(x["first_sequence"]) + 1
            for x in ranges
        ):
            trusted = False
            problem(f"deletion receipt {number}: its range counts do not add up")
        if trusted:
            for x in ranges:
                result.ranges[int(x["first_sequence"])].append(
                    DeletionRange(
                        number,
                        int(x["first_sequence"]),
                        int(x["last_sequence"]),
                        int(x["count"]),
                        str(x["first_prev_hash"]),
                        str(x["last_hash"]),
                    )
                )
        result.receipts += 1
        expected = max(expected, number) + 1
        prev_hash = receipt.receipt_hash
    result.last_number = int(receipts[-1].receipt_number)
    result.last_hash = str(receipts[-1].receipt_hash)
    return result
