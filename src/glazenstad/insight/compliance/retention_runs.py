"""NA004: does the logbook's retention job run, and on time?

The job (`glazenstad logbook retention`) records every run in `log_retention_run` with how late
it deleted (deletion time minus expiry, per record; the run keeps the maximum, median and 95th
percentile). Retention is only as good as its schedule: a job that stopped shows up as a missing
run, a job that runs rarely as a large lateness.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, func, or_, select

from glazenstad.insight.compliance import links
from glazenstad.insight.compliance.checks import (
    OBSERVATION_WINDOW,
    RETENTION_MAX_LATENESS,
    RETENTION_RUN_LATE,
    RETENTION_RUN_MAX_GAP,
)
from glazenstad.insight.compliance.model import CheckResult, EvidenceItem, Example, Figure
from glazenstad.insight.compliance.wording import hours, int_nl, number_nl
from glazenstad.logbook.tables import log_retention_run

RECENT_RUNS = 5


def retention_run_check(
    engine: Engine, organisation_id: str, now: datetime, has_records: bool
) -> CheckResult:
    t = log_retention_run
    covers = or_(t.c.organisation_id == organisation_id, t.c.organisation_id.is_(None))
    since = now - OBSERVATION_WINDOW
    with engine.connect() as conn:
        runs, worst_ms, deleted = conn.execute(
            select(func.count(), func.max(t.c.lateness_max_ms), func.sum(t.c.deleted)).where(
                covers, t.c.ran_at <= now, t.c.ran_at >= since
            )
        ).one()
        recent = conn.execute(
            select(t.c.run_id, t.c.ran_at, t.c.deleted, t.c.lateness_max_ms)
            .where(covers, t.c.ran_at <= now)
            .order_by(t.c.ran_at.desc())
            .limit(RECENT_RUNS)
        ).all()
    last = recent[0].ran_at if recent else None
    gap = now - last if last is not None else None
    worst = timedelta(milliseconds=int(worst_ms)) if worst_ms is not None else None
    problems: list[str] = []
    if has_records and gap is None:
        problems.append("Het logboek is nog nooit opgeruimd.")
    elif has_records and gap is not None and gap > RETENTION_RUN_MAX_GAP:
        problems.append(f"De laatste opruimronde was {number_nl(hours(gap))} uur geleden.")
    if worst is not None and worst > RETENTION_MAX_LATENESS:
        problems.append(
            f"Een opruimronde in de afgelopen 30 dagen verwijderde logregels tot "
            f"{number_nl(hours(worst))} uur na het einde van hun bewaartermijn."
        )
    if problems:
        summary = " ".join(problems)
    elif not has_records:
        summary = "Het logboek is leeg; er is niets op te ruimen."
    else:
        summary = (
            f"Het logboek werd op tijd opgeruimd: {int_nl(int(runs))} opruimrondes in de "
            "afgelopen 30 dagen."
        )
    examples = tuple(
        Example(
            "retention-run",
            str(r.run_id),
            r.ran_at,
            f"{int_nl(int(r.deleted))} logregels verwijderd"
            + (
                f", tot {number_nl(hours(timedelta(milliseconds=int(r.lateness_max_ms))))} uur "
                "na de bewaartermijn"
                if r.lateness_max_ms is not None
                else ""
            ),
        )
        for r in recent
    )
    items = (
        (
            EvidenceItem(
                subject="log_retention_run",
                label="Recente opruimrondes",
                count=len(recent),
                detail=summary,
                examples=examples,
            ),
        )
        if recent
        else ()
    )
    return CheckResult(
        RETENTION_RUN_LATE,
        "fail" if problems else "pass",
        len(problems),
        summary,
        (
            Figure("runsInWindow", "Opruimrondes in de afgelopen 30 dagen", int(runs)),
            Figure("lastRunAt", "Laatste opruimronde", last.isoformat() if last else None),
            Figure(
                "hoursSinceLastRun",
                "Uren sinds de laatste opruimronde",
                hours(gap) if gap is not None else None,
            ),
            Figure(
                "maxLatenessHours",
                "Grootste vertraging in de afgelopen 30 dagen (uren)",
                hours(worst) if worst is not None else None,
            ),
            Figure("deletedInWindow", "Verwijderd in de afgelopen 30 dagen", int(deleted or 0)),
        ),
        items,
        (links.dashboard(),),
    )
