"""Signals API: staff file signals about rules that blocked their work; owners answer them.

Filing needs the permission `signals:file` and a denied decision of one's own organisation.
Reading shows each person what they may see: their own signals, the signals about rules they
answer for (`signals:triage`), or everything (`signals:triage-all`). Answering follows the
workflow new → under_review → rule_changed | explained | rejected. The figures endpoint is
public and holds aggregate numbers only.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field

from glazenstad.insight.signals import (
    Actor,
    Signal,
    SignalConflict,
    SignalError,
    SignalForbidden,
    SignalInputError,
    SignalNotFound,
    SignalStore,
    denied_decision,
    public_signal_figures,
    workflow,
)
from glazenstad.insight.signals.content import MAX_RESPONSE, MAX_TEXT
from glazenstad.web import staff
from glazenstad.web.api.v1.common import (
    API_PREFIX,
    STAFF_ERRORS,
    ApiModel,
    OrgId,
    PageParams,
    created,
    described_problem,
    page_model,
    paginate,
    problem_responses,
    registered_organisation,
)
from glazenstad.web.problems import InvalidParam, ProblemError
from glazenstad.web.state import AppState, get_state

router = APIRouter(tags=["Signals"])

State = Literal["new", "under_review", "rule_changed", "explained", "rejected"]
RULE_ID = r"^[a-z0-9][a-z0-9-]{0,79}$"
DECISION_ID = r"^[0-9a-f]{32}$"
CONFLICT = described_problem(409, "Not possible in the signal's present state, or already done.")
FIELDS = {
    "decision": "body.decisionId",
    "rule": "body.ruleId",
    "text": "body.text",
    "state": "body.state",
    "response": "body.response",
}


def signal_actor(user: staff.StaffUser) -> Actor:
    """What a member of staff may do with signals, from their permissions and ownership."""
    return Actor(
        id=user.id,
        organisation_id=user.organisation_id,
        owns=frozenset(user.owns),
        may_file=user.can(staff.SIGNALS_FILE),
        may_triage=user.can(staff.SIGNALS_TRIAGE),
        may_triage_all=user.can(staff.SIGNALS_TRIAGE_ALL),
    )


SIGNAL_PERMISSIONS = (staff.SIGNALS_FILE, staff.SIGNALS_TRIAGE, staff.SIGNALS_TRIAGE_ALL)
TRIAGE_PERMISSIONS = (staff.SIGNALS_TRIAGE, staff.SIGNALS_TRIAGE_ALL)


def _problem(error: SignalError) -> ProblemError:
    if isinstance(error, SignalInputError):
        name = FIELDS.get(error.field, f"body.{error.field}")
        return ProblemError(
            400,
            error.message,
            [InvalidParam(name=name, type="value_error", reason=error.message)],
        )
    if isinstance(error, SignalNotFound):
        return ProblemError(404, error.message)
    if isinstance(error, SignalForbidden):
        return ProblemError(403, error.message)
    assert isinstance(error, SignalConflict)
    return ProblemError(409, error.message)


class SignalFiling(ApiModel):
    """A new signal: the denied decision, the rule it is about, and why it blocks the work."""

    decision_id: Annotated[str, Field(pattern=DECISION_ID)] = Field(
        description="The decision id from the denial's receipt (Glazenstad-Decision-Id)."
    )
    rule_id: Annotated[str, Field(pattern=RULE_ID)] | None = Field(
        default=None,
        description="The rule the signal is about; may be left out when one rule decided.",
    )
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)] = Field(
        description="Why the rule blocks the work (10 to 2000 characters). No personal data: "
        "a text with a BSN or a licence plate is refused."
    )


class SignalTransition(ApiModel):
    """The next step of a signal, by the rule's owner."""

    state: State = Field(description="under_review, then rule_changed, explained or rejected.")
    response: Annotated[str, Field(max_length=MAX_RESPONSE)] | None = Field(
        default=None,
        description="The answer to the person who filed it; required to close a signal.",
    )


class SignalEventOut(ApiModel):
    at: datetime
    by: str = Field(description="Staff id of who took the step.")
    from_state: State | None = Field(description="Null for the filing itself.")
    to_state: State
    text: str | None


class SignalSummary(ApiModel):
    id: int
    decision_id: str
    rule_id: str | None = Field(description="Null when no rule decided (e.g. unknown purpose).")
    rule_title: str
    owner: str = Field(description="Who answers for the rule.")
    purpose: str = Field(description="The processing activity of the decision.")
    state: State
    filed_by: str
    filed_at: datetime
    changed_at: datetime


class SignalOut(SignalSummary):
    organisation_id: str
    text: str
    response: str | None
    may_answer: bool = Field(description="Whether the caller may take the next step.")
    next_states: list[State] = Field(description="States the signal may move to next.")
    history: list[SignalEventOut]


SignalPage = page_model("SignalPage", SignalSummary)


class SignalStateCounts(ApiModel):
    new: int
    under_review: int
    rule_changed: int
    explained: int
    rejected: int


