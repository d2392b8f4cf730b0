"""The decision log: every decision, append-only, written in batches.

Deciding takes about a microsecond; a database round trip takes a millisecond. So decisions are
queued and written in batches with one multi-row insert per batch. A caller that must not answer
before the decision is stored (the HTTP API does) uses `record(..., wait=True)`: concurrent
callers share one commit (group commit), so durability does not cost one transaction per
decision, and the waiting caller's own thread does the write, so no thread hand-over adds
latency.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from glazenstad.db.dialect import dialect_insert
from glazenstad.rules.effective import ENGINE_VERSION
from glazenstad.rules.engine import Decision
from glazenstad.rules.tables import decision_log


def decision_row(decision: Decision) -> dict[str, Any]:
    request = decision.request
    canonical = decision.canonical_input()
    policy = decision.policy
    return {
        "decision_id": decision.id,
        "decided_at": datetime.fromtimestamp(decision.decided_at, UTC),
        "organisation_id": request.actor.organisation,
        "policy_version": policy.context.policy_hash if policy else None,
        "compiled_hash": policy.content_hash if policy else None,
        "engine_version": ENGINE_VERSION,
        "input_hash": decision.input_hash(canonical),
        "purpose": request.purpose,
        "action": request.action,
        "data_category": request.resource.data_category,
        "role": request.actor.role,
        "department": request.actor.department,
        "effect": decision.outcome.effect,
        "reason": decision.outcome.reason,
        "rules": list(decision.outcome.rule_ids),
        "break_glass": decision.outcome.break_glass,
        "request": canonical,
    }


def write_decisions(
    conn: Connection, rows: list[dict[str, Any]], *, skip_stored: bool = False
) -> None:
    """Insert decision rows (from `decision_row`) in the caller's transaction.

    `skip_stored`: rows whose decision id is stored already are left as they are (callers with
    deterministic decision ids, such as a pipeline handling a redelivered message).
    """
    if not rows:
        return
    if skip_stored:
        insert = dialect_insert(conn, decision_log).on_conflict_do_nothing(
            index_elements=["decision_id"]
        )
        conn.execute(insert, rows)
    else:
        conn.execute(decision_log.insert(), rows)


class _Batch:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.done = threading.Event()
        self.error: BaseException | None = None


class DecisionLog:
    """Queues decisions and writes them in batches, one batch at a time.

    A caller that waits for durability writes the pending batch itself when no write is under
    way (leader); callers arriving meanwhile queue into the next batch and wait for it, and the
    first of them writes it next. Decisions recorded without waiting are written by a background
    thread every `interval` seconds or when `max_batch` rows are queued.
    """

    def __init__(self, engine: Engine, *, max_batch: int = 2000, interval: float = 0.05) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.interval = interval
        self._lock = threading.Condition()
        self._batch = _Batch()
        self._writing = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def _ensure_writer(self) -> None:
        """Start the background writer on first use (and again after `close`); under lock."""
        if self._thread is None or not self._thread.is_alive():
            self._closed = False
            self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
            self._thread.start()

    def record(self, decision: Decision, *, wait: bool = False, timeout: float = 10.0) -> None:
        self.record_many([decision], wait=wait, timeout=timeout)

    def record_many(
        self, decisions: Iterable[Decision], *, wait: bool = False, timeout: float = 10.0
    ) -> None:
        rows = [decision_row(d) for d in decisions]
        with self._lock:
            self._ensure_writer()
            batch = self._batch
            batch.rows.extend(rows)
            if not wait:
                if len(batch.rows) >= self.max_batch:
                    self._lock.notify_all()
                return
            self._until_written(batch, timeout)
        if batch.error is not None:
            raise RuntimeError("the decision log could not be written") from batch.error

    def _until_written(self, batch: _Batch, timeout: float) -> None:
        """Block (holding the lock between steps) until `batch` is committed or failed."""
        deadline = time.monotonic() + timeout
        while not batch.done.is_set():
            if not self._writing:
                self._write_next()
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the decision log did not commit in time")
            self._lock.wait(remaining)

    def _write_next(self) -> None:
        """Write the pending batch; called with the lock held and no write under way."""
        self._writing = True
        current, self._batch = self._batch, _Batch()
        self._lock.release()
        try:
            self._write(current)
        finally:
            self._lock.acquire()
            self._writing = False
            self._lock.notify_all()

    def _write(self, batch: _Batch) -> None:
        try:
            if batch.rows:
                with self.engine.begin() as conn:
                    write_decisions(conn, batch.rows)
        except BaseException as exc:  # every waiter must hear about it
            batch.error = exc
        finally:
            batch.done.set()

    def _run(self) -> None:
        with self._lock:
            while True:
                if self._closed and not self._batch.rows and not self._writing:
                    return
                if not self._closed:
                    self._lock.wait(self.interval)
                if self._batch.rows and not self._writing:
                    self._write_next()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything recorded so far is committed."""
        with self._lock:
            batch = self._batch
            if batch.rows:
                self._until_written(batch, timeout)

    def close(self) -> None:
        """Write what is queued and stop the writer (a later `record` starts a new one)."""
        with self._lock:
            thread = self._thread
            self._closed = True
            self._lock.notify_all()
        if thread is not None:
            thread.join(timeout=30)
        with self._lock:
            self._thread = None


def stored_decision(engine: Engine, decision_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(decision_log).where(decision_log.c.decision_id == decision_id)
        ).first()
    return dict(row._mapping) if row is not None else None
