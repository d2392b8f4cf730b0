"""Monthly partitions of the decision log on PostgreSQL: created ahead, listed, dropped by month.

On PostgreSQL `decision_log` is partitioned by RANGE on `decided_at` (migration 0015, ADR 16):
one partition per calendar month in UTC, named `decision_log_yYYYYmMM`, plus the DEFAULT
partition `decision_log_default`. The machinery is the logbook's
(`glazenstad.logbook.partitions`, ADR 14), given this table: the current month and the next
three are created at application start-up and by `glazenstad logbook partitions --ensure`; a
decision is never refused for its time (a month without a partition lands in DEFAULT, and moves
into the month's partition when that is created).

A decision id stays unique across all months: the unpartitioned table `decision_log_key` holds
every stored id (primary key `uq_decision_log_decision_id`), filled by a statement trigger on
`decision_log`. Dropping a month deletes its ids from that table.

The decision log has no retention period yet; `drop_months_before` is the mechanism a retention
rule would use, so removing a month costs no dead rows, no index maintenance and no vacuum.

SQLite has no partitioning: every function here is a no-op there.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from glazenstad.logbook import partitions
from glazenstad.logbook.partitions import MonthlyTable, Partition

_log = logging.getLogger(__name__)

DECISION_LOG: Final = MonthlyTable(
    parent="decision_log",
    column="decided_at",
    lock_key="glazenstad-decision-partitions",
    timestamp=True,
)
KEY_TABLE: Final = "decision_log_key"


def ensure_decision_partitions(
    engine: Engine,
    *,
    now: datetime | None = None,
    ahead: int = partitions.DEFAULT_AHEAD,
    strict: bool = False,
) -> list[str]:
    """The decision log's current month and the next `ahead` (and DEFAULT); the ones created.

    See `glazenstad.logbook.partitions.ensure_partitions`: idempotent, safe from several
    processes, gives up after the lock timeout unless `strict`. A no-op on SQLite.
    """
    return partitions.ensure_partitions(
        engine, now=now, ahead=ahead, strict=strict, table=DECISION_LOG
    )


def list_decision_partitions(engine: Engine, *, counts: bool = True) -> list[Partition]:
    """The decision log's partitions, months in order and DEFAULT last, with their rows."""
    return partitions.list_partitions(engine, counts=counts, table=DECISION_LOG)


def drop_months_before(engine: Engine, before: datetime) -> list[str]:
    """Drop every monthly partition of the decision log that ends at or before `before`.

    The mechanism for a retention period of the decision log, which does not exist yet: whole
    months go with DROP TABLE instead of a DELETE per decision. DEFAULT is never dropped, so a
    decision of a month without a partition stays. Per partition, one transaction: the ids of
    its decisions leave `decision_log_key` first (decision_log not yet locked, so writers do not
    wait for that), then, with decision_log locked, the partition must still hold exactly that
    many decisions (a decision written into it meanwhile would keep its id otherwise: it is
    then left for the next call), and is detached and dropped.

    A partition that cannot be locked within the lock timeout (a long read, or a writer storing
    a decision of that month again at that moment) is logged and left for the next call.
    Returns the partitions dropped; on SQLite an empty list.
    """
    limit_ms = int(before.timestamp() * 1000)
    dropped: list[str] = []
    for candidate in list_decision_partitions(engine, counts=False):
        if candidate.upper_ms is None or candidate.upper_ms > limit_ms:
            continue
        name = candidate.name
        try:
            with engine.connect() as conn:
                conn.execute(text(f"SET LOCAL lock_timeout = '{partitions.LOCK_TIMEOUT}'"))
                ids = conn.execute(
                    text(
                        f'DELETE FROM {KEY_TABLE} k USING "{name}" d '
                        "WHERE k.decision_id = d.decision_id"
                    )
                ).rowcount
                conn.execute(text(f"LOCK TABLE {DECISION_LOG.parent} IN ACCESS EXCLUSIVE MODE"))
                rows = conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
                if int(rows) != ids:
                    conn.rollback()
                    _log.warning("decision log: %s changed while dropping it; kept", name)
                    continue
                conn.execute(text(f'ALTER TABLE {DECISION_LOG.parent} DETACH PARTITION "{name}"'))
                conn.execute(text(f'DROP TABLE "{name}"'))
                conn.commit()
        except OperationalError as exc:
            if not isinstance(
                exc.orig, psycopg.errors.LockNotAvailable | psycopg.errors.DeadlockDetected
            ):
                raise
            _log.warning("decision log: partition %s not dropped now (%s)", name, exc.orig)
            continue
        dropped.append(name)
    return dropped