class PublicSignalNumbers(ApiModel):
    """Aggregate numbers about an organisation's signals: no text, no rules, no people."""

    organisation_id: str
    total: int = Field(description="Signals filed, ever.")
    open: int = Field(description="New or under review.")
    handled: int = Field(description="Closed with an answer.")
    by_state: SignalStateCounts
    rules_with_signals: int = Field(description="Different rules signals were about.")
    median_days_to_handle: float | None = Field(
        description="Median days from filing to the closing answer; null before the first."
    )
    first_filed_at: datetime | None
    last_filed_at: datetime | None


def _summary(signal: Signal) -> SignalSummary:
    return SignalSummary(
        id=signal.id,
        decision_id=signal.decision_id,
        rule_id=signal.rule_id,
        rule_title=signal.rule_title,
        owner=signal.owner,
        purpose=signal.purpose,
        state=signal.state,
        filed_by=signal.filed_by,
        filed_at=signal.filed_at,
        changed_at=signal.changed_at,
    )


def _signal_out(signal: Signal, actor: Actor) -> SignalOut:
    may_answer = actor.may_answer(signal)
    return SignalOut(
        **_summary(signal).model_dump(),
        organisation_id=signal.organisation_id,
        text=signal.text,
        response=signal.response,
        may_answer=may_answer,
        next_states=list(workflow.next_states(signal.state)) if may_answer else [],
        history=[
            SignalEventOut(
                at=e.at,
                by=e.by,
                from_state=e.from_state,
                to_state=e.to_state,
                text=e.text,
            )
            for e in signal.history
        ],
    )


SignalId = Annotated[int, Path(alias="signalId", ge=1, le=2**62, description="Signal id.")]


@router.post(
    "/organisations/{organisationId}/signals",
    response_model=SignalOut,
    status_code=201,
    operation_id="fileSignal",
    summary="File a signal: this rule blocked my work, because …",
    responses={**STAFF_ERRORS, **CONFLICT},
)
def file_signal(
    organisation_id: OrgId,
    body: SignalFiling,
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(staff.api_staff(staff.SIGNALS_FILE)),
) -> Any:
    actor = signal_actor(user)
    register = state.register.snapshot().organisation(organisation_id)
    try:
        denied = denied_decision(
            state.engine, state.rules.policies, register, actor, body.decision_id
        )
        signal = SignalStore(state.engine).file(actor, denied, body.rule_id, body.text)
    except SignalError as error:
        raise _problem(error) from None
    location = f"{API_PREFIX}/organisations/{organisation_id}/signals/{signal.id}"
    return created(_signal_out(signal, actor), location)


@router.get(
    "/organisations/{organisationId}/signals",
    response_model=SignalPage,
    operation_id="listSignals",
    summary="Signals the caller may see: their own, those about rules they answer for, or all",
    responses=STAFF_ERRORS,
)
def list_signals(
    request: Request,
    organisation_id: OrgId,
    signal_state: Annotated[State | None, Query(alias="state")] = None,
    rule_id: Annotated[str | None, Query(alias="ruleId", pattern=RULE_ID)] = None,
    params: PageParams = Depends(),
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(staff.api_staff(*SIGNAL_PERMISSIONS)),
) -> Any:
    found = SignalStore(state.engine).search(
        signal_actor(user), state=signal_state, rule_id=rule_id
    )
    return paginate(request, [_summary(s) for s in found], params)


@router.get(
    "/organisations/{organisationId}/signals/{signalId}",
    response_model=SignalOut,
    operation_id="getSignal",
    summary="One signal with its history",
    responses=STAFF_ERRORS,
)
def get_signal(
    organisation_id: OrgId,
    signal_id: SignalId,
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(staff.api_staff(*SIGNAL_PERMISSIONS)),
) -> Any:
    actor = signal_actor(user)
    try:
        return _signal_out(SignalStore(state.engine).get(actor, signal_id), actor)
    except SignalError as error:
        raise _problem(error) from None


@router.post(
    "/organisations/{organisationId}/signals/{signalId}/transitions",
    response_model=SignalOut,
    operation_id="moveSignal",
    summary="Take a signal under review, or close it with an answer",
    responses={**STAFF_ERRORS, **CONFLICT},
)
def move_signal(
    organisation_id: OrgId,
    signal_id: SignalId,
    body: SignalTransition,
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(staff.api_staff(*TRIAGE_PERMISSIONS)),
) -> Any:
    actor = signal_actor(user)
    try:
        moved = SignalStore(state.engine).move(actor, signal_id, body.state, body.response)
    except SignalError as error:
        raise _problem(error) from None
    return _signal_out(moved, actor)


@router.get(
    "/organisations/{organisationId}/signal-figures",
    response_model=PublicSignalNumbers,
    operation_id="getSignalFigures",
    summary="Public: how many signals there were and what became of them (numbers only)",
    responses=problem_responses(400, 404, 500),
)
def signal_figures(organisation_id: OrgId, state: AppState = Depends(get_state)) -> Any:
    registered_organisation(state, organisation_id)
    figures = public_signal_figures(state.engine, organisation_id)
    return PublicSignalNumbers(
        organisation_id=figures.organisation_id,
        total=figures.total,
        open=figures.open,
        handled=figures.handled,
        by_state=SignalStateCounts(**figures.by_state),
        rules_with_signals=figures.rules_with_signals,
        median_days_to_handle=figures.median_days_to_handle,
        first_filed_at=figures.first_filed_at,
        last_filed_at=figures.last_filed_at,
    )
