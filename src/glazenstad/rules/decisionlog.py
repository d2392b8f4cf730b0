"""The decision log: every decision, append-only, written in batches.

Deciding takes about a microsecond; a database round trip takes a millisecond. So decisions are
queued and written in batches, one bulk write per batch (`COPY` on PostgreSQL, one executemany
on SQLite). A caller that must not answer before the decision is stored (the HTTP API does) uses
`record(..., wait=True)`: concurrent callers share one commit (group commit), so durability does
not cost one transaction per decision, and the waiting caller's own thread does the write, so
no thread hand-over adds latency.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from sqlalchemy import Connection, Engine, select

from glazenstad.db.copy import copy_lines, copy_text, copy_timestamp
from glazenstad.rules.effective import ENGINE_VERSION
from glazenstad.rules.engine import Decision
from glazenstad.rules.tables import decision_log

_log = logging.getLogger(__name__)
RETRY_MAX_S = 5.0


def decision_row(decision: Decision, decision_id: str | None = None) -> dict[str, Any]:
    """The decision-log row of `decision`, under `decision_id` if given (a caller whose ids are
    derived from its own data, so that a redelivered message decides under the same id)."""
    request = decision.request
    canonical = decision.canonical_input()
    policy = decision.policy
    return {
        "decision_id": decision_id or decision.id,
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
) -> int:
    """Insert decision rows (from `decision_row`) in the caller's transaction; how many.

    `skip_stored`: rows whose decision id is stored already are left out, and so is a second
    row of one id (callers with deterministic decision ids, such as a pipeline handling a
    redelivered message, which decides again: the same id, a later `decided_at`). The stored
    ids are looked up first rather than left to ON CONFLICT: on PostgreSQL the decision log is
    partitioned by `decided_at` and the unique id lives in `decision_log_key` (ADR 16), which
    an ON CONFLICT on decision_log cannot name. A row of the same id committed by another
    writer between the look-up and the insert is refused by that key (IntegrityError): the
    caller's retry then finds it stored.
    """
    if skip_stored:
        first: dict[str, dict[str, Any]] = {}
        for row in rows:
            first.setdefault(row["decision_id"], row)
        stored = _stored_ids(conn, list(first))
        rows = [row for decision_id, row in first.items() if decision_id not in stored]
    if rows:
        if conn.dialect.name == "postgresql":
            copy_lines(conn, _COPY_SQL, [_copy_line(row) for row in rows])
        else:
            conn.execute(decision_log.insert(), rows)
    return len(rows)


# The columns of a decision row, in COPY order; `id` comes from its sequence.
_COLUMNS: Final = (
    "decision_id",
    "decided_at",
    "organisation_id",
    "policy_version",
    "compiled_hash",
    "engine_version",
    "input_hash",
    "purpose",
    "action",
    "data_category",
    "role",
    "department",
    "effect",
    "reason",
    "rules",
    "break_glass",
    "request",
)
_COPY_SQL: Final = f"COPY decision_log ({', '.join(_COLUMNS)}) FROM STDIN"


_JSON: Final = msgspec.json.Encoder()  # a tenth of json.dumps's time for the same value


def _json_text(value: Any) -> str:
    return copy_text(_JSON.encode(value).decode())


# How a column's value becomes COPY text, for the columns that are not plain text.
_AS_TEXT: Final[dict[str, Callable[[Any], str]]] = {
    "decided_at": copy_timestamp,
    "rules": _json_text,
    "break_glass": lambda value: "t" if value else "f",
    "request": _json_text,
}


def _copy_line(row: dict[str, Any]) -> str:
    """One decision row as a line of COPY text (the JSON columns compact, as stored)."""
    return "\t".join(_AS_TEXT.get(name, copy_text)(row[name]) for name in _COLUMNS) + "\n"


_LOOKUP_CHUNK = 1000  # ids per look-up: far below both databases' limit on parameters


def _stored_ids(conn: Connection, ids: list[str]) -> set[str]:
    """Which of `ids` are stored; on PostgreSQL from the one index of decision_log_key rather
    than from an index per month of decision_log, the ids as one array parameter (a list of a
    thousand bound values cost the driver more to prepare than the query took)."""
    if conn.dialect.name == "postgresql":
        found = conn.exec_driver_sql(
            "SELECT decision_id FROM decision_log_key WHERE decision_id = ANY(%(ids)s)",
            {"ids": ids},
        )
        return {str(decision_id) for (decision_id,) in found}
    column = decision_log.c.decision_id
    stored: set[str] = set()
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        stored.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
    return stored


class DecisionLogUnavailable(RuntimeError):
    """The decision log could not commit a decision the caller waits for (the database is
    unreachable, full, or too slow); the cause is chained. The caller must not answer as if the
    decision were logged; a new request may succeed once the database is back."""


class _Batch:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        # The rows of callers that did not wait: nobody hears of a failure, so they are kept
        # and written again (see `_requeue`); a waiting caller is told instead.
        self.unwaited: list[dict[str, Any]] = []
        # Holds rows written before in a failed batch, whose commit may have happened after all.
        self.retried = False
        self.done = threading.Event()
        self.error: BaseException | None = None


class DecisionLog:
    """Queues decisions and writes them in batches, one batch at a time.

    A caller that waits for durability writes the pending batch itself when no write is under
    way (leader); callers arriving meanwhile queue into the next batch and wait for it, and the
    first of them writes it next. Decisions recorded without waiting are written by a background
    thread every `interval` seconds or when `max_batch` rows are queued.

    When a write fails (the database restarts, the disk is full), waiting callers get
    DecisionLogUnavailable and nothing is written for them later: they answer 503 and their
    client asks again. Decisions nobody waited for are kept and written once the database takes
    writes again (pausing between attempts, up to RETRY_MAX_S); see docs/resilience.md.
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
        # After a failed write the background writer pauses (doubling, up to RETRY_MAX_S),
        # so an unreachable database is not asked twenty times a second.
        self._pause = 0.0
        self._resume_at = 0.0

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
                batch.unwaited.extend(rows)
                if len(batch.rows) >= self.max_batch:
                    self._lock.notify_all()
                return
            self._until_written(batch, timeout)
        if batch.error is not None:
            raise DecisionLogUnavailable("the decision log could not be written") from batch.error

    def _until_written(self, batch: _Batch, timeout: float) -> None:
        """Block (holding the lock between steps) until `batch` is committed or failed."""
        deadline = time.monotonic() + timeout
        while not batch.done.is_set():
            if not self._writing:
                self._write_next()
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DecisionLogUnavailable(
                    f"the decision log did not commit within {timeout:g} s"
                )
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
                    write_decisions(conn, batch.rows, skip_stored=batch.retried)
            self._pause = self._resume_at = 0.0
        except BaseException as exc:  # every waiter must hear about it
            batch.error = exc
            self._requeue(batch, exc)
        finally:
            batch.done.set()

    def _requeue(self, batch: _Batch, exc: BaseException) -> None:
        """Keep the unwaited rows of a failed batch for the next one: a lost connection or a
        restarting database must not silently drop decisions nobody was told about."""
        if not batch.unwaited:
            return
        with self._lock:
            pending = self._batch
            pending.rows[:0] = batch.unwaited
            pending.unwaited[:0] = batch.unwaited
            pending.retried = True
            self._pause = min(max(self._pause * 2, self.interval), RETRY_MAX_S)
            self._resume_at = time.monotonic() + self._pause
        _log.warning(
            "decision log: %d decision(s) not written (%s); trying again in %.1f s",
            len(batch.unwaited),
            type(exc).__name__,
            self._pause,
        )

    def _run(self) -> None:
        with self._lock:
            while True:
                if self._closed and not self._writing and (not self._batch.rows or self._pause):
                    if self._batch.rows:  # closing while the database fails: give up
                        _log.error(
                            "decision log: %d decision(s) not written at close",
                            len(self._batch.rows),
                        )
                    return
                if not self._closed or self._writing:
                    self._lock.wait(max(self.interval, self._resume_at - time.monotonic()))
                if self._batch.rows and not self._writing and time.monotonic() >= self._resume_at:
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
