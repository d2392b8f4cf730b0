"""Tamper detection: rows changed directly in the database make verify fail, naming the record."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from glazenstad.logbook.chain import record_hash
from glazenstad.logbook.store import LogStore
from glazenstad.logbook.tables import log_chain_head, log_record
from glazenstad.logbook.verify import ChainBreak, verify
from tests.logbook.conftest import ORG, lift_append_only_guard, make_record


@pytest.fixture
def filled(store: LogStore) -> list[dict[str, Any]]:
    """Six records in the teststad chain (two batches), one in another organisation's chain."""
    store.ingest(ORG, [make_record() for _ in range(3)])
    store.ingest(ORG, [make_record() for _ in range(3)])
    store.ingest("anderstad", [make_record()])
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(log_record).where(log_record.c.organisation_id == ORG).order_by("sequence")
        )
        return [dict(r._mapping) for r in rows]


def broken(engine: Engine) -> ChainBreak:
    result = verify(engine)
    assert not result.ok
    first = result.first_break
    assert first is not None
    assert len(result.breaks) == 1  # the other organisation's chain is untouched
    assert first.organisation_id == ORG
    return first


def execute(engine: Engine, *statements: Any) -> None:
    """Tamper as someone who owns the table: lift the append-only guard first."""
    with engine.begin() as conn:
        lift_append_only_guard(conn)
        for statement in statements:
            conn.execute(statement)


def at(sequence: int) -> Any:
    return (log_record.c.organisation_id == ORG) & (log_record.c.sequence == sequence)


def test_untouched_chains_verify(store: LogStore, filled: list[dict[str, Any]]) -> None:
    result = verify(store.engine)
    assert result.ok and result.records == 7 and result.first_break is None
    for row in filled:
        assert record_hash(row) == row["record_hash"]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("name", "Iets anders"),
        ("status", "Error"),
        ("start_time_ms", 1),
        ("activity_known", False),
        ("data_subject_pseudonym", "k2026:" + "0" * 64),
        ("attributes", {"x": 1}),
        ("received_at", None),
    ],
)
def test_modified_field(
    store: LogStore, filled: list[dict[str, Any]], column: str, value: Any
) -> None:
    if column == "received_at":
        value = filled[2]["received_at"].replace(year=2020)
    execute(store.engine, update(log_record).where(at(3)).values({column: value}))
    first = broken(store.engine)
    assert (first.sequence, first.span_id) == (3, filled[2]["span_id"])
    assert first.trace_id == filled[2]["trace_id"]
    assert "modified" in first.problem
    assert f"{ORG}/main sequence 3" in str(first)


def test_modified_record_with_recomputed_hash(
    store: LogStore, filled: list[dict[str, Any]]
) -> None:
    row = {**filled[2], "name": "Iets anders"}
    execute(
        store.engine,
        update(log_record).where(at(3)).values(name=row["name"], record_hash=record_hash(row)),
    )
    first = broken(store.engine)
    assert first.sequence == 4 and "prev_hash does not match" in first.problem


def test_deleted_row(store: LogStore, filled: list[dict[str, Any]]) -> None:
    execute(store.engine, delete(log_record).where(at(4)))
    first = broken(store.engine)
    assert (first.sequence, first.span_id) == (5, filled[4]["span_id"])
    assert "sequence 4 missing" in first.problem and "deleted" in first.problem


def test_deleted_last_rows(store: LogStore, filled: list[dict[str, Any]]) -> None:
    execute(store.engine, delete(log_record).where(at(5) | at(6)))
    first = broken(store.engine)
    assert first.sequence == 4 and "head is at 6" in first.problem


def test_deleted_first_row(store: LogStore, filled: list[dict[str, Any]]) -> None:
    execute(store.engine, delete(log_record).where(at(1)))
    first = broken(store.engine)
    assert first.sequence == 2 and "sequence 1 missing" in first.problem


def test_deleted_everything(store: LogStore, filled: list[dict[str, Any]]) -> None:
    execute(store.engine, delete(log_record).where(log_record.c.organisation_id == ORG))
    first = broken(store.engine)
    assert first.sequence is None and "head is at 6" in first.problem


def _forged(filled: list[dict[str, Any]], sequence: int, prev_hash: str) -> dict[str, Any]:
    row = {k: v for k, v in filled[0].items() if k != "id"}
    row.update(span_id="00000000deadbeef", sequence=sequence, prev_hash=prev_hash)
    row["record_hash"] = record_hash(row)
    return row


def test_inserted_row_appended_with_valid_hash(
    store: LogStore, filled: list[dict[str, Any]]
) -> None:
    forged = _forged(filled, 7, filled[5]["record_hash"])
    execute(store.engine, insert(log_record).values(forged))
    first = broken(store.engine)
    assert (first.sequence, first.span_id) == (7, "00000000deadbeef")
    assert "beyond the chain head" in first.problem


def test_inserted_row_in_the_middle(store: LogStore, filled: list[dict[str, Any]]) -> None:
    # Make room at sequence 4 by renumbering the rest (from the top, for the unique constraint),
    # and insert a forged record that links correctly to record 3.
    for sequence in (6, 5, 4):
        execute(store.engine, update(log_record).where(at(sequence)).values(sequence=sequence + 1))
    execute(
        store.engine,
        insert(log_record).values(_forged(filled, 4, filled[2]["record_hash"])),
        update(log_chain_head)
        .where(log_chain_head.c.organisation_id == ORG, log_chain_head.c.chain_partition == "main")
        .values(last_sequence=7),
    )
    first = broken(store.engine)
    # The forged row itself links and hashes correctly; the record after it no longer does.
    assert (first.sequence, first.span_id) == (5, filled[3]["span_id"])
    assert "prev_hash does not match" in first.problem


def test_inserted_row_in_a_gap_with_forged_hash(
    store: LogStore, filled: list[dict[str, Any]]
) -> None:
    execute(store.engine, delete(log_record).where(at(4)))
    forged = _forged(filled, 4, "f" * 64)
    execute(store.engine, insert(log_record).values(forged))
    first = broken(store.engine)
    assert (first.sequence, first.span_id) == (4, "00000000deadbeef")
    assert "prev_hash does not match" in first.problem


def test_swapped_sequence_numbers(store: LogStore, filled: list[dict[str, Any]]) -> None:
    execute(
        store.engine,
        update(log_record).where(at(3)).values(sequence=-3),
        update(log_record).where(at(4)).values(sequence=3),
        update(log_record).where(at(-3)).values(sequence=4),
    )
    first = broken(store.engine)
    # Sequence 3 now holds the record that was fourth.
    assert (first.sequence, first.span_id) == (3, filled[3]["span_id"])
    assert "prev_hash does not match" in first.problem


def test_verify_one_organisation(store: LogStore, filled: list[dict[str, Any]]) -> None:
    execute(store.engine, delete(log_record).where(at(2)))
    assert verify(store.engine, "anderstad").ok
    assert not verify(store.engine, ORG).ok


def test_chain_continues_after_verify(store: LogStore, filled: list[dict[str, Any]]) -> None:
    store.ingest(ORG, [make_record()])
    assert verify(store.engine).ok
