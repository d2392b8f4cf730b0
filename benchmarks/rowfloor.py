"""The database floor of a workload: the rows a run stored, copied raw into a fresh database.

No writer can store a workload faster than PostgreSQL takes a raw `COPY` of the same rows into
the same schema, in the same number of transactions. So the execution benchmark reads back
what a scan run or a gateway run stored and copies it, as PostgreSQL's own COPY text (nothing
converted in Python), table by table and batch by batch, each batch committed, into a freshly
migrated database: its triggers, key tables, indexes and partitions all do their work, as for
the real writer. The rate that gives, in scans or requests per second, is what this machine's
database alone can take of that workload; a target above it is out of reach for any writer.

What the floor leaves out, and so what makes it a floor: building the rows (decisions,
pseudonyms, hash chains), reading before writing (duplicate checks, the register's versions,
the chain head's lock) and updating the chain head.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import make_url

from benchmarks.logbook import Database
from glazenstad.db.engine import make_engine, migrate


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def table_counts(url: str) -> dict[str, int]:
    """Rows per table of the public schema (a partitioned table counted once, as its parent)."""
    with psycopg.connect(libpq_url(url)) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
            )
        ]
        counts: dict[str, int] = {}
        for name in tables:
            row = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()
            counts[name] = int(row[0]) if row else 0
        return counts


def grown(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The tables a run added rows to, and how many."""
    return {t: n - before.get(t, 0) for t, n in sorted(after.items()) if n > before.get(t, 0)}


def _copied_columns(conn: psycopg.Connection, table: str) -> list[str]:
    """The columns a writer gives: all but those a sequence or identity fills."""
    return [
        name
        for name, default, identity in conn.execute(
            "SELECT column_name, column_default, is_identity FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            (table,),
        )
        if identity != "YES" and not (default or "").startswith("nextval(")
    ]


def _rows(conn: psycopg.Connection, table: str, columns: list[str]) -> list[bytes]:
    """Every row of `table` as a line of COPY text."""
    listed = ", ".join(columns)
    lines: list[bytes] = []
    with (
        conn.cursor() as cursor,
        cursor.copy(f"COPY (SELECT {listed} FROM {table}) TO STDOUT") as copy,
    ):
        for line in copy:  # libpq hands over one row at a time
            lines.append(bytes(line))
    return lines


@dataclass(frozen=True)
class Floor:
    seconds: float
    rows: int  # copied
    filled: dict[str, int]  # rows each table of the fresh database gained: copied or by trigger


def copy_floor(
    source: Database,
    tables: Sequence[str],
    batches: int,
    fresh_database: Callable[[], Database],
    before: Callable[[Database], None] = lambda _: None,
) -> Floor:
    """COPY `tables`' rows of `source` into a fresh database in `batches` committed batches,
    each batch a slice of every table, and time it.

    `fresh_database` makes the database (dropped here afterwards); `before` runs just before
    the clock starts (a checkpoint, so that every phase starts alike).
    """
    if source.kind != "postgresql":
        raise ValueError("the floor is measured on PostgreSQL")
    data: list[tuple[str, list[str], list[bytes]]] = []
    with psycopg.connect(libpq_url(source.url)) as conn:
        for table in tables:
            columns = _copied_columns(conn, table)
            data.append((table, columns, _rows(conn, table, columns)))
    batches = max(1, batches)
    plan = [
        [
            (
                f"COPY {table} ({', '.join(columns)}) FROM STDIN",
                lines[len(lines) * i // batches : len(lines) * (i + 1) // batches],
            )
            for table, columns, lines in data
        ]
        for i in range(batches)
    ]
    target = fresh_database()
    try:
        engine = make_engine(target.url)
        migrate(engine)
        engine.dispose()
        empty = table_counts(target.url)
        with psycopg.connect(libpq_url(target.url)) as conn:
            before(target)
            started = time.perf_counter()
            for batch in plan:
                with conn.cursor() as cursor:
                    for sql, lines in batch:
                        if lines:
                            with cursor.copy(sql) as copy:
                                for line in lines:
                                    copy.write(line)
                conn.commit()
            elapsed = time.perf_counter() - started
        filled = grown(empty, table_counts(target.url))
    finally:
        target.drop()
    return Floor(elapsed, sum(len(lines) for _, _, lines in data), filled)
