"""Monthly partitions of the logbook on PostgreSQL: created ahead, listed, dropped by retention.

On PostgreSQL `log_record` is partitioned by RANGE on `start_time_ms` (migration 0014, ADR 14):
one partition per calendar month in UTC, named `log_record_yYYYYmMM`, plus the DEFAULT partition
`log_record_default`. Retention removes a month whose records have all expired by dropping its
partition (see `glazenstad.logbook.retention`), which costs no dead rows, no index maintenance
and no vacuum, where deleting a month row by row costs all three.

A record is never refused for its time: a start time in a month without a partition (years back,
or beyond the months created ahead) lands in the DEFAULT partition. `ensure_partitions` creates
the current month and the next `ahead` months; it runs at application start-up, from
`glazenstad logbook partitions --ensure` (cron) and at the start of every retention run, so a
process that runs for months still finds its months there. When a month is created while the
DEFAULT partition already holds records of that month (the months ahead were not ensured in
time), they are moved into the new partition in the same transaction: PostgreSQL refuses to add
a partition whose range rows in DEFAULT would violate. The move deletes and re-inserts the same
rows (same ids, same hashes), so the append-only trigger lets it through only with the retention
switch set, as for retention itself.

Every partition also gets the TRUNCATE guard: PostgreSQL clones the parent's row triggers (the
UPDATE/DELETE refusal) to partitions, but not its statement triggers.

SQLite has no partitioning: there every function here is a no-op (`ensure_partitions` creates
nothing, `list_partitions` lists nothing).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import psycopg
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from glazenstad.db.base import utcnow

_log = logging.getLogger(__name__)

DEFAULT_AHEAD: Final = 3
DEFAULT_TABLE: Final = "log_record_default"
PARENT: Final = "log_record"
_NAME = re.compile(r"^log_record_y(\d{4})m(\d{2})$")
_BOUNDS = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")
# Creating or attaching a partition needs a strong lock on log_record for a moment; waiting
# longer than this would queue every ingest behind it. The next ensure tries again.
LOCK_TIMEOUT: Final = "5s"
_ENSURE_LOCK: Final = "glazenstad-log-partitions"

TRUNCATE_GUARD = (
    "CREATE TRIGGER log_record_no_truncate BEFORE TRUNCATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION glazenstad_log_append_only()"
)


@dataclass(frozen=True)
class Partition:
    """One partition of log_record: a month [lower_ms, upper_ms), or the DEFAULT partition."""

    name: str
    lower_ms: int | None
    upper_ms: int | None
    rows: int | None = None

    @property
    def is_default(self) -> bool:
        return self.lower_ms is None

    @property
    def month(self) -> str | None:
        """'2026-11' for a monthly partition."""
        if self.lower_ms is None:
            return None
        return ms_to_utc(self.lower_ms).strftime("%Y-%m")


def ms_to_utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def month_start_ms(year: int, month: int) -> int:
    """Milliseconds since the epoch at 00:00 UTC on the first of the month."""
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp()) * 1000


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def month_bounds(year: int, month: int) -> tuple[int, int]:
    """[lower, upper) of a month in milliseconds since the epoch, UTC."""
    return month_start_ms(year, month), month_start_ms(*next_month(year, month))


def partition_name(year: int, month: int) -> str:
    return f"log_record_y{year:04d}m{month:02d}"


def months_from(moment: datetime, count: int) -> list[tuple[int, int]]:
    """The month of `moment` (UTC) and the `count` months after it."""
    utc = moment.astimezone(UTC)
    months = [(utc.year, utc.month)]
    for _ in range(count):
        months.append(next_month(*months[-1]))
    return months


def is_partitioned(conn: Connection) -> bool:
    """Is log_record a partitioned table here (PostgreSQL after migration 0014)?"""
    if conn.dialect.name != "postgresql":
        return False
    found = conn.execute(
        text(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = :parent AND c.relnamespace = to_regnamespace(current_schema())"
        ),
        {"parent": PARENT},
    ).first()
    return found is not None


def partitions(conn: Connection, *, counts: bool = False) -> list[Partition]:
    """The partitions of log_record, months in order and DEFAULT last; rows counted on request."""
    if not is_partitioned(conn):
        return []
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:parent)"
        ),
        {"parent": PARENT},
    ).all()
    found: list[Partition] = []
    for name, bound in rows:
        match = _BOUNDS.search(str(bound))
        if match is None:  # FOR VALUES DEFAULT
            found.append(Partition(str(name), None, None))
        else:
            found.append(Partition(str(name), int(match.group(1)), int(match.group(2))))
    found.sort(key=lambda p: (p.lower_ms is None, p.lower_ms or 0))
    if counts:
        found = [
            Partition(
                p.name,
                p.lower_ms,
                p.upper_ms,
                int(conn.execute(text(f'SELECT count(*) FROM "{p.name}"')).scalar_one()),
            )
            for p in found
        ]
    return found


def list_partitions(engine: Engine, *, counts: bool = True) -> list[Partition]:
    """`partitions` on a connection of its own."""
    with engine.connect() as conn:
        return partitions(conn, counts=counts)


def _name_indexes(conn: Connection, table: str, suffix: str) -> None:
    """Name a partition's indexes after log_record's (`ix_log_record_activity_y2026m11`).

    PostgreSQL generates names from the columns; named after the parent's, a query plan still
    says which of log_record's indexes served it.
    """
    rows = conn.execute(
        text(
            "SELECT child.relname, parent.relname FROM pg_index x "
            "JOIN pg_class child ON child.oid = x.indexrelid "
            "JOIN pg_inherits i ON i.inhrelid = child.oid "
            "JOIN pg_class parent ON parent.oid = i.inhparent "
            "WHERE x.indrelid = to_regclass(:table)"
        ),
        {"table": table},
    ).all()
    for child, parent in rows:
        wanted = f"{parent}_{suffix}"
        if child != wanted:
            conn.execute(text(f'ALTER INDEX "{child}" RENAME TO "{wanted}"'))


def create_default(conn: Connection) -> None:
    """The DEFAULT partition, where records of months without a partition of their own go."""
    conn.execute(text(f"CREATE TABLE {DEFAULT_TABLE} PARTITION OF {PARENT} DEFAULT"))
    conn.execute(text(TRUNCATE_GUARD.format(table=DEFAULT_TABLE)))
    _name_indexes(conn, DEFAULT_TABLE, "default")


def create_month(conn: Connection, year: int, month: int) -> int:
    """Create the partition of one month in the caller's transaction; the records moved into it.

    Records of that month already in DEFAULT are moved: into a new table first, which is then
    attached (PostgreSQL validates the range against DEFAULT when a partition is added).
    """
    name = partition_name(year, month)
    lower, upper = month_bounds(year, month)
    waiting = conn.execute(
        text(
            f"SELECT count(*) FROM {DEFAULT_TABLE} "
            "WHERE start_time_ms >= :lower AND start_time_ms < :upper"
        ),
        {"lower": lower, "upper": upper},
    ).scalar_one()
    if not waiting:
        conn.execute(
            text(
                f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES FROM ({lower}) TO ({upper})"
            )
        )
    else:
        conn.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)"))
        # The same rows, moved: the append-only trigger lets the DELETE through only with the
        # switch; the keys in log_record_key stay, because the records stay.
        conn.execute(text("SET LOCAL glazenstad.retention = 'on'"))
        conn.execute(
            text(
                f"WITH moved AS (DELETE FROM {DEFAULT_TABLE} "
                "WHERE start_time_ms >= :lower AND start_time_ms < :upper RETURNING *) "
                f"INSERT INTO {name} SELECT * FROM moved"
            ),
            {"lower": lower, "upper": upper},
        )
        conn.execute(text("SET LOCAL glazenstad.retention = 'off'"))
        conn.execute(
            text(
                f"ALTER TABLE {PARENT} ATTACH PARTITION {name} "
                f"FOR VALUES FROM ({lower}) TO ({upper})"
            )
        )
    conn.execute(text(TRUNCATE_GUARD.format(table=name)))
    _name_indexes(conn, name, name.removeprefix(f"{PARENT}_"))
    return int(waiting)


def ensure_on(conn: Connection, months: list[tuple[int, int]]) -> list[str]:
    """Create the partitions of `months` that do not exist yet, in the caller's transaction."""
    if not is_partitioned(conn):
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": _ENSURE_LOCK})
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    existing = {p.name for p in partitions(conn)}
    created: list[str] = []
    if DEFAULT_TABLE not in existing:
        create_default(conn)
        created.append(DEFAULT_TABLE)
    for year, month in months:
        name = partition_name(year, month)
        if name not in existing:
            create_month(conn, year, month)
            created.append(name)
    return created


def ensure_partitions(
    engine: Engine,
    *,
    now: datetime | None = None,
    ahead: int = DEFAULT_AHEAD,
    strict: bool = False,
) -> list[str]:
    """Make sure the current month and the next `ahead` months have a partition (and DEFAULT).

    Idempotent, and safe to run from several processes at once (an advisory lock serialises
    them). Returns the partitions it created. A no-op on SQLite.

    When log_record cannot be locked within LOCK_TIMEOUT (a long read or a retention drop in
    progress), nothing is created: with `strict` that raises, otherwise it is logged and the
    next call tries again. Start-up and retention are not strict: a month ahead can wait, and
    records meanwhile go to DEFAULT.
    """
    if ahead < 0:
        raise ValueError("ahead must be 0 or more")
    if engine.dialect.name != "postgresql":
        return []
    try:
        with engine.begin() as conn:
            return ensure_on(conn, months_from(now or utcnow(), ahead))
    except OperationalError as exc:
        if strict or not isinstance(exc.orig, psycopg.errors.LockNotAvailable):
            raise
        _log.warning("log_record partitions not created now: log_record was busy (%s)", exc.orig)
        return []
