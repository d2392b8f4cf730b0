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

The same machinery serves every table partitioned this way: each function takes the table as a
`MonthlyTable` (default: `LOG_RECORD`). The decision log is the other one (migration 0015,
ADR 16; see `glazenstad.rules.partitions`), partitioned on a timestamp column instead of
milliseconds, without append-only guards.

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
# A range bound as pg_get_expr shows it: a number, or a quoted timestamp with its offset.
_BOUNDS = re.compile(r"FROM \('?([^')]+)'?\) TO \('?([^')]+)'?\)")
_INTEGER = re.compile(r"-?\d+")
# Creating or attaching a partition needs a strong lock on the parent table for a moment;
# waiting longer than this would queue every ingest (or decision) behind it. The next ensure
# tries again.
LOCK_TIMEOUT: Final = "5s"
_ENSURE_LOCK: Final = "glazenstad-log-partitions"

TRUNCATE_GUARD = (
    "CREATE TRIGGER log_record_no_truncate BEFORE TRUNCATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION glazenstad_log_append_only()"
)


@dataclass(frozen=True)
class MonthlyTable:
    """A table partitioned by RANGE on a time column, one partition per calendar month (UTC).

    `column` holds milliseconds since the epoch, or with `timestamp` a timestamptz. `guard` is
    run for every new partition (`{table}` filled in): PostgreSQL clones row triggers to
    partitions but not statement triggers. `append_only`: the table's row trigger refuses
    DELETE unless the retention switch is set, which moving rows out of DEFAULT needs.
    """

    parent: str
    column: str
    lock_key: str
    timestamp: bool = False
    guard: str | None = None
    append_only: bool = False

    @property
    def default_table(self) -> str:
        return f"{self.parent}_default"

    def partition_name(self, year: int, month: int) -> str:
        return f"{self.parent}_y{year:04d}m{month:02d}"

    def literal(self, ms: int) -> str:
        """A bound as SQL: the number, or a timestamp in UTC (the same in every time zone)."""
        if not self.timestamp:
            return str(ms)
        return f"'{ms_to_utc(ms).strftime('%Y-%m-%d %H:%M:%S')}+00'"

    def value(self, ms: int) -> int | datetime:
        """A bound as a query parameter for `column`."""
        return ms_to_utc(ms) if self.timestamp else ms


LOG_RECORD: Final = MonthlyTable(
    parent=PARENT,
    column="start_time_ms",
    lock_key=_ENSURE_LOCK,
    guard=TRUNCATE_GUARD,
    append_only=True,
)


@dataclass(frozen=True)
class Partition:
    """One partition: a month [lower_ms, upper_ms) (whatever the column's type), or DEFAULT."""

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
    """The name of log_record's partition of a month (`log_record_y2026m11`)."""
    return LOG_RECORD.partition_name(year, month)


def months_from(moment: datetime, count: int) -> list[tuple[int, int]]:
    """The month of `moment` (UTC) and the `count` months after it."""
    utc = moment.astimezone(UTC)
    months = [(utc.year, utc.month)]
    for _ in range(count):
        months.append(next_month(*months[-1]))
    return months


def _bound_ms(bound: str) -> int:
    if _INTEGER.fullmatch(bound):
        return int(bound)
    return int(datetime.fromisoformat(bound).timestamp() * 1000)


def is_partitioned(conn: Connection, table: MonthlyTable = LOG_RECORD) -> bool:
    """Is the table partitioned here (PostgreSQL after its migration: 0014, 0015)?"""
    if conn.dialect.name != "postgresql":
        return False
    found = conn.execute(
        text(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = :parent AND c.relnamespace = to_regnamespace(current_schema())"
        ),
        {"parent": table.parent},
    ).first()
    return found is not None


def partitions(
    conn: Connection, *, counts: bool = False, table: MonthlyTable = LOG_RECORD
) -> list[Partition]:
    """The partitions of the table, months in order and DEFAULT last; rows counted on request."""
    if not is_partitioned(conn, table):
        return []
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:parent)"
        ),
        {"parent": table.parent},
    ).all()
    found: list[Partition] = []
    for name, bound in rows:
        match = _BOUNDS.search(str(bound))
        if match is None:  # FOR VALUES DEFAULT
            found.append(Partition(str(name), None, None))
        else:
            lower, upper = _bound_ms(match.group(1)), _bound_ms(match.group(2))
            found.append(Partition(str(name), lower, upper))
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


def list_partitions(
    engine: Engine, *, counts: bool = True, table: MonthlyTable = LOG_RECORD
) -> list[Partition]:
    """`partitions` on a connection of its own."""
    with engine.connect() as conn:
        return partitions(conn, counts=counts, table=table)


