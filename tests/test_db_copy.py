"""`COPY` in a SQLAlchemy transaction: values as text, the driver's errors as SQLAlchemy's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from glazenstad.db.copy import copy_lines, copy_text, copy_timestamp
from glazenstad.db.engine import make_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (k text PRIMARY KEY, v text, at timestamptz)"))
    yield engine
    engine.dispose()


def test_text_and_moments_arrive_as_given(pg: Engine) -> None:
    values = [None, "", "plain", "tab\there", "new\nline", "cr\rhere", "back\\slash", "\\N", "é€"]
    moment = datetime(2026, 10, 25, 2, 30, 0, 1, tzinfo=timezone(timedelta(hours=2)))
    lines = [
        f"{n}\t{copy_text(value)}\t{copy_timestamp(moment)}\n" for n, value in enumerate(values)
    ]
    with pg.begin() as conn:
        copy_lines(conn, "COPY t (k, v, at) FROM STDIN", lines)
    with pg.connect() as conn:
        rows = conn.execute(text("SELECT k, v, at FROM t ORDER BY k::int")).all()
    assert [r.v for r in rows] == values
    assert {r.at for r in rows} == {datetime(2026, 10, 25, 0, 30, 0, 1, tzinfo=UTC)}


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        copy_timestamp(datetime(2026, 1, 1))


def test_a_duplicate_key_is_an_integrity_error_and_nothing_is_kept(pg: Engine) -> None:
    with pytest.raises(IntegrityError, match="t_pkey"), pg.begin() as conn:
        copy_lines(conn, "COPY t (k) FROM STDIN", ["a\n", "b\n", "a\n"])
    with pg.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0


def test_a_lost_connection_is_invalidated_and_the_next_one_works(pg: Engine) -> None:
    with pg.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with pg.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(OperationalError) as caught:
            copy_lines(conn, "COPY t (k) FROM STDIN", ["a\n"])
        assert caught.value.connection_invalidated and conn.invalidated
    with pg.begin() as conn:  # the pool hands out a live connection
        copy_lines(conn, "COPY t (k) FROM STDIN", ["a\n"])
    with pg.connect() as conn:
        assert conn.execute(text("SELECT k FROM t")).scalars().all() == ["a"]
