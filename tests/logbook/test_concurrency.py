"""Concurrent ingests: every chain stays unbroken, and on PostgreSQL writers share the work.

A writer locks a chain head for its batch. On SQLite there is one chain per organisation and
writers queue for it; on PostgreSQL a writer takes the first of the organisation's chains that no
one else holds, so concurrent batches are written side by side.
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict

from sqlalchemy import select, text

from glazenstad.logbook.store import IngestResult, LogStore
from glazenstad.logbook.tables import log_record
from glazenstad.logbook.verify import verify
from tests.logbook.conftest import ORG, make_record

THREADS = 8
BATCHES = 5
BATCH_SIZE = 20


def test_concurrent_ingests_keep_one_chain(store: LogStore) -> None:
    shared = [make_record() for _ in range(BATCH_SIZE)]  # every thread also re-sends these
    results: list[IngestResult] = []
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)
    lock = threading.Lock()

    def work() -> None:
        try:
            start.wait()
            for _ in range(BATCHES):
                batch = [make_record() for _ in range(BATCH_SIZE)]
                result = store.ingest(ORG, batch + shared)
                with lock:
                    results.append(result)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == THREADS * BATCHES

    expected = THREADS * BATCHES * BATCH_SIZE + BATCH_SIZE
    assert sum(r.accepted for r in results) == expected
    assert sum(r.duplicates for r in results) == (THREADS * BATCHES - 1) * BATCH_SIZE
    # Per chain, the batches got contiguous runs of sequence numbers that do not overlap.
    runs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for r in results:
        if r.accepted:
            assert r.chain_partition is not None and r.first_sequence and r.last_sequence
            assert r.last_sequence - r.first_sequence + 1 == r.accepted
            runs[r.chain_partition].append((r.first_sequence, r.last_sequence))
    assert set(runs) <= set(store.chains)
    for chain_runs in runs.values():
        chain_runs.sort()
        assert chain_runs[0][0] == 1
        for (_, end), (begin, _) in itertools.pairwise(chain_runs):
            assert begin == end + 1
    assert sum(chain_runs[-1][1] for chain_runs in runs.values()) == expected
    with store.engine.connect() as conn:
        stored = conn.execute(select(log_record.c.chain_partition, log_record.c.sequence)).all()
    per_chain: dict[str, list[int]] = defaultdict(list)
    for chain, sequence in stored:
        per_chain[chain].append(sequence)
    assert {c: sorted(s) for c, s in per_chain.items()} == {
        c: list(range(1, r[-1][1] + 1)) for c, r in runs.items()
    }
    result = verify(store.engine)
    assert result.ok, result.first_break
    assert result.records == expected


def test_a_writer_takes_a_chain_no_one_holds(store: LogStore) -> None:
    store.ingest(ORG, [make_record()])  # creates the organisation's chain heads
    if store.engine.dialect.name != "postgresql":
        assert store.chains == ["main"]  # SQLite writes one chain, one writer at a time
        return
    assert store.chains == ["main", "main-2", "main-3", "main-4"]
    with store.engine.connect() as holder:
        holder.execute(
            text(
                "SELECT 1 FROM log_chain_head WHERE organisation_id = :org "
                "AND chain_partition IN ('main', 'main-2') FOR UPDATE"
            ),
            {"org": ORG},
        )
        result = store.ingest(ORG, [make_record(), make_record()])
        holder.rollback()
    assert (result.chain_partition, result.first_sequence, result.last_sequence) == (
        "main-3",
        1,
        2,
    )
    assert store.ingest(ORG, [make_record()]).chain_partition == "main"
    assert verify(store.engine).ok