def _name_indexes(conn: Connection, table: str, suffix: str) -> None:
    """Name a partition's indexes after its parent's (`ix_log_record_activity_y2026m11`).

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


def create_default(conn: Connection, table: MonthlyTable = LOG_RECORD) -> None:
    """The DEFAULT partition, where rows of months without a partition of their own go."""
    default = table.default_table
    conn.execute(text(f"CREATE TABLE {default} PARTITION OF {table.parent} DEFAULT"))
    if table.guard:
        conn.execute(text(table.guard.format(table=default)))
    _name_indexes(conn, default, "default")


def create_month(conn: Connection, year: int, month: int, table: MonthlyTable = LOG_RECORD) -> int:
    """Create the partition of one month in the caller's transaction; the rows moved into it.

    Rows of that month already in DEFAULT are moved: into a new table first, which is then
    attached (PostgreSQL validates the range against DEFAULT when a partition is added).
    """
    name = table.partition_name(year, month)
    lower, upper = month_bounds(year, month)
    in_month = f"{table.column} >= :lower AND {table.column} < :upper"
    params = {"lower": table.value(lower), "upper": table.value(upper)}
    bounds = f"FOR VALUES FROM ({table.literal(lower)}) TO ({table.literal(upper)})"
    waiting = conn.execute(
        text(f"SELECT count(*) FROM {table.default_table} WHERE {in_month}"), params
    ).scalar_one()
    if not waiting:
        conn.execute(text(f"CREATE TABLE {name} PARTITION OF {table.parent} {bounds}"))
    else:
        conn.execute(text(f"CREATE TABLE {name} (LIKE {table.parent} INCLUDING DEFAULTS)"))
        # The same rows, moved: an append-only trigger lets the DELETE through only with the
        # switch. Statement triggers of the parent do not fire for a partition named directly,
        # so unique keys kept in a key table (log_record_key, decision_log_key) stay, because
        # the rows stay.
        if table.append_only:
            conn.execute(text("SET LOCAL glazenstad.retention = 'on'"))
        conn.execute(
            text(
                f"WITH moved AS (DELETE FROM {table.default_table} WHERE {in_month} "
                f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
            ),
            params,
        )
        if table.append_only:
            conn.execute(text("SET LOCAL glazenstad.retention = 'off'"))
        conn.execute(text(f"ALTER TABLE {table.parent} ATTACH PARTITION {name} {bounds}"))
    if table.guard:
        conn.execute(text(table.guard.format(table=name)))
    _name_indexes(conn, name, name.removeprefix(f"{table.parent}_"))
    return int(waiting)


def ensure_on(
    conn: Connection, months: list[tuple[int, int]], table: MonthlyTable = LOG_RECORD
) -> list[str]:
    """Create the partitions of `months` that do not exist yet, in the caller's transaction."""
    if not is_partitioned(conn, table):
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": table.lock_key})
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    existing = {p.name for p in partitions(conn, table=table)}
    created: list[str] = []
    if table.default_table not in existing:
        create_default(conn, table)
        created.append(table.default_table)
    for year, month in months:
        name = table.partition_name(year, month)
        if name not in existing:
            create_month(conn, year, month, table)
            created.append(name)
    return created


def ensure_partitions(
    engine: Engine,
    *,
    now: datetime | None = None,
    ahead: int = DEFAULT_AHEAD,
    strict: bool = False,
    table: MonthlyTable = LOG_RECORD,
) -> list[str]:
    """Make sure the current month and the next `ahead` months have a partition (and DEFAULT).

    Idempotent, and safe to run from several processes at once (an advisory lock serialises
    them). Returns the partitions it created. A no-op on SQLite.

    When the table cannot be locked within LOCK_TIMEOUT (a long read or a retention drop in
    progress), nothing is created: with `strict` that raises, otherwise it is logged and the
    next call tries again. Start-up and retention are not strict: a month ahead can wait, and
    rows meanwhile go to DEFAULT.
    """
    if ahead < 0:
        raise ValueError("ahead must be 0 or more")
    if engine.dialect.name != "postgresql":
        return []
    try:
        with engine.begin() as conn:
            return ensure_on(conn, months_from(now or utcnow(), ahead), table)
    except OperationalError as exc:
        if strict or not isinstance(exc.orig, psycopg.errors.LockNotAvailable):
            raise
        _log.warning(
            "%s partitions not created now: the table was busy (%s)", table.parent, exc.orig
        )
        return []
