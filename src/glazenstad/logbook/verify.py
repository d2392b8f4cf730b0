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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select, union

from glazenstad.logbook.chain import record_hash
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
        expected, prev_hash = 1, GENESIS_HASH
        last_row: Any | None = None
        rows = conn.execution_options(yield_per=_STREAM).execute(query)
        for row in rows:
            report.records += 1
            sequence = int(row.sequence)
            if head is None:
                _break(report, row, "the chain has records but no chain head (inserted)")
            elif sequence < expected:
                _break(report, row, f"sequence {sequence} occurs twice (a record was inserted)")
            elif sequence > expected:
                missing = (
                    f"sequence {expected}"
                    if sequence == expected + 1
                    else f"sequences {expected} to {sequence - 1}"
                )
                _break(report, row, f"{missing} missing before this record (deleted)")
            elif sequence > head_sequence:
                _break(
                    report,
                    row,
                    f"beyond the chain head (last sequence {head_sequence}): appended outside "
                    "the logbook (inserted)",
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
        if head is not None and report.last_sequence != head_sequence:
            _break(
                report,
                last_row,
                f"the chain ends at sequence {report.last_sequence} but its head is at "
                f"{head_sequence}: the last record(s) were deleted",
            )
        elif head is not None and head_sequence and prev_hash != head.last_hash:
            _break(report, last_row, "the last record's hash differs from the chain head")
    return report


def verify(engine: Engine, organisation_id: str | None = None) -> VerifyResult:
    """Verify every chain (of one organisation, or all); read-only."""
    result = VerifyResult()
    for org, partition in _chains(engine, organisation_id):
        result.chains.append(_verify_chain(engine, org, partition))
    return result
