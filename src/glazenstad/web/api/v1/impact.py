"""Impact replay API: what a stored policy version would have decided on a past period.

`POST /organisations/{organisationId}/impact-replays` replays the organisation's recorded
decision requests of the period against the version (typically a draft) and answers with the
counts per activity, rule and department, and explained examples. Nothing is stored; the
answer is computed for the call (a month of a large municipality takes seconds). It needs the
staff permission `policy:impact`, for one's own organisation.
"""

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, Field, StrictInt

from glazenstad.db.base import utcnow
from glazenstad.insight.impact import (
    DEFAULT_EXAMPLES,
    MAX_EXAMPLES,
    ImpactError,
    report_json,
    run_impact_replay,
)
from glazenstad.web import staff
from glazenstad.web.api.v1.common import (
    ApiModel,
    BodyMoment,
    OrgId,
    described_problem,
    invalid_input,
    problem_responses,
)
from glazenstad.web.problems import ProblemError
from glazenstad.web.state import AppState, get_state

router = APIRouter(tags=["Impact"])

MAX_PERIOD = timedelta(days=366)
STAFF_ERRORS = {
    **problem_responses(400, 401, 404, 500),
    **described_problem(403, "The caller lacks `policy:impact`."),
}

Kind = Literal["permit_to_deny", "deny_to_permit", "other_change"]


class ImpactReplayRequest(ApiModel):
    policy_version: Annotated[str, Field(pattern=r"^[0-9a-f]{8,64}$")] = Field(
        description="The stored version to replay (its hash, or the first 8+ characters)."
    )
    since: BodyMoment = Field(description="Start of the period (decisions taken from then).")
    until: BodyMoment | None = Field(
        default=None, description="End of the period, not included; defaults to now."
    )
    examples: StrictInt = Field(
        default=DEFAULT_EXAMPLES,
        ge=0,
        le=MAX_EXAMPLES,
        description="Examples per kind of change.",
    )


class Counts(ApiModel):
    requests: int = Field(description="Recorded requests.")
    permit_to_deny: int = Field(description="Permitted then, denied by this version.")
    deny_to_permit: int = Field(description="Denied then, permitted by this version.")
    other_changes: int = Field(
        description="Same answer, but other rules decide or another reason applies."
    )


class ActivityImpactOut(Counts):
    activity_id: str
    name: str


class RuleImpactOut(Counts):
    rule_id: str
    title: str
    effect: Literal["permit", "deny"] | None = Field(
        description="None for a rule known from the recorded decisions only."
    )
    in_version: bool = Field(description="Whether the replayed version has this rule.")


class DepartmentImpactOut(Counts):
    department: str


class RuleRefOut(ApiModel):
    id: str
    title: str


class OutcomeOut(ApiModel):
    effect: Literal["permit", "deny"]
    reason: str
    rules: list[RuleRefOut]


class ImpactExampleOut(ApiModel):
    kind: Kind
    decision_id: str = Field(description="The recorded decision (GET /decisions/{decisionId}).")
    decided_at: AwareDatetime
    moment: AwareDatetime = Field(description="The moment the request was for (local time).")
    activity_id: str
    activity_name: str
    role: str
    department: str
    action: str
    data_category: str
    dataset: str | None
    linked_dataset: str | None
    channel: str | None
    justified: bool = Field(description="Whether a written justification was given.")
    identical_requests: int = Field(
        description="Recorded requests this version cannot tell apart from this one."
    )
    recorded: OutcomeOut
    replayed: OutcomeOut
    explanation: str = Field(description="Why this version answers as it does (plain Dutch).")


class Timings(ApiModel):
    fetch_seconds: float
    dedupe_seconds: float
    evaluate_seconds: float
    examples_seconds: float
    total_seconds: float


class ImpactReplayOut(ApiModel):
    organisation_id: str
    policy_version: str
    title: str
    status: Literal["draft", "active", "retired"]
    since: AwareDatetime
    until: AwareDatetime
    generated_at: AwareDatetime
    totals: Counts
    distinct_requests: int = Field(description="Requests as the version can tell them apart.")
    deduplicated: bool
    skipped: int = Field(description="Recorded requests that could not be read.")
    activities: list[ActivityImpactOut]
    rules: list[RuleImpactOut]
    departments: list[DepartmentImpactOut]
    examples: list[ImpactExampleOut]
    timings: Timings


def _invalid(name: str, reason: str) -> ProblemError:
    return invalid_input(name, reason, f"De periode klopt niet: {reason}")


@router.post(
    "/organisations/{organisationId}/impact-replays",
    response_model=ImpactReplayOut,
    operation_id="replayImpact",
    summary="Replay a period's recorded decisions against a policy version: what would change?",
    responses=STAFF_ERRORS,
)
def replay_impact(
    organisation_id: OrgId,
    body: ImpactReplayRequest,
    state: AppState = Depends(get_state),
    user: staff.StaffUser = Depends(staff.api_staff(staff.POLICY_IMPACT)),
) -> Any:
    until = body.until or utcnow()
    if until <= body.since:
        raise _invalid("body.until", "until must be after since")
    if until - body.since > MAX_PERIOD:
        raise _invalid("body.until", "a period is at most 366 days")
    if state.rules.policies.get(organisation_id, body.policy_version) is None:
        raise ProblemError(
            404, f"Beleidsversie {body.policy_version} bestaat niet voor '{organisation_id}'."
        )
    try:
        report = run_impact_replay(
            state.engine,
            state.rules,
            organisation_id,
            body.policy_version,
            body.since,
            until,
            examples=body.examples,
        )
    except ImpactError as exc:
        raise ProblemError(404, str(exc)) from exc
    return ImpactReplayOut.model_validate(report_json(report))
