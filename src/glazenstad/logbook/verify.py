"""Checking the hash chains: every record recomputed, every link followed, the head compared.

Each chain (organisation, partition) is walked in sequence order. A record is broken when
- its sequence number is not the next one: records before it were deleted (a gap), or it is a
  second record with the same number (inserted);
- its `prev_hash` is not the hash of the record before it: a record was inserted, reordered, or
  the one before it was rewritten together with its hash;
- its `record_hash` is not the hash of its stored fields: the record was modified;
- it lies beyond the chain head (appended outside the logbook), or the chain ends before its
  head (records at the end were deleted).
The walk of a chain stops at its first broken record, which the result names.

Retention deletes records and leaves gaps, at the start, in the middle or at the end of a chain.
A gap is accepted only when deletion ranges of trusted receipts (see
`glazenstad.logbook.receipts`) cover it exactly, one after the other, and their anchors link up:
the first range's `first_prev_hash` is the hash of the record before the gap (or the genesis
hash at the start), each next range starts where the previous one ended with the previous
range's `last_hash` as its `first_prev_hash`, and the record after the gap (or, for a pruned
tail, the chain head) names the last range's `last_hash`. Anything else stays a break naming the
record after the gap. A problem in the receipts themselves (missing number, broken receipt link,
altered receipt, a range claiming records that are still there) is a break of the chain too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select, union

from glazenstad.logbook.chain import record_hash
from glazenstad.logbook.receipts import ChainReceipts, DeletionRange, load_receipts
from glazenstad.logbook.tables import GENESIS_HASH, log_chain_head, log_record

_STREAM = 5000


@dataclass(frozen=True)
class ChainBreak:
    organisation_id: str
    chain_partition: str
    sequence: int | None
    trace_id: str | None
    span_id: str | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.organisation_id}/{self.chain_partition}"
        if self.sequence is not None:
            where += f" sequence {self.sequence} (trace {self.trace_id}, span {self.span_id})"
        return f"{where}: {self.problem}"


@dataclass
class ChainReport:
    organisation_id: str
    chain_partition: str
    records: int = 0
    last_sequence: int = 0
    # Records deleted by retention and accounted for by deletion receipts.
    pruned: int = 0
    broken: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


@dataclass
class VerifyResult:
    chains: list[ChainReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.chains)

    @property
    def records(self) -> int:
        return sum(c.records for c in self.chains)

    @property
    def pruned(self) -> int:
        return sum(c.pruned for c in self.chains)

    @property
    def breaks(self) -> list[ChainBreak]:
        return [c.broken for c in self.chains if c.broken is not None]

    @property
    def first_break(self) -> ChainBreak | None:
        breaks = self.breaks
        return breaks[0] if breaks else None


def _break(report: ChainReport, row: Any | None, problem: str) -> None:
    report.broken = ChainBreak(
        report.organisation_id,
        report.chain_partition,
        None if row is None else int(row.sequence),
        None if row is None else row.trace_id,
        None if row is None else row.span_id,
        problem,
    )


def _chains(engine: Engine, organisation_id: str | None) -> list[tuple[str, str]]:
    heads = select(log_chain_head.c.organisation_id, log_chain_head.c.chain_partition)
    records = select(log_record.c.organisation_id, log_record.c.chain_partition).distinct()
    if organisation_id is not None:
        heads = heads.where(log_chain_head.c.organisation_id == organisation_id)
        records = records.where(log_record.c.organisation_id == organisation_id)
    with engine.connect() as conn:
        rows = conn.execute(union(heads, records)).all()
    return sorted((str(r[0]), str(r[1])) for r in rows)


@dataclass
class _Bridge:
    """Where a walk over deletion ranges from one position ended."""

    expected: int
    prev_hash: str
    ranges: list[DeletionRange]
    # A range starts at the position but its anchor does not link (receipt number).
    mismatch: int | None = None
    # A range covers the sequence number of a record that is still there (receipt number).
    overlap: int | None = None


def _bridge(receipts: ChainReceipts, expected: int, prev_hash: str, until: int) -> _Bridge:
    """Follow deletion ranges from `expected` as long as they link, not past `until`."""
    bridge = _Bridge(expected, prev_hash, [])
    while True:
        candidates = receipts.ranges.get(bridge.expected, [])
        linked = [r for r in candidates if r.first_prev_hash == bridge.prev_hash]
        if not linked:
            if candidates:
                bridge.mismatch = candidates[0].receipt_number
            return bridge
        span = linked[0]
        if span.last_sequence >= until:
            bridge.overlap = span.receipt_number
            return bridge
        bridge.ranges.append(span)
        bridge.expected = span.last_sequence + 1
        bridge.prev_hash = span.last_hash


def _gap_problem(start: int, end: int, bridge: _Bridge, receipts: ChainReceipts) -> str:
    missing = f"sequence {start}" if end == start else f"sequences {start} to {end}"
    if bridge.overlap is not None:
        return (
            f"deletion receipt {bridge.overlap} covers sequence {bridge.expected} onwards, "
            "but this record lies in that range (inserted)"
        )
    if bridge.mismatch is not None:
        why = (
            f"deletion receipt {bridge.mismatch} covers sequence {bridge.expected} but its "
            "anchor does not match the hash of the record before the gap"
        )
    elif receipts.problem is not None:
        why = f"no valid deletion receipt covers sequence {bridge.expected}; {receipts.problem}"
    else:
        why = f"no deletion receipt covers sequence {bridge.expected}"
    return f"{missing} missing before this record (deleted): {why}"


def _verify_chain(engine: Engine, organisation_id: str, partition: str) -> ChainReport:
    report = ChainReport(organisation_id, partition)
    with engine.connect() as conn:
        head = conn.execute(
            select(log_chain_head).where(
                log_chain_head.c.organisation_id == organisation_id,
                log_chain_head.c.chain_partition == partition,
            )
        ).first()
        head_sequence = int(head.last_sequence) if head is not None else 0
        query = (
            select(log_record)
            .where(
                log_record.c.organisation_id == organisation_id,
                log_record.c.chain_partition == partition,
            )
            .order_by(log_record.c.sequence, log_record.c.id)
        )
        receipts = load_receipts(conn, organisation_id, partition)
        used: set[tuple[int, int]] = set()
        expected, prev_hash = 1, GENESIS_HASH
        bridged: DeletionRange | None = None
        last_row: Any | None = None
        rows = conn.execution_options(yield_per=_STREAM).execute(query)
        for row in rows:
            report.records += 1
            sequence = int(row.sequence)
            bridged = None
            bridge = _Bridge(expected, prev_hash, [])
            if head is not None and sequence > expected:
                bridge = _bridge(receipts, expected, prev_hash, sequence)
                if bridge.expected == sequence:
                    for span in bridge.ranges:
                        used.add((span.receipt_number, span.first_sequence))
                        report.pruned += span.count
                    bridged = bridge.ranges[-1]
                    expected, prev_hash = bridge.expected, bridge.prev_hash
            if head is None:
                _break(report, row, "the chain has records but no chain head (inserted)")
            elif sequence < expected:
                _break(report, row, f"sequence {sequence} occurs twice (a record was inserted)")
            elif sequence > expected:
                _break(report, row, _gap_problem(bridge.expected, sequence - 1, bridge, receipts))
            elif sequence > head_sequence:
                _break(
                    report,
                    row,
                    f"beyond the chain head (last sequence {head_sequence}): appended outside "
                    "the logbook (inserted)",
                )
            elif row.prev_hash != prev_hash and bridged is not None:
                _break(
                    report,
                    row,
                    f"prev_hash does not match the last hash of deletion receipt "
                    f"{bridged.receipt_number} (sequences {bridged.first_sequence} to "
                    f"{bridged.last_sequence}): the receipt's anchor or this record was altered",
                )
            elif row.prev_hash != prev_hash:
                _break(
                    report,
                    row,
                    "prev_hash does not match the hash of the record before it "
                    "(inserted, reordered, or the previous record was rewritten)",
                )
            elif record_hash(row._mapping) != row.record_hash:
                _break(report, row, "record_hash does not match the stored fields (modified)")
            if report.broken is not None:
                rows.close()
                return report
            prev_hash = row.record_hash
            last_row = row
            report.last_sequence = sequence
            expected += 1
        bridge = _Bridge(expected, prev_hash, [])
        if head is not None and expected <= head_sequence:
            bridge = _bridge(receipts, expected, prev_hash, head_sequence + 1)
            if bridge.expected == head_sequence + 1:
                for span in bridge.ranges:
                    used.add((span.receipt_number, span.first_sequence))
                    report.pruned += span.count
                expected, prev_hash = bridge.expected, bridge.prev_hash
        if head is not None and expected - 1 != head_sequence:
            why = ""
            if bridge.mismatch is not None:
                why = (
                    f" (deletion receipt {bridge.mismatch} covers sequence {bridge.expected} "
                    "but its anchor does not match)"
                )
            elif receipts.problem is not None:
                why = f" ({receipts.problem})"
            _break(
                report,
                last_row,
                f"the chain ends at sequence {expected - 1} but its head is at "
                f"{head_sequence}: the last record(s) were deleted without a deletion "
                f"receipt{why}",
            )
        elif head is not None and head_sequence and prev_hash != head.last_hash:
            _break(report, last_row, "the last record's hash differs from the chain head")
        elif receipts.problem is not None:
            _break(report, None, receipts.problem)
        else:
            unused = sorted(
                (
                    span
                    for spans in receipts.ranges.values()
                    for span in spans
                    if (span.receipt_number, span.first_sequence) not in used
                ),
                key=lambda span: span.first_sequence,
            )
            if unused:
                span = unused[0]
                _break(
                    report,
                    None,
                    f"deletion receipt {span.receipt_number} covers sequences "
                    f"{span.first_sequence} to {span.last_sequence}, which do not form a "
                    "deleted gap in the chain",
                )
    return report


def verify(engine: Engine, organisation_id: str | None = None) -> VerifyResult:
    """Verify every chain (of one organisation, or all); read-only."""
    result = VerifyResult()
    for org, partition in _chains(engine, organisation_id):
        result.chains.append(_verify_chain(engine, org, partition))
    return result
