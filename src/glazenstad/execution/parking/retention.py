"""Retention of the scan-car pipeline: delete scans and cases whose term has passed.

Paid scans carry `delete_after` (scan time + the register's period for "betaald") from the moment
they are stored; unpaid scans and their cases get it when the enforcer's judgement fixes their
outcome. The job deletes every row past its term, in one transaction, and never copies it
anywhere first: a paid scan is not archived. `now` is an argument so the job (and its tests)
decide what "now" is; the command line passes the wall clock.

The logbook keeps its own records under its own retention (`glazenstad.logbook.retention`): the
records of a paid scan carry the outcome "betaald" and go after the same period there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, select

from glazenstad.execution.parking.tables import parking_case, parking_scan


@dataclass(frozen=True)
class RetentionResult:
    scans_deleted: int
    cases_deleted: int
    # Rows whose term has passed but that were not deleted (always 0 after a run).
    overdue_left: int


def delete_expired(engine: Engine, *, now: datetime) -> RetentionResult:
    """Delete scans past `delete_after` and cases past `retain_until` (for
    `glazenstad parking retention`)."""
    s, c = parking_scan, parking_case
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
    return RetentionResult(int(scans), int(cases), int(left))
