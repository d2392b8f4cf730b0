"""`insert_new`: bulk inserts that skip stored rows and report the new ones, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    select,
)
from sqlalchemy.exc import StatementError

from glazenstad.db.base import UTCDateTime
from glazenstad.db.bulk import insert_new

metadata = MetaData()
sample = Table(
    "bulk_sample",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org", String(20), nullable=False),
    Column("ref", String(20), nullable=False),
    Column("value", Float(precision=53), nullable=True),
    Column("at", UTCDateTime(), nullable=True),
    UniqueConstraint("org", "ref"),
)
KEY = ("org", "ref")


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    metadata.create_all(engine)
    yield engine
    metadata.drop_all(engine)


def row(ref: str, value: float | None = 1.5, at: datetime | None = None) -> dict[str, Any]:
    return {"org": "o", "ref": ref, "value": value, "at": at}


def stored(engine: Engine) -> dict[str, tuple[Any, Any]]:
    with engine.connect() as conn:
        return {r.ref: (r.value, r.at) for r in conn.execute(select(sample))}


def test_only_new_rows_are_inserted_and_reported(db: Engine) -> None:
    summer = datetime(2026, 7, 1, 12, 0, 0, 250, tzinfo=timezone(timedelta(hours=2)))
    with db.begin() as conn:
        assert insert_new(conn, sample, [row("a", at=summer), row("b", None)], KEY) == {
            ("o", "a"),
            ("o", "b"),
        }
    with db.begin() as conn:  # "a" again, with other values: the stored row is kept
        assert insert_new(conn, sample, [row("a", 9.0), row("c", -0.1)], KEY) == {("o", "c")}
        assert insert_new(conn, sample, [], KEY) == set()
    assert stored(db) == {
        "a": (1.5, datetime(2026, 7, 1, 10, 0, 0, 250, tzinfo=UTC)),
        "b": (None, None),
        "c": (-0.1, None),
    }


def test_a_naive_moment_is_refused_and_nothing_is_written(db: Engine) -> None:
    with pytest.raises((StatementError, ValueError), match="timezone-aware"), db.begin() as conn:
        insert_new(conn, sample, [row("a"), row("b", at=datetime(2026, 1, 1))], KEY)
    assert stored(db) == {}
