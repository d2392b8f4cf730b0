"""Retention of the scan-car pipeline: delete scans and cases whose term has passed.

Paid scans carry `delete_after` (scan time + the register's period for "betaald") from the moment
they are stored; unpaid scans and their cases get it when the enforcer's judgement fixes their
outcome. The job deletes every row past its term, in one transaction, and never copies it
anywhere first: a paid scan is not archived. `now` is an argument so the job (and its tests)
decide what "now" is; the command line passes the wall clock.

Deleting is itself processing, so each run writes one LDV record per organisation (how many
scans and cases went, how late the latest-due deletion was). It carries no data subject: by
then the pipeline holds only pseudonyms, and the plates are gone. It is not a decision: the
register's retention obliges the deletion, no rule may permit or forbid it.

The logbook keeps its own records under its own retention (`glazenstad.logbook.retention`): the
records of a paid scan carry the outcome "betaald" and go after the same period there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select

from glazenstad.execution.parking.pipeline import activity_uri
from glazenstad.execution.parking.tables import parking_case, parking_scan
from glazenstad.logbook.record import LogRecord
from glazenstad.logbook.store import LogStore
from glazenstad.logbook.traceids import new_span_id, new_trace_id

DELETION_NAME = "Verlopen scans en handhavingszaken verwijderd (bewaartermijn)"


@dataclass(frozen=True)
class RetentionResult:
    scans_deleted: int
    cases_deleted: int
    # Rows whose term has passed but that were not deleted (always 0 after a run).
    overdue_left: int
    # How long past its term the most overdue deleted row was: how late retention ran.
    lateness: timedelta = timedelta(0)
    by_organisation: dict[str, tuple[int, int]] = field(default_factory=dict)


def _counts(engine: Engine, now: datetime) -> tuple[dict[str, list[int]], datetime | None]:
    """Per organisation (scans, cases) past their term, and the earliest term among them."""
    s, c = parking_scan, parking_case
    due_scan = (s.c.delete_after.is_not(None), s.c.delete_after <= now)
    due_case = (c.c.retain_until.is_not(None), c.c.retain_until <= now)
    counts: dict[str, list[int]] = {}
    earliest: list[datetime] = []
    with engine.connect() as conn:
        query = select(s.c.organisation_id, func.count(), func.min(s.c.delete_after))
        for org, n, first in conn.execute(query.where(*due_scan).group_by(s.c.organisation_id)):
            counts.setdefault(org, [0, 0])[0] = n
            earliest.append(first)
        query = select(c.c.organisation_id, func.count(), func.min(c.c.retain_until))
        for org, n, first in conn.execute(query.where(*due_case).group_by(c.c.organisation_id)):
            counts.setdefault(org, [0, 0])[1] = n
            earliest.append(first)
    return counts, min(earliest) if earliest else None


def delete_expired(
    engine: Engine, *, now: datetime, logbook: LogStore | None = None
) -> RetentionResult:
    """Delete scans past `delete_after` and cases past `retain_until` (for
    `glazenstad parking retention`); with `logbook`, log the deletion per organisation."""
    s, c = parking_scan, parking_case
    counts, earliest = _counts(engine, now)
    with engine.begin() as conn:
        cases = conn.execute(
            delete(c).where(c.c.retain_until.is_not(None), c.c.retain_until <= now)
        ).rowcount
        scans = conn.execute(
            delete(s).where(s.c.delete_after.is_not(None), s.c.delete_after <= now)
        ).rowcount
    with engine.connect() as conn:
        left = conn.execute(
            select(func.count())
            .select_from(s)
            .where(s.c.delete_after.is_not(None), s.c.delete_after <= now)
        ).scalar_one()
    if earliest is not None and earliest.tzinfo is None:
        earliest = earliest.replace(tzinfo=now.tzinfo)
    lateness = now - earliest if earliest is not None else timedelta(0)
    if logbook is not None and counts:
        _log_deletions(logbook, counts, now, lateness)
    return RetentionResult(
        int(scans),
        int(cases),
        int(left),
        lateness,
        {org: (n[0], n[1]) for org, n in counts.items()},
    )


def _log_deletions(
    logbook: LogStore, counts: dict[str, list[int]], now: datetime, lateness: timedelta
) -> None:
    snapshot = logbook.register_store.snapshot()
    moment = int(now.timestamp() * 1000)
    for org, (scans, cases) in counts.items():
        register = snapshot.organisation(org)
        if register is None:
            continue
        record = LogRecord(
            trace_id=new_trace_id(),
            span_id=new_span_id(),
            parent_span_id=None,
            name=DELETION_NAME,
            start_time=moment,
            end_time=moment,
            status="Ok",
            processing_activity_id=activity_uri(register),
            data_subject_id=None,
            data_subject_id_type=None,
            processor=None,
            resource={"attributes": {"service.name": "glazenstad-parking-retention"}},
            attributes={
                "glazenstad.deleted_scans": scans,
                "glazenstad.deleted_cases": cases,
                "glazenstad.retention_lateness_s": round(lateness.total_seconds(), 3),
            },
        )
        logbook.ingest(org, [record])
