"""The decision log: every decision, append-only, written in batches.

Deciding takes about a microsecond; a database round trip takes a millisecond. So decisions are
queued and a background thread writes them in batches with one multi-row insert per batch. A
caller that must not answer before the decision is stored (the HTTP API does) waits on
`record(..., wait=True)`: concurrent callers share one commit (group commit), so durability does
not cost one transaction per decision.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from glazenstad.rules.effective import ENGINE_VERSION
from glazenstad.rules.engine import Decision
from glazenstad.rules.tables import decision_log


def decision_row(decision: Decision) -> dict[str, Any]:
    request = decision.request
    canonical = request.canonical()
    canonical["context"]["time"] = decision.moment
    policy = decision.policy
    return {
        "decision_id": decision.id,
        "decided_at": datetime.fromtimestamp(decision.decided_at, UTC),
        "organisation_id": request.actor.organisation,
        "policy_version": policy.context.policy_hash if policy else None,
        "compiled_hash": policy.content_hash if policy else None,
        "engine_version": ENGINE_VERSION,
        "input_hash": decision.input_hash(),
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


class _Batch:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.done = threading.Event()
        self.error: BaseException | None = None


class DecisionLog:
    """Queues decisions and writes them in batches from one background thread."""

    def __init__(self, engine: Engine, *, max_batch: int = 2000, interval: float = 0.05) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.interval = interval
        self._lock = threading.Condition()
        self._batch = _Batch()
        self._closed = False
        self._thread: threading.Thread | None = None

    def _ensure_writer(self) -> None:
        """Start the writer thread on first use (and again after `close`); call under lock."""
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
            if wait or len(batch.rows) >= self.max_batch:
                self._lock.notify()
        if wait:
            if not batch.done.wait(timeout):
                raise TimeoutError("the decision log did not commit in time")
            if batch.error is not None:
                raise RuntimeError("the decision log could not be written") from batch.error

    def _take(self) -> _Batch:
        with self._lock:
            if not self._batch.rows and not self._closed:
                self._lock.wait(self.interval)
            batch, self._batch = self._batch, _Batch()
            return batch

    def _write(self, batch: _Batch) -> None:
        try:
            if batch.rows:
                with self.engine.begin() as conn:
                    conn.execute(decision_log.insert(), batch.rows)
        except BaseException as exc:  # every waiter must hear about it
            batch.error = exc
        finally:
            batch.done.set()

    def _run(self) -> None:
        while True:
            batch = self._take()
            self._write(batch)
            with self._lock:
                if self._closed and not self._batch.rows:
                    return

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything recorded so far is committed."""
        with self._lock:
            batch = self._batch
            self._lock.notify()
        if batch.rows and not batch.done.wait(timeout):
            raise TimeoutError("the decision log did not commit in time")

    def close(self) -> None:
        """Write what is queued and stop the writer (a later `record` starts a new one)."""
        with self._lock:
            thread = self._thread
            self._closed = True
            self._lock.notify()
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
