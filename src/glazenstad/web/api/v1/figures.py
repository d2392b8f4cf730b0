"""Open data: an organisation's aggregate figures (processing, decisions, signals, compliance).

The same figures as the portal's home page, for anyone to reuse: how many log records per
processing activity, how many decisions were permitted and denied, what became of staff signals
about rules, and the measured compliance score. Counts only: no person, no text of a signal, no
decision request. The figures are computed once per organisation and period and kept
`CACHE_SECONDS` in the process, so the home page (the most visited page) costs one query a minute.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from glazenstad.insight import figures as fig
from glazenstad.register.store import OrganisationRegister
from glazenstad.web.api.v1.common import (
    ApiModel,
    OrgId,
    invalid_input,
    problem_responses,
    registered_organisation,
)
from glazenstad.web.state import AppState, get_state

router = APIRouter(tags=["Open cijfers"])
ERRORS = problem_responses(400, 404, 500)
CACHE_SECONDS: Final = 60.0
DEFAULT_DAYS: Final = 30
# A date as yyyy-mm-dd: pydantic alone would also take a number of seconds ("0") as a date.
DATE_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class ActivityFigures(ApiModel):
    activity_id: str | None = Field(
        description="Register id of the processing activity; null for log records whose "
        "activity URI is not in the register."
    )
    name: str = Field(description="Name of the activity in the register.")
    log_records: int = Field(description="Log records (actions) that started in the period.")


class DecisionFigures(ApiModel):
    total: int = Field(description="Decisions taken in the period.")
    permit: int = Field(description="Permitted, break-the-glass included.")
    deny: int
    break_glass: int = Field(description="Permitted because a rule was set aside in an emergency.")


class SignalFigures(ApiModel):
    """Signals from staff about rules that blocked their work, since the start (no content)."""

    total: int
    open: int = Field(description="New or under review.")
    handled: int = Field(description="Closed: rule changed, explained or rejected.")
    rules_with_signals: int = Field(description="Different rules signals were filed about.")
    median_days_to_handle: float | None = Field(
        description="Median days from filing to closing; null while none is closed."
    )


class ComplianceFigures(ApiModel):
    """The latest stored measurement of compliance: checks on what actually happened."""

    score: float = Field(description="0 to 100: 100 minus the weights of the checks that failed.")
    measured_at: datetime = Field(description="The moment the checks looked at (UTC).")
    checks_measured: int
    checks_failed: int
    weighting_version: str = Field(description="Version of the weights the score used.")


class OrganisationFigures(ApiModel):
    """Aggregate figures of one organisation over a period of whole days (Europe/Amsterdam)."""

    organisation_id: str
    from_: date = Field(alias="from", description="First day of the period.")
    to: date = Field(description="Last day of the period (inclusive).")
    time_zone: str = Field(description="The zone days are counted in.")
    generated_at: datetime = Field(description="When these figures were computed (UTC).")
    log_records: int = Field(description="Log records in the period, all activities together.")
    processing: list[ActivityFigures] = Field(
        description="Every activity in the register (also without records), most records first."
    )
    decisions: DecisionFigures
    signals: SignalFigures
    compliance: ComplianceFigures | None = Field(
        description="The latest stored compliance measurement; null before the first."
    )


def day_cache(request: Request) -> fig.DayCache:
    """The application's cache of finished days, shared by the dashboard and these figures."""
    cache: fig.DayCache | None = getattr(request.app.state, "figure_days", None)
    if cache is None:
        cache = fig.DayCache()
        request.app.state.figure_days = cache
    return cache


def cached_public_figures(
    request: Request, register: OrganisationRegister, period: fig.Period
) -> fig.PublicFigures:
    """The organisation's public figures, computed at most once a minute per period."""
    cache: fig.FigureCache | None = getattr(request.app.state, "public_figures_cache", None)
    if cache is None:
        cache = fig.FigureCache(CACHE_SECONDS)
        request.app.state.public_figures_cache = cache
    state: AppState = request.app.state.glazenstad
    key = (register.organisation.organisation_id, period.first, period.last)
    days = day_cache(request)
    return cache.get(key, lambda: fig.public_figures(state.engine, register, period, days))


def figures_document(public: fig.PublicFigures) -> OrganisationFigures:
    return OrganisationFigures(
        organisation_id=public.organisation_id,
        from_=public.period.first,
        to=public.period.last,
        time_zone=str(public.period.zone),
        generated_at=public.generated_at,
        log_records=public.log_records,
        processing=[
            ActivityFigures(
                activity_id=p.activity_id or None, name=p.name, log_records=p.log_records
            )
            for p in public.processing
        ],
        decisions=DecisionFigures(
            total=public.decisions.total,
            permit=public.decisions.permit,
            deny=public.decisions.deny,
            break_glass=public.decisions.break_glass,
        ),
        signals=SignalFigures(
            total=public.signals.total,
            open=public.signals.open,
            handled=public.signals.handled,
            rules_with_signals=public.signals.rules_with_signals,
            median_days_to_handle=public.signals.median_days_to_handle,
        ),
        compliance=(
            ComplianceFigures(
                score=public.compliance.score,
                measured_at=public.compliance.measured_at,
                checks_measured=public.compliance.checks_measured,
                checks_failed=public.compliance.checks_failed,
                weighting_version=public.compliance.weighting_version,
            )
            if public.compliance
            else None
        ),
    )


@router.get(
    "/organisations/{organisationId}/figures",
    response_model=OrganisationFigures,
    operation_id="getOrganisationFigures",
    summary="Aggregate figures: processing per activity, decisions, signals (open data)",
    responses=ERRORS,
)
def get_organisation_figures(
    request: Request,
    organisation_id: OrgId,
    end: Annotated[
        str | None,
        Query(
            alias="to",
            pattern=DATE_PATTERN,
            description="Last day of the period (ISO 8601 date, yyyy-mm-dd); default today.",
            json_schema_extra={"format": "date"},
        ),
    ] = None,
    days: Annotated[
        int,
        Query(
            ge=1,
            le=fig.MAX_PERIOD_DAYS,
            description=f"Length of the period in days, up to and including `to` (1 to "
            f"{fig.MAX_PERIOD_DAYS}).",
        ),
    ] = DEFAULT_DAYS,
    state: AppState = Depends(get_state),
) -> Any:
    register = registered_organisation(state, organisation_id)
    # Every date is a valid question (long ago or far ahead the answer is zero); only the
    # calendar's own ends are kept clear of, so that the period's bounds can be computed.
    try:
        asked = date.fromisoformat(end) if end else datetime.now(fig.MUNICIPAL_ZONE).date()
    except ValueError:
        raise invalid_input("query.to", "not a date in the calendar") from None
    lowest, highest = date.min + timedelta(days=1), date.max - timedelta(days=1)
    last = min(max(asked, lowest), highest)
    first = date.fromordinal(max(lowest.toordinal(), last.toordinal() - days + 1))
    public = cached_public_figures(request, register, fig.Period(first, last))
    return figures_document(public)
