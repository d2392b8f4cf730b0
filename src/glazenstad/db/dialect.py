"""SQL that differs between the two databases we support, written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite


def dialect_insert(conn: Connection, table: Any) -> Any:
    """An INSERT that knows ON CONFLICT (DO NOTHING / DO UPDATE), on SQLite and PostgreSQL."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"database {conn.dialect.name!r} is not supported (SQLite or PostgreSQL)")
