"""The logbook in aggregate: one GROUP BY over an organisation's log records feeds most checks.

A logbook holds millions of records; the checks never load them. One query groups the records
by what the checks judge them on (activity URI, whether it resolved at ingest, the activity
version, the retention outcome the record names) and returns per group the count, the time
range, and the largest deletion lateness that execution pipelines reported in the window. What
is then per group (register versions, retention rules) is looked up in Python, group by group,
and only a group that is partly past its retention term needs one more, indexed, COUNT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Engine, and_, case, func, select

from glazenstad.insight.compliance.model import Example
from glazenstad.logbook.record import ms_to_datetime
from glazenstad.logbook.retention import OUTCOME_ATTRIBUTE
from glazenstad.logbook.tables import log_deletion_receipt, log_record

# Written by pipelines that delete data under the register's retention and log each run
# (see glazenstad.execution.parking.retention): seconds past term of the latest-due deletion.
LATENESS_ATTRIBUTE: Final = "glazenstad.retention_lateness_s"


@dataclass(frozen=True)
class LogGroup:
    uri: str
    known: bool
    version: int | None
    outcome: Any
    count: int
    first_start_ms: int
    last_start_ms: int
    min_end_ms: int
    max_end_ms: int
    deletion_lateness_s: float | None
    """The largest lateness pipelines reported in this group's records in the window."""


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _outcome() -> Any:
    return log_record.c.attributes[OUTCOME_ATTRIBUTE].as_string()


def _organisation(engine: Engine, organisation_id: str) -> Any:
    """The organisation's records, read in table order on SQLite.

    SQLite would otherwise walk the activity index and fetch every row by its id in index
    order, which on a million records took twice as long as reading the table straight through
    and sorting the groups (measured with benchmarks/compliance.py). PostgreSQL plans this
    itself (a sequential or bitmap scan and a hash aggregate).
    """
    column = log_record.c.organisation_id
    if engine.dialect.name == "sqlite":
        return column.concat("") == organisation_id  # an expression: no index is used
    return column == organisation_id


def log_groups(
    engine: Engine, organisation_id: str, now: datetime, window_start: datetime
) -> list[LogGroup]:
    """The organisation's records that started at or before `now`, grouped."""
    t = log_record
    outcome = _outcome().label("outcome")
    lateness = func.max(
        case(
            (
                t.c.start_time_ms >= epoch_ms(window_start),
                t.c.attributes[LATENESS_ATTRIBUTE].as_float(),
            ),
            else_=None,
        )
    )
    query = (
        select(
            t.c.processing_activity_id,
            t.c.activity_known,
            t.c.activity_version,
            outcome,
            func.count().label("n"),
            func.min(t.c.start_time_ms),
            func.max(t.c.start_time_ms),
            func.min(t.c.end_time_ms),
            func.max(t.c.end_time_ms),
            lateness,
        )
        .where(_organisation(engine, organisation_id), t.c.start_time_ms <= epoch_ms(now))
        .group_by(t.c.processing_activity_id, t.c.activity_known, t.c.activity_version, outcome)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        LogGroup(
            uri=str(r[0]),
            known=bool(r[1]),
            version=int(r[2]) if r[2] is not None else None,
            outcome=r[3],
            count=int(r[4]),
            first_start_ms=int(r[5]),
            last_start_ms=int(r[6]),
            min_end_ms=int(r[7]),
            max_end_ms=int(r[8]),
            deletion_lateness_s=float(r[9]) if r[9] is not None else None,
        )
        for r in rows
    ]


def _same_group(group: LogGroup) -> Any:
    """The records of `group` among those of its activity URI."""
    t = log_record
    return and_(
        t.c.activity_known.is_(group.known),
        t.c.activity_version.is_(None)
        if group.version is None
        else t.c.activity_version == group.version,
        _outcome().is_(None) if group.outcome is None else _outcome() == group.outcome,
    )


def count_ended_by(
    engine: Engine,
    organisation_id: str,
    uri: str,
    bounds: list[tuple[LogGroup, int]],
    now: datetime,
) -> list[int]:
    """Per (group, end_ms) of one activity URI: its records that ended at or before end_ms.

    One statement per URI, whatever the number of its groups: a record counts when it ended by
    the bound of the group it belongs to. A record never ends before it starts, so the bounds
    also limit the range read from the (organisation, activity, start time) index.
    """
    t = log_record
    labels = [f"g{n}" for n in range(len(bounds))]
    query = select(
        *(
            func.count(case((and_(_same_group(g), t.c.end_time_ms <= end_ms), 1))).label(label)
            for (g, end_ms), label in zip(bounds, labels, strict=True)
        )
    ).where(
        t.c.organisation_id == organisation_id,
        t.c.processing_activity_id == uri,
        t.c.start_time_ms <= min(epoch_ms(now), max(end_ms for _, end_ms in bounds)),
    )
    with engine.connect() as conn:
        row = conn.execute(query).one()
    return [int(row._mapping[label]) for label in labels]


def record_examples(
    engine: Engine,
    organisation_id: str,
    uri: str,
    now: datetime,
    *,
    versions: list[int] | None = None,
    ended_by_ms: int | None = None,
    limit: int = 3,
) -> tuple[Example, ...]:
    """The newest few records of an activity URI (optionally of some versions only)."""
    t = log_record
    query = (
        select(t.c.trace_id, t.c.span_id, t.c.name, t.c.start_time_ms)
        .where(
            t.c.organisation_id == organisation_id,
            t.c.processing_activity_id == uri,
            t.c.start_time_ms <= epoch_ms(now),
        )
        .order_by(t.c.start_time_ms.desc())
        .limit(limit)
    )
    if versions is not None:
        query = query.where(t.c.activity_version.in_(versions))
    if ended_by_ms is not None:
        query = query.where(t.c.end_time_ms <= ended_by_ms).order_by(None).order_by(t.c.end_time_ms)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return tuple(
        Example(
            "log-record",
            f"{r.trace_id}/{r.span_id}",
            ms_to_datetime(int(r.start_time_ms)),
            str(r.name)[:200],
        )
        for r in rows
    )


def deleted_uris(engine: Engine, organisation_id: str, now: datetime) -> set[str]:
    """Activity URIs that retention removed records of (from the deletion receipts)."""
    r = log_deletion_receipt
    query = select(r.c.by_activity).where(r.c.organisation_id == organisation_id, r.c.ran_at <= now)
    found: set[str] = set()
    with engine.connect() as conn:
        for (by_activity,) in conn.execute(query):
            if isinstance(by_activity, dict):
                found.update(str(uri) for uri in by_activity)
    return found
