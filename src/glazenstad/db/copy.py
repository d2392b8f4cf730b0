"""PostgreSQL `COPY ... FROM STDIN` in text format, inside a SQLAlchemy transaction.

`COPY` takes a batch of rows in one statement that the server does not plan per row: for the
append-only tables written on hot paths (log records, decisions) it takes a fraction of the
database's time and of the client's CPU that a pipelined multi-row INSERT does, because no
parameter is bound, typed or sent on its own. Callers build each line themselves, with the
values they already hold as text, and write the lines here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

NULL: Final = "\\N"
_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def copy_text(value: str | None) -> str:
    """A value in COPY text format: NULL as \\N, the four special characters escaped."""
    if value is None:
        return NULL
    if "\\" in value or "\n" in value or "\r" in value or "\t" in value:
        return value.translate(_ESCAPES)
    return value


def copy_timestamp(moment: datetime) -> str:
    """A timezone-aware moment as text PostgreSQL reads into timestamptz exactly (UTC, µs)."""
    if moment.tzinfo is None:
        raise ValueError("a timestamp for COPY must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def copy_lines(conn: Connection, sql: str, lines: Iterable[str]) -> None:
    """Run `sql` (a `COPY <table> (<columns>) FROM STDIN`) with `lines`, each ending in a newline,
    in the transaction of `conn`.

    The driver's errors come out as SQLAlchemy's, as from any other statement on `conn`: a
    duplicate key is an `IntegrityError` its callers already handle, and a lost connection is
    invalidated so that the pool does not hand it out again.
    """
    driver: Any = conn.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            copy.write("".join(lines))
    except psycopg.Error as exc:
        error: Any = exc  # the dialect's DBAPI error protocol, which psycopg's errors fulfil
        lost = conn.dialect.is_disconnect(error, driver, None)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql, None, exc, psycopg.Error, connection_invalidated=lost, dialect=conn.dialect
        ) from exc
