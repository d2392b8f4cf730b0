"""Data breaches and break-the-glass reviews for staff (AVG art. 33/34, reviews of emergencies).

Reading needs `insight:read` (or the permission that manages the subject); registering and
deciding on breaches needs `incidents:manage`; reviewing a break-the-glass decision needs
`break-glass:review`. Moments are ISO 8601 with a time zone and are answered in UTC; the
deadline is exactly 72 hours after discovery. Changes may name the `revision` they were based
on: when the breach changed meanwhile the answer is 409 instead of a silent overwrite.

The sizing endpoint answers "how many data subjects did these activities process in this
period" with counts from the logbook only, never identifiers. The written justification of a
break-the-glass decision is shown only to those who review them: it is the employee's account of
an emergency and may say more about a person than the decision does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, ConfigDict, Field, StrictBool, StrictInt, model_validator

from glazenstad.db.base import utcnow
from glazenstad.insight.incidents import breaches as br
from glazenstad.insight.incidents import reviews as rv
from glazenstad.insight.incidents import sizing
from glazenstad.insight.incidents.wording import deadline_state, deadline_text
from glazenstad.web import staff
from glazenstad.web.api.v1.common import (
    API_PREFIX,
    SLUG,
    STAFF_ERRORS,
    ApiModel,
    BodyMoment,
    OrgId,
    PageParams,
    created,
    described_problem,
    invalid_input,
    moment_in_range,
    page_model,
    page_of,
    paginate,
)
from glazenstad.web.problems import InvalidParam, ProblemError
from glazenstad.web.state import AppState, get_state

router = APIRouter(tags=["Datalekken en noodtoegang"])

CONFLICT = described_problem(
    409, "Changed meanwhile (revision), not possible in this state, or done already."
)
DECISION_ID = r"^[0-9a-f]{32}$"
Slug = Annotated[str, Field(pattern=SLUG)]
Status = Literal["open", "notified", "not-notifiable", "closed"]
DeadlineState = Literal["running", "overdue", "in-time", "late"]
Verdict = Literal["justified", "unjustified"]

# Domain field names (as BreachError names them) → where they are in a request.
BODY_FIELDS = {
    "title": "body.title",
    "description": "body.description",
    "discoveredAt": "body.discoveredAt",
    "occurredFrom": "body.occurredFrom",
    "occurredUntil": "body.occurredUntil",
    "estimatedSubjects": "body.estimatedSubjects",
    "reason": "body.reason",
    "reference": "body.reference",
    "notifiedAt": "body.notifiedAt",
    "note": "body.note",
    "verdict": "body.verdict",
}


READ_BREACHES = staff.api_staff(staff.INSIGHT_READ, staff.INCIDENTS_MANAGE)
MANAGE_BREACHES = staff.api_staff(staff.INCIDENTS_MANAGE)
READ_REVIEWS = staff.api_staff(staff.INSIGHT_READ, staff.BREAK_GLASS_REVIEW)
REVIEW = staff.api_staff(staff.BREAK_GLASS_REVIEW)


def _bad(name: str, reason: str) -> ProblemError:
    return invalid_input(name, reason, f"De aanvraag bevat ongeldige invoer: {name}. {reason}")


def _field_name(field: str | None) -> str:
    if field is None:
        return "body"
    head, _, rest = field.partition("[")
    known = {"activities": "body.activities", "dataCategories": "body.dataCategories"}
    if head in known:
        return known[head] + (f"[{rest}" if rest else "")
    return BODY_FIELDS.get(field, f"body.{field}")


def _breach_problem(error: Exception) -> ProblemError:
    if isinstance(error, br.BreachNotFound):
        return ProblemError(404, str(error))
    if isinstance(error, br.BreachConflict):
        return ProblemError(409, str(error))
    assert isinstance(error, br.BreachError)
    if error.field == "status" or error.field in ("notify", "residentsNotify"):
        return ProblemError(409, str(error))  # not possible in the breach's present state
    return ProblemError(
        400,
        str(error),
        [InvalidParam(name=_field_name(error.field), type="value_error", reason=error.message)],
    )


def _in_range(name: str, value: datetime | None) -> datetime | None:
    try:
        return moment_in_range(name, value)
    except ProblemError:
        raise _bad(name, "Het tijdstip moet tussen 2000 en 2100 liggen.") from None


# --- models ----------------------------------------------------------------------------------


class _Input(ApiModel):
    model_config = ConfigDict(extra="forbid")


Revision = Annotated[
    StrictInt | None,  # `true` is not revision 1
    Field(
        ge=1,
        le=2**31 - 1,
        description="The revision this change is based on; 409 when the breach changed since.",
    ),
]
Moment = Annotated[BodyMoment, Field(description="ISO 8601 with a time zone.")]


class BreachRegistration(_Input):
    """A new data breach."""

    title: Annotated[str, Field(min_length=1, max_length=br.MAX_TITLE)] = Field(
        description="Short description."
    )
    description: Annotated[str, Field(min_length=1, max_length=br.MAX_TEXT)] = Field(
        description="What happened. No personal identifiers."
    )
    discovered_at: Moment = Field(
        description="When the organisation became aware of it: the 72 hours count from here."
    )
    occurred_from: Moment | None = Field(default=None, description="When it started, if known.")
    occurred_until: Moment | None = Field(default=None, description="When it ended, if known.")
    activities: list[Slug] = Field(
        default_factory=list,
        max_length=200,
        description="Ids of processing activities in the organisation's register.",
    )
    data_categories: list[Slug] = Field(
        default_factory=list,
        max_length=200,
        description="Ids of data categories in the organisation's register.",
    )
    estimated_subjects: Annotated[StrictInt, Field(ge=0, le=10**10)] | None = Field(
        default=None, description="Estimated number of data subjects."
    )


class BreachChange(_Input):
    """Corrections to what is known; only the fields given change (null clears an optional one)."""

    title: Annotated[str, Field(min_length=1, max_length=br.MAX_TITLE)] | None = None
    description: Annotated[str, Field(min_length=1, max_length=br.MAX_TEXT)] | None = None
    discovered_at: Moment | None = None
    occurred_from: Moment | None = None
    occurred_until: Moment | None = None
    activities: list[Slug] | None = Field(default=None, max_length=200)
    data_categories: list[Slug] | None = Field(default=None, max_length=200)
    estimated_subjects: Annotated[StrictInt, Field(ge=0, le=10**10)] | None = None
    revision: Revision = None

    @model_validator(mode="after")
    def _required_stay(self) -> BreachChange:
        for name in ("title", "description", "discovered_at", "activities", "data_categories"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name}: cannot be cleared")
        return self


class BreachAuthorityDecision(_Input):
    """Whether the Autoriteit Persoonsgegevens is notified (art. 33), why, and when if done."""

    notify: StrictBool  # `0` is not `false`
    reason: Annotated[str, Field(min_length=1, max_length=br.MAX_TEXT)]
    notified_at: Moment | None = Field(
        default=None, description="When the AP was notified (only with notify true)."
    )
    reference: Annotated[str, Field(min_length=1, max_length=br.MAX_REFERENCE)] | None = Field(
        default=None, description="The AP's reference of the notification."
    )
    revision: Revision = None


class BreachAuthorityNotification(_Input):
    """That, and when, the AP was notified (after a decision to notify)."""

    notified_at: Moment
    reference: Annotated[str, Field(min_length=1, max_length=br.MAX_REFERENCE)] | None = None
    revision: Revision = None


class BreachResidentsDecision(_Input):
    """Whether the people concerned are told (art. 34), why, and when if done."""

    notify: StrictBool  # `0` is not `false`
    reason: Annotated[str, Field(min_length=1, max_length=br.MAX_TEXT)]
    notified_at: Moment | None = None
    revision: Revision = None


class BreachClosure(_Input):
    note: Annotated[str, Field(max_length=br.MAX_TEXT)] | None = Field(
        default=None, description="What was done; kept in the history."
    )
    revision: Revision = None


class BreachAuthorityPart(ApiModel):
    notify: bool | None = Field(description="Null: not decided yet.")
    reason: str | None
    decided_at: datetime | None
    notified_at: datetime | None
    reference: str | None


class BreachResidentsPart(ApiModel):
    notify: bool | None = Field(description="Null: not decided yet.")
    reason: str | None
    decided_at: datetime | None
    notified_at: datetime | None


class BreachSummary(ApiModel):
    id: int
    title: str
    status: Status
    discovered_at: datetime
    deadline: datetime = Field(description="Discovery + 72 hours: the last moment to notify.")
    deadline_state: DeadlineState = Field(
        description="running or overdue while open; in-time or late once settled."
    )
    overdue: bool = Field(description="Open after the deadline.")
    seconds_left: int = Field(description="Until the deadline; negative once it has passed.")
    deadline_text: str = Field(description="The deadline in plain Dutch.")
    revision: int


class BreachHistoryEvent(ApiModel):
    revision: int
    at: datetime
    by: str = Field(description="Staff id of who made the change.")
    by_name: str
    action: str = Field(
        description="registered, facts-changed, authority-decided, authority-notified, "
        "residents-decided or closed."
    )
    changes: dict[str, list[Any]] = Field(description="Field → [before, after].")
    note: str | None


class Breach(BreachSummary):
    organisation_id: str
    description: str
    occurred_from: datetime | None
    occurred_until: datetime | None
    activities: list[str]
    data_categories: list[str]
    estimated_subjects: int | None
    authority: BreachAuthorityPart
    residents: BreachResidentsPart
    closed_at: datetime | None
    registered_at: datetime
    registered_by: str
    updated_at: datetime
    history: list[BreachHistoryEvent]


BreachPage = page_model("BreachPage", BreachSummary)


class BreachActivitySize(ApiModel):
    activity_id: str
    data_subjects: int = Field(description="Distinct data subjects (pseudonyms) in the period.")
    records: int = Field(description="Log records in the period, with or without a subject.")
    by_id_type: dict[str, int] = Field(description="Distinct data subjects per identifier type.")


class BreachSizing(ApiModel):
    """Counts from the logbook; never an identifier or pseudonym."""

    organisation_id: str
    breach_id: int
    from_: datetime = Field(alias="from", description="Start (inclusive) of the actions counted.")
    until: datetime = Field(description="End (exclusive).")
    activities: list[BreachActivitySize]
    data_subjects: int = Field(description="Distinct over all activities (each person once).")
    records: int
    several_keys: bool = Field(
        description="The period spans a pseudonym key rotation: a person seen before and after "
        "counts twice, so the counts are an upper bound."
    )


class BreakGlassReviewInput(_Input):
    verdict: Verdict
    note: Annotated[str, Field(max_length=rv.MAX_NOTE)] | None = Field(
        default=None, description="Why; required for unjustified."
    )


class BreakGlassReview(ApiModel):
    decision_id: str
    verdict: Verdict
    note: str | None
    reviewer_id: str
    reviewer_name: str
    reviewed_at: datetime


class BreakGlassDecision(ApiModel):
    decision_id: str
    decided_at: datetime
    purpose: str = Field(description="The processing activity the data was used for.")
    action: str
    data_category: str
    role: str = Field(description="Role of the actor (the request names no person).")
    department: str
    rules: list[str] = Field(description="The permit rules of the decision.")
    justification: str | None = Field(
        description="The written justification; only shown to callers who review "
        "(break-glass:review), null for others."
    )
    channel: str | None
    dataset: str | None
    case_id: str | None
    about_person: bool = Field(description="Whether the request was about a data subject.")
    review: BreakGlassReview | None = Field(description="Null while not reviewed.")


BreakGlassPage = page_model("BreakGlassPage", BreakGlassDecision)


def _summary(breach: br.Breach, now: datetime) -> BreachSummary:
    return BreachSummary(
        id=breach.id,
        title=breach.title,
        status=breach.status,
        discovered_at=breach.discovered_at,
        deadline=breach.deadline,
        deadline_state=deadline_state(breach, now),
        overdue=breach.overdue(now),
        seconds_left=int(breach.time_left(now).total_seconds()),
        deadline_text=deadline_text(breach, now),
        revision=breach.revision,
    )


def _breach(breach: br.Breach, history: list[br.BreachEvent], now: datetime) -> Breach:
    return Breach(
        **_summary(breach, now).model_dump(),
        organisation_id=breach.organisation_id,
        description=breach.description,
        occurred_from=breach.occurred_from,
        occurred_until=breach.occurred_until,
        activities=list(breach.activities),
        data_categories=list(breach.data_categories),
        estimated_subjects=breach.estimated_subjects,
        authority=BreachAuthorityPart(
            notify=breach.authority_notify,
            reason=breach.authority_reason,
            decided_at=breach.authority_decided_at,
            notified_at=breach.authority_notified_at,
            reference=breach.authority_reference,
        ),
        residents=BreachResidentsPart(
            notify=breach.residents_notify,
            reason=breach.residents_reason,
            decided_at=breach.residents_decided_at,
            notified_at=breach.residents_notified_at,
        ),
        closed_at=breach.closed_at,
        registered_at=breach.registered_at,
        registered_by=breach.registered_by,
        updated_at=breach.updated_at,
        history=[
            BreachHistoryEvent(
                revision=e.revision,
                at=e.at,
                by=e.by_id,
                by_name=e.by_name,
                action=e.action,
                changes=e.changes,
                note=e.note,
            )
            for e in history
        ],
    )


def _breach_answer(state: AppState, breach: br.Breach, status_code: int = 200) -> JSONResponse:
    history = br.breach_history(state.engine, breach.organisation_id, breach.id)
    answer = _breach(breach, history, utcnow())
    if status_code == 201:
        location = f"{API_PREFIX}/organisations/{breach.organisation_id}/data-breaches/{breach.id}"
        return created(answer, location)
    return JSONResponse(answer.model_dump(mode="json", by_alias=True))


def _who(user: staff.StaffUser) -> br.Who:
    return br.Who(user.id, user.name)


def _changed(
    state: AppState, change: Callable[[], br.Breach], status_code: int = 200
) -> JSONResponse:
    """Answer with the breach as `change` left it; its refusals become problems (400/404/409)."""
    try:
        breach = change()
    except (br.BreachError, br.BreachNotFound, br.BreachConflict) as error:
        raise _breach_problem(error) from None
    return _breach_answer(state, breach, status_code)


def _existing_breach(state: AppState, organisation_id: str, breach_id: int) -> br.Breach:
    breach = br.get_breach(state.engine, organisation_id, breach_id)
    if breach is None:
        raise ProblemError(404, f"Er is geen datalek {breach_id} bij {organisation_id}.")
    return breach


def _no_decision(organisation_id: str, decision_id: str) -> ProblemError:
    return ProblemError(
        404, f"Er is geen besluit {decision_id} met noodtoegang bij {organisation_id}."
    )


BreachId = Annotated[int, Path(alias="breachId", ge=1, le=2**62, description="Breach number.")]
DecisionId = Annotated[
    str, Path(alias="decisionId", pattern=DECISION_ID, description="Decision id (32 hex).")
]
BREACHES = "/organisations/{organisationId}/data-breaches"
BREACH = BREACHES + "/{breachId}"
DECISIONS = "/organisations/{organisationId}/break-glass-decisions"

# --- data breaches ---------------------------------------------------------------------------


@router.get(
    BREACHES,
    response_model=BreachPage,
    operation_id="listDataBreaches",
    summary="Data breaches of the organisation, newest discovery first (staff)",
    responses=STAFF_ERRORS,
)
def list_data_breaches(
    request: Request,
    organisation_id: OrgId,
    status: Annotated[Status | None, Query(description="Only breaches in this status.")] = None,
    overdue: Annotated[
        bool | None, Query(description="true: only breaches past their deadline.")
    ] = None,
    params: PageParams = Depends(),
    state: AppState = Depends(get_state),
    _user: staff.StaffUser = Depends(READ_BREACHES),
) -> Any:
    now = utcnow()
    found = br.list_breaches(state.engine, organisation_id, status=status)
    if overdue is not None:
        found = [b for b in found if b.overdue(now) == overdue]
    page = paginate(request, found, params)
    page["results"] = [_summary(b, now) for b in page["results"]]
    return page


@router.post(
    BREACHES,
    response_model=Breach,
    status_code=201,
    operation_id="registerDataBreach",
    summary="Register a data breach; the answer holds its 72-hour deadline (incidents:manage)",
    responses=STAFF_ERRORS,
)
def register_data_breach(
    organisation_id: OrgId,
    body: BreachRegistration,
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(MANAGE_BREACHES),
) -> Any:
    facts = br.BreachFacts(
        title=body.title,
        description=body.description,
        discovered_at=body.discovered_at,
        occurred_from=body.occurred_from,
        occurred_until=body.occurred_until,
        activities=tuple(body.activities),
        data_categories=tuple(body.data_categories),
        estimated_subjects=body.estimated_subjects,
    )
    return _changed(
        state,
        lambda: br.register_breach(
            state.engine, state.register, organisation_id, facts, _who(user)
        ),
        201,
    )


@router.get(
    BREACH,
    response_model=Breach,
    operation_id="getDataBreach",
    summary="One data breach with its decisions, deadline and history (staff)",
    responses=STAFF_ERRORS,
)
def get_data_breach(
    organisation_id: OrgId,
    breach_id: BreachId,
    state: AppState = Depends(get_state),
    _user: staff.StaffUser = Depends(READ_BREACHES),
) -> Any:
    return _breach_answer(state, _existing_breach(state, organisation_id, breach_id))


@router.patch(
    BREACH,
    response_model=Breach,
    operation_id="changeDataBreach",
    summary="Correct or complete what is known about a breach (incidents:manage)",
    responses={**STAFF_ERRORS, **CONFLICT},
)
def change_data_breach(
    organisation_id: OrgId,
    breach_id: BreachId,
    body: BreachChange,
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(MANAGE_BREACHES),
) -> Any:
    facts = {f.name for f in fields(br.BreachFacts)}
    updates: dict[str, Any] = {}
    for name in body.model_fields_set & facts:
        value = getattr(body, name)
        updates[name] = tuple(value) if isinstance(value, list) else value
    return _changed(
        state,
        lambda: br.change_facts(
            state.engine,
            state.register,
            organisation_id,
            breach_id,
            updates,
            _who(user),
            expected_revision=body.revision,
        ),
    )


@router.put(
    BREACH + "/authority-decision",
    response_model=Breach,
    operation_id="decideAuthorityNotification",
    summary="Decide whether to notify the Autoriteit Persoonsgegevens (art. 33), with reason",
    responses={**STAFF_ERRORS, **CONFLICT},
)
def decide_authority(
    organisation_id: OrgId,
    breach_id: BreachId,
    body: BreachAuthorityDecision,
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(MANAGE_BREACHES),
) -> Any:
    return _changed(
        state,
        lambda: br.decide_authority(
            state.engine,
            organisation_id,
            breach_id,
            notify=body.notify,
            reason=body.reason,
            by=_who(user),
            notified_at=body.notified_at,
            reference=body.reference,
            expected_revision=body.revision,
        ),
    )


@router.put(
    BREACH + "/authority-notification",
    response_model=Breach,
    operation_id="recordAuthorityNotification",
    summary="Record when the AP was notified, with its reference (after a decision to notify)",
    responses={**STAFF_ERRORS, **CONFLICT},
)
def record_authority_notification(
    organisation_id: OrgId,
    breach_id: BreachId,
    body: BreachAuthorityNotification,
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(MANAGE_BREACHES),
) -> Any:
    return _changed(
        state,
        lambda: br.record_authority_notification(
            state.engine,
            organisation_id,
            breach_id,
            notified_at=body.notified_at,
            reference=body.reference,
            by=_who(user),
            expected_revision=body.revision,
        ),
    )


@router.put(
    BREACH + "/residents-decision",
    response_model=Breach,
    operation_id="decideResidentsNotification",
    summary="Decide whether to tell the people concerned (art. 34), with reason",
    responses={**STAFF_ERRORS, **CONFLICT},
)
def decide_residents(
    organisation_id: OrgId,
    breach_id: BreachId,
    body: BreachResidentsDecision,
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(MANAGE_BREACHES),
) -> Any:
    return _changed(
        state,
        lambda: br.decide_residents(
            state.engine,
            organisation_id,
            breach_id,
            notify=body.notify,
            reason=body.reason,
            by=_who(user),
            notified_at=body.notified_at,
            expected_revision=body.revision,
        ),
    )


@router.put(
    BREACH + "/closure",
    response_model=Breach,
    operation_id="closeDataBreach",
    summary="Close a breach whose notification decisions are taken and carried out",
    responses={**STAFF_ERRORS, **CONFLICT},
)
def close_data_breach(
    organisation_id: OrgId,
    breach_id: BreachId,
    body: BreachClosure,
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(MANAGE_BREACHES),
) -> Any:
    return _changed(
        state,
        lambda: br.close_breach(
            state.engine,
            organisation_id,
            breach_id,
            by=_who(user),
            note=body.note,
            expected_revision=body.revision,
        ),
    )


@router.get(
    BREACH + "/affected-data-subjects",
    response_model=BreachSizing,
    operation_id="sizeDataBreach",
    summary="How many data subjects the logbook shows for activities and a period (counts only)",
    responses=STAFF_ERRORS,
)
def size_data_breach(
    organisation_id: OrgId,
    breach_id: BreachId,
    activity: Annotated[
        list[Annotated[str, Field(pattern=SLUG)]] | None,
        Query(
            max_length=50,
            description="Processing activity id; repeat for more. Default: the breach's.",
        ),
    ] = None,
    since: Annotated[
        AwareDatetime | None,
        Query(alias="from", description="Start (inclusive); default: when the breach started."),
    ] = None,
    until: Annotated[
        AwareDatetime | None,
        Query(description="End (exclusive); default: when it ended, or its discovery."),
    ] = None,
    state: AppState = Depends(get_state),
    _user: staff.StaffUser = Depends(READ_BREACHES),
) -> Any:
    breach = _existing_breach(state, organisation_id, breach_id)
    window = br.sizing_window(
        breach, _in_range("query.from", since), _in_range("query.until", until)
    )
    if window is None:
        raise _bad("query.from", "Het begin van het datalek is niet bekend; geef from (en until).")
    activities = list(activity or breach.activities)
    try:
        result = sizing.affected_data_subjects(
            state.engine, organisation_id, activities, window[0], window[1]
        )
    except sizing.SizingError as error:
        field = error.field.split("[")[0]
        name = {"activity": "query.activity", "from": "query.from", "until": "query.until"}
        raise _bad(name.get(field, f"query.{field}"), error.message) from None
    return BreachSizing(
        organisation_id=organisation_id,
        breach_id=breach_id,
        from_=result.since,
        until=result.until,
        activities=[
            BreachActivitySize(
                activity_id=a.activity_id,
                data_subjects=a.data_subjects,
                records=a.records,
                by_id_type=a.by_id_type,
            )
            for a in result.activities
        ],
        data_subjects=result.data_subjects,
        records=result.records,
        several_keys=result.several_keys,
    )


# --- break-the-glass reviews -------------------------------------------------------------------


def _review(review: rv.Review) -> BreakGlassReview:
    return BreakGlassReview(
        decision_id=review.decision_id,
        verdict=review.verdict,
        note=review.note,
        reviewer_id=review.reviewer_id,
        reviewer_name=review.reviewer_name,
        reviewed_at=review.reviewed_at,
    )


def _decision(item: rv.BreakGlassDecision, user: staff.StaffUser) -> BreakGlassDecision:
    return BreakGlassDecision(
        decision_id=item.decision_id,
        decided_at=item.decided_at,
        purpose=item.purpose,
        action=item.action,
        data_category=item.data_category,
        role=item.role,
        department=item.department,
        rules=list(item.rules),
        justification=item.justification if user.can(staff.BREAK_GLASS_REVIEW) else None,
        channel=item.channel,
        dataset=item.dataset,
        case_id=item.case_id,
        about_person=item.about_person,
        review=_review(item.review) if item.review else None,
    )


@router.get(
    DECISIONS,
    response_model=BreakGlassPage,
    operation_id="listBreakGlassDecisions",
    summary="Decisions taken under break-the-glass, newest first, with their reviews (staff)",
    responses=STAFF_ERRORS,
)
def list_break_glass_decisions(
    request: Request,
    organisation_id: OrgId,
    reviewed: Annotated[
        bool | None,
        Query(description="false: only those waiting for a review; true: only reviewed ones."),
    ] = None,
    since: Annotated[
        AwareDatetime | None, Query(alias="from", description="Decided at or after.")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="Decided before.")] = None,
    params: PageParams = Depends(),
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(READ_REVIEWS),
) -> Any:
    items, total = rv.list_break_glass(
        state.engine,
        organisation_id,
        since=_in_range("query.from", since),
        until=_in_range("query.until", until),
        reviewed=reviewed,
        limit=params.page_size,
        offset=(params.page - 1) * params.page_size,
    )
    return page_of(request, [_decision(i, user) for i in items], total, params)


@router.get(
    DECISIONS + "/{decisionId}",
    response_model=BreakGlassDecision,
    operation_id="getBreakGlassDecision",
    summary="One break-the-glass decision with its review (staff)",
    responses=STAFF_ERRORS,
)
def get_break_glass_decision(
    organisation_id: OrgId,
    decision_id: DecisionId,
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(READ_REVIEWS),
) -> Any:
    item = rv.get_break_glass(state.engine, organisation_id, decision_id)
    if item is None:
        raise _no_decision(organisation_id, decision_id)
    return _decision(item, user)


@router.put(
    DECISIONS + "/{decisionId}/review",
    response_model=BreakGlassReview,
    status_code=201,
    operation_id="reviewBreakGlassDecision",
    summary="Record the final review of a break-the-glass decision (break-glass:review)",
    responses={**STAFF_ERRORS, **CONFLICT},
)
def review_break_glass_decision(
    organisation_id: OrgId,
    decision_id: DecisionId,
    body: BreakGlassReviewInput,
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(REVIEW),
) -> Any:
    reviewer = rv.Reviewer(user.id, user.name, user.organisation_id, user.roles, user.department)
    try:
        review = rv.record_review(
            state.engine,
            organisation_id,
            decision_id,
            reviewer=reviewer,
            verdict=body.verdict,
            note=body.note,
        )
    except rv.ReviewError as error:
        name = BODY_FIELDS.get(error.field, "body")
        raise ProblemError(
            400, str(error), [InvalidParam(name=name, type="value_error", reason=error.message)]
        ) from None
    except rv.ReviewNotFound:
        raise _no_decision(organisation_id, decision_id) from None
    except rv.SelfReview as error:
        raise ProblemError(403, str(error)) from None
    except rv.AlreadyReviewed as error:
        raise ProblemError(409, str(error)) from None
    location = f"{API_PREFIX}/organisations/{organisation_id}/break-glass-decisions/{decision_id}"
    return created(_review(review), location)
