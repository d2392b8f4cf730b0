"""Enforcement cases: a human enforcer confirms or dismisses what the scan car found unpaid.

The scan car never fines anyone: an unpaid scan becomes an open case, and a parkeerhandhaver
judges the evidence. Confirming leads to a naheffingsaanslag; dismissing records the exception
found (loading, standing traffic, a disabled parking card, ...). Each judgement is a decision of
the rules engine and a log record under the scan's trace, written before the case changes.

The log record of a judgement carries no data subject: the pipeline holds only the plate's
pseudonym, and the logbook pseudonymises plain identifiers itself. It shares the scan's trace,
whose records do carry the pseudonym, so a resident's overview can still follow it.

Retention after the judgement comes from the register: a dismissal uses the outcome
"onbetaald, uitzondering vastgesteld" (P7D in the demo register) from the moment of the
judgement; a confirmation uses "onbetaald", which counts from the end of the objection period,
an event this pipeline does not see, so `retain_until` stays empty until that is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from sqlalchemy import select, update

from glazenstad.db.base import utcnow
from glazenstad.execution.parking.pipeline import (
    ACTIVITY,
    ATTR_DECISION,
    ATTR_STEP,
    DATASET_SCANS,
    OUTCOME_EXCEPTION,
    OUTCOME_UNPAID,
    RESOURCE,
    ROLE,
    ScanPipeline,
    activity_of,
    activity_uri,
    retention_end,
    scan_trace_id,
    step_span_id,
)
from glazenstad.execution.parking.tables import parking_case, parking_scan
from glazenstad.logbook.record import LogRecord
from glazenstad.logbook.retention import OUTCOME_ATTRIBUTE
from glazenstad.rules.decisionlog import decision_row, write_decisions

# Why an enforcer dismisses a case (the exceptions the register's description names, and more).
DISMISS_REASONS: Final = {
    "laden-lossen": "Laden en lossen",
    "stilstaand-verkeer": "Stilstaand verkeer (geen geparkeerde auto)",
    "gehandicaptenparkeerkaart": "Gehandicaptenparkeerkaart aanwezig",
    "onleesbaar": "Kenteken of foto niet goed te beoordelen",
    "recht-gevonden": "Toch een geldig parkeerrecht gevonden",
}
CaseState = Literal["open", "confirmed", "dismissed"]


class CaseError(ValueError):
    """The case does not exist, is already judged, or the reason is not known."""


class CaseDenied(PermissionError):
    """The rules did not permit this judgement; the decision is logged, the case unchanged."""

    def __init__(self, decision_id: str) -> None:
        super().__init__(f"not permitted (decision {decision_id})")
        self.decision_id = decision_id


@dataclass(frozen=True)
class Case:
    case_id: str
    organisation_id: str
    car_id: str
    scan_id: str
    zone: str
    scanned_at: datetime
    photo_ref: str | None
    state: str
    reason: str | None
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None
    retain_until: datetime | None


def _case(row: object) -> Case:
    m = row._mapping  # type: ignore[attr-defined]
    return Case(**{name: m[name] for name in Case.__dataclass_fields__})


def list_cases(
    pipeline: ScanPipeline, organisation_id: str, state: CaseState = "open", limit: int = 100
) -> list[Case]:
    """Cases in `state`, oldest scan first (the enforcer's work list)."""
    c = parking_case
    query = (
        select(*(c.c[name] for name in Case.__dataclass_fields__))
        .where(c.c.organisation_id == organisation_id, c.c.state == state)
        .order_by(c.c.scanned_at, c.c.case_id)
        .limit(limit)
    )
    with pipeline.engine.connect() as conn:
        return [_case(row) for row in conn.execute(query)]


def get_case(pipeline: ScanPipeline, case_id: str) -> Case | None:
    c = parking_case
    query = select(*(c.c[name] for name in Case.__dataclass_fields__)).where(c.c.case_id == case_id)
    with pipeline.engine.connect() as conn:
        row = conn.execute(query).first()
    return _case(row) if row is not None else None


def confirm_case(
    pipeline: ScanPipeline, case_id: str, *, role: str = ROLE, now: datetime | None = None
) -> Case:
    """The enforcer confirms: no exception applies, the naheffingsaanslag follows."""
    return _judge(pipeline, case_id, "confirmed", None, role, now or utcnow())


def dismiss_case(
    pipeline: ScanPipeline,
    case_id: str,
    reason: str,
    *,
    role: str = ROLE,
    now: datetime | None = None,
) -> Case:
    """The enforcer dismisses with one of DISMISS_REASONS; the evidence goes after P7D."""
    if reason not in DISMISS_REASONS:
        raise CaseError(f"unknown reason; choose one of: {', '.join(DISMISS_REASONS)}")
    return _judge(pipeline, case_id, "dismissed", reason, role, now or utcnow())


def _judge(
    pipeline: ScanPipeline,
    case_id: str,
    state: CaseState,
    reason: str | None,
    role: str,
    now: datetime,
) -> Case:
    case = get_case(pipeline, case_id)
    if case is None:
        raise CaseError(f"no case {case_id}")
    if case.state != "open":
        raise CaseError(f"case {case_id} is already {case.state}")
    org = case.organisation_id
    register = pipeline.register.snapshot().organisation(org)
    activity = activity_of(register)
    assert register is not None
    with pipeline.engine.connect() as conn:
        pseudonym = conn.execute(
            select(parking_case.c.plate_pseudonym).where(parking_case.c.case_id == case_id)
        ).scalar_one()
    decision = pipeline.decide(
        org, "read", "scanfoto", DATASET_SCANS, pseudonym, now, role=role, case_id=case_id
    )
    outcome = OUTCOME_EXCEPTION if state == "dismissed" else OUTCOME_UNPAID
    retain_until = retention_end(activity, outcome, now) if decision.permitted else None
    trace = scan_trace_id(org, case.car_id, case.scan_id)
    step = "bevestigd" if state == "confirmed" else "geseponeerd"
    title = (
        "Parkeerhandhaver bevestigt de overtreding"
        if state == "confirmed"
        else f"Parkeerhandhaver seponeert: {DISMISS_REASONS[reason or '']}"
    )
    start = int(now.timestamp() * 1000)
    attributes: dict[str, object] = {ATTR_DECISION: decision.id, ATTR_STEP: step}
    if decision.permitted:
        attributes[OUTCOME_ATTRIBUTE] = outcome
    record = LogRecord(
        trace_id=trace,
        span_id=step_span_id(trace, f"{step}:{decision.id}"),
        parent_span_id=step_span_id(trace, "vastleggen"),
        name=title if decision.permitted else f"Geweigerd: {title}",
        start_time=start,
        end_time=start,
        status="Ok" if decision.permitted else "Error",
        processing_activity_id=activity_uri(register),
        data_subject_id=None,
        data_subject_id_type=None,
        processor=None,
        resource=dict(RESOURCE),
        attributes=attributes,
    )
    with pipeline.engine.begin() as conn:
        write_decisions(conn, [decision_row(decision)])
    result = pipeline.logbook.ingest(org, [record])
    if result.rejected:
        raise RuntimeError(f"the logbook refused the record: {result.rejected[0].reason}")
    if not decision.permitted:
        raise CaseDenied(decision.id)
    with pipeline.engine.begin() as conn:
        changed = conn.execute(
            update(parking_case)
            .where(parking_case.c.case_id == case_id, parking_case.c.state == "open")
            .values(
                state=state,
                reason=reason,
                decided_by=role,
                decided_at=now,
                retain_until=retain_until,
            )
        ).rowcount
        if changed != 1:
            raise CaseError(f"case {case_id} was judged by someone else meanwhile")
        conn.execute(
            update(parking_scan)
            .where(
                parking_scan.c.organisation_id == org,
                parking_scan.c.car_id == case.car_id,
                parking_scan.c.scan_id == case.scan_id,
            )
            .values(delete_after=retain_until)
        )
    judged = get_case(pipeline, case_id)
    assert judged is not None
    return judged


__all__ = [
    "ACTIVITY",
    "DISMISS_REASONS",
    "Case",
    "CaseDenied",
    "CaseError",
    "confirm_case",
    "dismiss_case",
    "get_case",
    "list_cases",
]
