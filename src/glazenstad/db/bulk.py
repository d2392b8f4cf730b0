"""Bulk inserts that skip rows already stored and say which rows were new.

A pipeline writing hundreds of rows per batch wants `INSERT ... ON CONFLICT DO NOTHING
RETURNING <key>`: one statement, and it learns which rows are new (their follow-up rows, such
as an enforcement case, are written only for those). SQLAlchemy sends such a batch as one
multi-row VALUES statement whose text differs with the batch size; on PostgreSQL psycopg
parses that text anew every time, which cost more than the database took to insert the rows.
So on PostgreSQL the rows go as one array per column through `unnest`: a short statement
that is the same for every batch, whatever its size. SQLite keeps SQLAlchemy's statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table

from glazenstad.db.dialect import dialect_insert


def insert_new(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> set[tuple[Any, ...]]:
    """Insert the `rows` whose `key` columns (a unique constraint) are not stored yet; returns
    the keys of the rows inserted. All rows have the same columns."""
    if not rows:
        return set()
    if conn.dialect.name != "postgresql":
        insert = dialect_insert(conn, table).on_conflict_do_nothing(index_elements=list(key))
        returning = insert.returning(*(table.c[name] for name in key))
        return {tuple(r) for r in conn.execute(returning, list(rows))}
    names = list(rows[0])
    arrays: dict[str, list[Any]] = {}
    casts: list[str] = []
    for n, name in enumerate(names):
        column = table.c[name]
        bind = column.type.bind_processor(conn.dialect)
        values = [row[name] for row in rows]
        arrays[f"c{n}"] = values if bind is None else [bind(v) for v in values]
        casts.append(f"%(c{n})s::{column.type.compile(dialect=conn.dialect)}[]")
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"SELECT * FROM unnest({', '.join(casts)}) "
        f"ON CONFLICT ({', '.join(key)}) DO NOTHING RETURNING {', '.join(key)}"
    )
    return {tuple(r) for r in conn.exec_driver_sql(sql, arrays)}
