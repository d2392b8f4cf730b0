"""Compliance API: measured compliance with its evidence for staff, the score for everyone.

Staff with `insight:read` get every check with its evidence (counts, figures, examples that name
log records and decisions, links) and the scores, measured when asked, plus the stored history.
The public endpoint gives the overall score and the score per activity only: no evidence, no
identifiers of records, decisions or breaches. It answers from the newest stored snapshot (the
figures the municipality published), and measures only when none exists yet, at most once per
few minutes per organisation, so an anonymous caller cannot make the server scan the logbook.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, Field

from glazenstad.insight.compliance.history import score_history
from glazenstad.insight.compliance.present import report_document, snapshot_document
from glazenstad.insight.compliance.run import OrganisationNotFound, run_checks
from glazenstad.web import staff
from glazenstad.web.api.v1.common import (
    ApiModel,
    OrgId,
    PageParams,
    described_problem,
    moment_in_range,
    page_model,
    paginate,
    problem_responses,
    registered_organisation,
    unknown_organisation,
)
from glazenstad.web.state import AppState, get_state

router = APIRouter(tags=["Compliance"])

STAFF_ERRORS = {
    **problem_responses(400, 401, 404, 500),
    **described_problem(403, "The staff member lacks the permission this needs (insight:read)."),
}
PUBLIC_CACHE_SECONDS = 300.0

Status = Literal["pass", "fail", "not-measured"]
FigureValue = int | float | str | None


class ComplianceFigure(ApiModel):
    key: str = Field(description="Machine name of the figure, e.g. oldestOverdueHours.")
    label: str = Field(description="What the figure means, in Dutch.")
    value: FigureValue


class ComplianceLink(ApiModel):
    text: str
    href: str = Field(description="A path on this installation (portal or API).")


class ComplianceExample(ApiModel):
    kind: Literal["log-record", "decision", "breach", "retention-run", "finding"]
    reference: str = Field(
        description="trace_id/span_id of a log record, a decision id, a breach id, a run id."
    )
    moment: datetime | None
    text: str


class ComplianceEvidenceItem(ApiModel):
    subject: str = Field(description="What the finding is about: an activity id, URI, ...")
    label: str
    count: int
    detail: str
    activity_id: str | None
    links: list[ComplianceLink]
    examples: list[ComplianceExample]


class ComplianceCheckResult(ApiModel):
    code: str = Field(description="Stable code, e.g. NA003.")
    key: str = Field(description="Stable name, e.g. retention-overdue.")
    title: str
    title_en: str
    explanation: str = Field(description="What the check measures and why, in plain Dutch.")
    scope: Literal["activity", "organisation"]
    severity: Literal["fout", "waarschuwing"]
    weight: int = Field(description="Points a failure subtracts from the score.")
    status: Status
    count: int = Field(description="Records, decisions or things found (0 when it passes).")
    summary: str
    figures: list[ComplianceFigure]
    items: list[ComplianceEvidenceItem]
    links: list[ComplianceLink]


class ComplianceActivityScore(ApiModel):
    activity_id: str
    name: str
    status: str = Field(description="Status in the register at the measured moment.")
    score: float
    failed: list[str] = Field(description="Codes of the activity checks it fails.")


class ComplianceReport(ApiModel):
    """Measured compliance of one organisation at one moment."""

    organisation_id: str
    organisation_name: str
    measured_at: datetime
    weighting_version: str
    overall_score: float = Field(description="Average activity score minus organisation checks.")
    activity_average: float
    organisation_deduction: int
    elapsed_seconds: float = Field(description="How long the checks took.")
    checks: list[ComplianceCheckResult]
    activities: list[ComplianceActivityScore]


class ComplianceCheckSummary(ApiModel):
    code: str
    status: Status
    count: int


class ComplianceActivityScorePoint(ApiModel):
    activity_id: str
    score: float


class ComplianceSnapshot(ApiModel):
    """The figures of one stored measurement."""

    id: int
    measured_at: datetime
    stored_at: datetime
    weighting_version: str
    overall_score: float
    activities_scored: int
    checks_failed: int
    checks_measured: int
    checks: list[ComplianceCheckSummary]
    activity_scores: list[ComplianceActivityScorePoint]


SnapshotPage = page_model("ComplianceSnapshotPage", ComplianceSnapshot)


class PublicActivityComplianceScore(ApiModel):
    activity_id: str
    name: str
    score: float


class PublicComplianceScore(ApiModel):
    """The published compliance score: no evidence, no identifiers."""

    organisation_id: str
    measured_at: datetime
    weighting_version: str
    overall_score: float
    source: Literal["snapshot", "live"] = Field(
        description="snapshot: the newest stored measurement; live: measured now, none stored."
    )
    activities: list[PublicActivityComplianceScore]


def _measure(state: AppState, organisation_id: str, at: datetime | None) -> Any:
    try:
        return run_checks(
            state.engine,
            state.register,
            organisation_id,
            at,
            public_url=state.settings.effective_public_url,
        )
    except OrganisationNotFound:
        raise unknown_organisation(organisation_id) from None


@router.get(
    "/organisations/{organisationId}/compliance",
    response_model=ComplianceReport,
    operation_id="getCompliance",
    summary="Measured compliance: every check with its evidence, and the scores (staff)",
    responses=STAFF_ERRORS,
)
async def get_compliance(
    organisation_id: OrgId,
    at: Annotated[
        AwareDatetime | None,
        Query(description="Measure as of this moment (ISO 8601 with time zone); default now."),
    ] = None,
    _user: staff.StaffUser = Depends(staff.api_staff(staff.INSIGHT_READ)),
    state: AppState = Depends(get_state),
) -> Any:
    moment_in_range("query.at", at)
    report = await run_in_threadpool(_measure, state, organisation_id, at)
    return report_document(report)


@router.get(
    "/organisations/{organisationId}/compliance/history",
    response_model=SnapshotPage,
    operation_id="listComplianceHistory",
    summary="Stored compliance measurements, newest first (staff)",
    responses=STAFF_ERRORS,
)
def list_compliance_history(
    request: Request,
    organisation_id: OrgId,
    pages: Annotated[PageParams, Depends()],
    _user: staff.StaffUser = Depends(staff.api_staff(staff.INSIGHT_READ)),
    state: AppState = Depends(get_state),
) -> Any:
    registered_organisation(state, organisation_id)
    snapshots = list(reversed(score_history(state.engine, organisation_id)))
    return paginate(request, [snapshot_document(s) for s in snapshots], pages)


_cache_lock = threading.Lock()


def _live_score(request: Request, state: AppState, organisation_id: str) -> dict[str, Any]:
    """A live measurement, kept a few minutes per organisation (only when no snapshot exists)."""
    cache: dict[str, tuple[float, dict[str, Any]]] = getattr(
        request.app.state, "compliance_score_cache", {}
    )
    request.app.state.compliance_score_cache = cache
    with _cache_lock:
        cached = cache.get(organisation_id)
        if cached is not None and time.monotonic() - cached[0] < PUBLIC_CACHE_SECONDS:
            return cached[1]
    report = _measure(state, organisation_id, None)
    document = {
        "organisation_id": organisation_id,
        "measured_at": report.measured_at,
        "weighting_version": report.weighting_version,
        "overall_score": report.overall_score,
        "source": "live",
        "activities": [
            {"activity_id": a.activity_id, "name": a.name, "score": a.score}
            for a in report.activities
        ],
    }
    with _cache_lock:
        cache[organisation_id] = (time.monotonic(), document)
    return document


@router.get(
    "/organisations/{organisationId}/compliance-score",
    response_model=PublicComplianceScore,
    operation_id="getComplianceScore",
    summary="The organisation's compliance score, overall and per processing activity",
    responses=problem_responses(400, 404, 500),
)
def get_compliance_score(
    request: Request,
    organisation_id: OrgId,
    state: AppState = Depends(get_state),
) -> Any:
    register = registered_organisation(state, organisation_id)
    newest = score_history(state.engine, organisation_id, limit=1)
    if not newest:
        return _live_score(request, state, organisation_id)
    snapshot = newest[0]
    names = {a.id: a.name for a in register.activities()}
    return {
        "organisation_id": organisation_id,
        "measured_at": snapshot.measured_at,
        "weighting_version": snapshot.weighting_version,
        "overall_score": snapshot.overall_score,
        "source": "snapshot",
        "activities": [
            {"activity_id": a, "name": names.get(a, a), "score": s}
            for a, s in sorted(snapshot.activity_scores.items(), key=lambda kv: (kv[1], kv[0]))
        ],
    }
