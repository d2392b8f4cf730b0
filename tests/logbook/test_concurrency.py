"""Concurrent ingests into one chain queue behind the chain head lock: one unbroken chain."""

from __future__ import annotations

import itertools
import threading

from sqlalchemy import select

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
    # Every batch got one contiguous run of sequence numbers, and the runs do not overlap.
    runs = sorted((r.first_sequence, r.last_sequence) for r in results if r.accepted)
    assert runs[0][0] == 1 and runs[-1][1] == expected
    for (_, end), (begin, _) in itertools.pairwise(runs):
        assert begin == end + 1
    with store.engine.connect() as conn:
        sequences = conn.execute(select(log_record.c.sequence).order_by("sequence")).scalars()
        assert list(sequences) == list(range(1, expected + 1))
    result = verify(store.engine)
    assert result.ok, result.first_break
    assert result.records == expected
