"""Group commit for the gateway: decisions and log records, durable before the answer leaves.

No data leaves the gateway unless its log records are committed ("no log, no access"): a
request waits for its records. Waiting requests share commits: a writer thread takes everything
queued, writes the decisions (decision log) and then the log records (logbook, chained and
pseudonymised), and releases every request in that batch at once. Under load a batch holds many
requests, so the cost of a commit is spread over them; when idle a request waits for one write.

Decisions are written in the same transaction as the records that cite them, so a record never
names a decision the database does not have, and a request waits for one commit, not two.
"""

from __future__ import annotations

import logging
import threading
import traceback
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Connection

from glazenstad.logbook.record import LogRecord
from glazenstad.logbook.store import LogStore
from glazenstad.rules.decisionlog import decision_row, write_decisions
from glazenstad.rules.engine import Decision

_log = logging.getLogger("glazenstad.gateway")


class LogWriteError(RuntimeError):
    """The logbook refused or could not store a record; the request must not be served."""


class GatewayLog:
    def __init__(self, logbook: LogStore, organisation: str) -> None:
        self.logbook = logbook
        self.organisation = organisation
        self._cond = threading.Condition()
        self._queue: list[tuple[list[Decision], list[LogRecord], Future[None]]] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="gateway-log", daemon=True)
        self._thread.start()

    def submit(self, decisions: list[Decision], records: list[LogRecord]) -> Future[None]:
        """Queue for the next commit; the future is done when both are durable (or failed)."""
        future: Future[None] = Future()
        with self._cond:
            if self._closed:
                raise LogWriteError("the gateway log is closed")
            self._queue.append((decisions, records, future))
            self._cond.notify()
        return future

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
            self._write(batch)

    def _write(self, batch: list[tuple[list[Decision], list[LogRecord], Future[None]]]) -> None:
        try:
            rows: list[dict[str, Any]] = [decision_row(d) for ds, _, _ in batch for d in ds]
            records = [r for _, rs, _ in batch for r in rs]

            def decisions_too(conn: Connection) -> None:
                write_decisions(conn, rows)

            if records:  # decisions and records in one transaction: one commit to wait for
                result = self.logbook.ingest(self.organisation, records, also=decisions_too)
                if result.rejected:
                    raise LogWriteError(f"the logbook refused a record: {result.rejected[0]}")
            elif rows:
                with self.logbook.engine.begin() as conn:
                    write_decisions(conn, rows)
        except BaseException as exc:  # every waiting request must hear about it
            # Type and place only: an exception's message may hold personal data.
            frames = traceback.extract_tb(exc.__traceback__)
            where = " < ".join(f"{f.filename}:{f.lineno}" for f in reversed(frames[-6:]))
            _log.error("gateway log write failed: %s at %s", type(exc).__name__, where)
            error = exc if isinstance(exc, LogWriteError) else LogWriteError(type(exc).__name__)
            for _, _, future in batch:
                future.set_exception(error)
            return
        for _, _, future in batch:
            future.set_result(None)

    def close(self) -> None:
        """Write what is queued, then stop."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=30)
