"""Reading recorded decisions of a period from the decision log, in chunks.

A replay reads every row of a period, so it reads only the five columns it needs, as text (the
JSON columns are cast to text in SQL: decoding them is the replay's own job, done once, with a
typed decoder), and streams them: SQLite steps its cursor as rows are consumed, PostgreSQL
uses a server-side (named) cursor, so memory holds one chunk, not the period.

The query is built with SQLAlchemy Core and compiled for the connection's dialect, its
parameters processed by their column types as SQLAlchemy would; the rows are then fetched from
the driver's cursor as plain tuples. SQLAlchemy's result rows cost about a microsecond each,
which for a million rows was a fifth of a whole replay.

`prefetched` reads the next chunks in a thread while the replay works on the current one, so
that PostgreSQL (its own process) reads and sends rows at the same time as the replay's Python
works on them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Select, Text, cast, func, select

from glazenstad.insight.impact_replay import Row
from glazenstad.rules.tables import decision_log

CHUNK = 20_000
T = TypeVar("T")

_ROW_COLUMNS = (
    decision_log.c.id,
    cast(decision_log.c.request, Text),
    decision_log.c.effect,
    decision_log.c.reason,
    cast(decision_log.c.rules, Text),
)


def _period(organisation: str, since: datetime, until: datetime) -> tuple[Any, ...]:
    return (
        decision_log.c.organisation_id == organisation,
        decision_log.c.decided_at >= since,
        decision_log.c.decided_at < until,
    )


def count_rows(engine: Engine, organisation: str, since: datetime, until: datetime) -> int:
    """How many decisions the period holds (for a progress bar; an index-only count)."""
    with engine.connect() as conn:
        found = conn.execute(
            select(func.count())
            .select_from(decision_log)
            .where(*_period(organisation, since, until))
        ).scalar_one()
    return int(found)


def _driver_query(conn: Connection, query: Select[Any]) -> tuple[str, Any]:
    """SQL text and parameters of `query` for this connection's driver."""
    dialect = conn.dialect
    compiled = query.compile(dialect=dialect)
    values: dict[str, Any] = {}
    for name, value in compiled.params.items():
        processor = compiled.binds[name].type.bind_processor(dialect)
        values[name] = processor(value) if processor else value
    if compiled.positional:
        return compiled.string, tuple(values[name] for name in compiled.positiontup or ())
    return compiled.string, values


def stream_rows(
    engine: Engine, organisation: str, since: datetime, until: datetime, chunk: int = CHUNK
) -> Generator[list[Row], None, None]:
    """The period's decisions as chunks of `Row` tuples, in no particular order."""
    query = select(*_ROW_COLUMNS).where(*_period(organisation, since, until))
    with engine.connect() as conn:
        sql, parameters = _driver_query(conn, query)
        driver = conn.connection.driver_connection
        assert driver is not None
        if conn.dialect.name == "postgresql":
            cursor = driver.cursor(name="impact_replay")  # server-side: rows come per fetch
        else:
            cursor = driver.cursor()
        try:
            cursor.execute(sql, parameters)
            while True:
                rows = cursor.fetchmany(chunk)
                if not rows:
                    break
                yield rows
        finally:
            cursor.close()  # the pool rolls back the read transaction on return


def prefetched(chunks: Generator[T, None, None], depth: int = 2) -> Iterator[T]:
    """`chunks`, produced by a reader thread up to `depth` ahead of the consumer.

    The generator runs (and is closed) in the reader thread only, so a database connection it
    holds never changes threads. An error in the reader is raised in the consumer; a consumer
    that stops early stops the reader.
    """
    handover: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def hand(kind: str, value: Any) -> bool:
        while not stopped.is_set():
            try:
                handover.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in chunks:
                if not hand("chunk", item):
                    return
            hand("end", None)
        except BaseException as exc:  # handed to the consumer, who raises it
            hand("error", exc)
        finally:
            chunks.close()

    reader = threading.Thread(target=read, name="impact-replay-reader", daemon=True)
    reader.start()
    try:
        while True:
            kind, value = handover.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stopped.set()
        reader.join()


def rows_by_id(engine: Engine, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """A few whole rows (for examples and for requests without a moment of their own)."""
    found: dict[int, dict[str, Any]] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            batch = list(ids[start : start + 500])
            query = select(
                decision_log.c.id,
                decision_log.c.decision_id,
                decision_log.c.decided_at,
                cast(decision_log.c.request, Text).label("request_text"),
                decision_log.c.effect,
                decision_log.c.reason,
                cast(decision_log.c.rules, Text).label("rules_text"),
            ).where(decision_log.c.id.in_(batch))
            for row in conn.execute(query):
                found[row.id] = dict(row._mapping)
    return found
