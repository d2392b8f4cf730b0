"""Run every compliance check for one organisation at one moment, and score the result.

`run_checks` is what the CLI, the API, the portal and the dashboard call. It reads only: the
register in force at `now`, the logbook (in aggregate), retention runs, the decision log and its
reviews, pipeline findings and breaches. Storing the outcome as a snapshot is a separate step
(`history.store_snapshot`), so looking never changes the history.

Records and events after `now` are left out, so a run "at" a past moment shows what was known
then, as far as the stores still hold it: records deleted since by retention are gone, and
reviews are counted as they stand now. The stored snapshots are the history that does not
change afterwards.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Engine

from glazenstad.db.base import utcnow
from glazenstad.insight.compliance.algorithm_checks import algorithm_check
from glazenstad.insight.compliance.checks import OBSERVATION_WINDOW, WEIGHTING_VERSION
from glazenstad.insight.compliance.incident_checks import breach_check, break_glass_check
from glazenstad.insight.compliance.logbook_checks import LogContext, run_logbook_checks
from glazenstad.insight.compliance.logfacts import log_groups
from glazenstad.insight.compliance.model import CheckResult, ComplianceReport
from glazenstad.insight.compliance.registerview import ActivityVersions, register_as_of
from glazenstad.insight.compliance.retention_runs import retention_run_check
from glazenstad.insight.compliance.scoring import score
from glazenstad.insight.compliance.sensor_checks import sensor_check
from glazenstad.register.store import RegisterStore

T = TypeVar("T")


class OrganisationNotFound(LookupError):
    """The organisation is not in the register at the measured moment."""


def run_checks(
    engine: Engine,
    register_store: RegisterStore,
    organisation_id: str,
    now: datetime | None = None,
    *,
    public_url: str = "",
) -> ComplianceReport:
    """Measure compliance of `organisation_id` at `now` (default: the clock)."""
    moment = (now or utcnow()).astimezone(UTC)
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def timed(name: str, work: Callable[[], T]) -> T:
        begin = time.perf_counter()
        value = work()
        timings[name] = round(time.perf_counter() - begin, 3)
        return value

    register = register_as_of(engine, register_store, organisation_id, moment)
    if register is None:
        raise OrganisationNotFound(
            f"organisation '{organisation_id}' is not in the register at {moment.isoformat()}"
        )
    versions = ActivityVersions(engine, organisation_id)
    groups = timed(
        "logbook-aggregate",
        lambda: log_groups(engine, organisation_id, moment, moment - OBSERVATION_WINDOW),
    )
    context = LogContext(engine, organisation_id, moment, groups, versions, register)
    results: list[CheckResult] = timed("logbook-checks", lambda: list(run_logbook_checks(context)))
    results.append(
        timed(
            "retention-runs",
            lambda: retention_run_check(engine, organisation_id, moment, bool(groups)),
        )
    )
    per_activity: dict[str, int] = defaultdict(int)
    for group in groups:
        activity_id = versions.activity_id(group.uri)
        if group.known and activity_id is not None:
            per_activity[activity_id] += group.count
    results.append(timed("algorithms", lambda: algorithm_check(register, per_activity, public_url)))
    results.append(timed("sensors", lambda: sensor_check(engine, organisation_id, moment)))
    results.append(timed("break-glass", lambda: break_glass_check(engine, register, moment)))
    results.append(timed("breaches", lambda: breach_check(engine, organisation_id, moment)))
    results.sort(key=lambda r: r.check.code)

    active = {a.id: (a.name, a.status) for a in register.activities() if a.status == "actief"}
    names = {a.id: (a.name, a.status) for a in register.activities()}
    scores = score(results, active, names)
    return ComplianceReport(
        organisation_id=organisation_id,
        organisation_name=register.org.name,
        measured_at=moment,
        weighting_version=WEIGHTING_VERSION,
        checks=tuple(results),
        activities=scores.activities,
        overall_score=scores.overall,
        activity_average=scores.activity_average,
        organisation_deduction=scores.organisation_deduction,
        elapsed_seconds=round(time.perf_counter() - started, 3),
        timings=timings,
    )
