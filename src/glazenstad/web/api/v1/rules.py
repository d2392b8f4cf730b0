"""Rules API: decisions (one and batch), stored decisions, policy versions and their rules.

An unknown purpose, data category or organisation is a *deny with that reason*, never an error:
the caller asked "may I?" and the answer is no. Only malformed requests get 400.
"""

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import Field, StrictBool
from pydantic.json_schema import SkipJsonSchema

from glazenstad.logbook.stream import StreamUnavailable
from glazenstad.register.model import LawReference
from glazenstad.rules.decision_queue import DecisionPublisher
from glazenstad.rules.decisionlog import stored_decision
from glazenstad.rules.describe import RuleText, rule_text, rules_for_activity
from glazenstad.rules.engine import Decision
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource
from glazenstad.rules.store import PolicyVersion
from glazenstad.web.api.v1.common import (
    SYSTEM_ERRORS,
    ApiModel,
    BodyMoment,
    OrgId,
    entry_path,
    problem_responses,
)
from glazenstad.web.problems import ProblemError
from glazenstad.web.state import AppState, get_state
from glazenstad.web.systems import (
    DECISIONS_REQUEST,
    SystemClient,
    api_system,
    require_organisation,
)

_log = logging.getLogger("glazenstad.web.decisions")
router = APIRouter(tags=["Decisions"])

MAX_BATCH = 1000


class RequestModel(ApiModel):
    """Base of request bodies (booleans in them are StrictBool: `0` is not `false`)."""


Name = Annotated[str, Field(min_length=1, max_length=200)]


class ActorBody(RequestModel):
    role: Name
    department: Name
    organisation: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")]
    case_assignments: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=1000
    )


class ResourceBody(RequestModel):
    data_category: Annotated[str, Field(min_length=1, max_length=80)]
    dataset: Annotated[str, Field(max_length=80)] | None = None
    subject: Annotated[str, Field(max_length=200, pattern=r"^(.{0,8}|.{10,}|.*\D.*)$")] | None = (
        Field(
            default=None,
            description="Pseudonym of the data subject. Nine digits (a BSN) are refused: "
            "identifiers never leave their source system in plain text.",
        )
    )
    case_id: Annotated[str, Field(max_length=100)] | None = None
    linked_dataset: Annotated[str, Field(max_length=80)] | None = None


class ContextBody(RequestModel):
    # Optional but never null on the wire: the schema shows one date-time, as clients send it.
    time: BodyMoment | SkipJsonSchema[None] = Field(default=None, description="Defaults to now.")
    channel: Annotated[str, Field(max_length=100)] | None = None
    consent: list[Annotated[str, Field(max_length=600)]] = Field(
        default_factory=list, max_length=100
    )
    justification: Annotated[str, Field(max_length=2000)] | None = Field(
        default=None, description="Written emergency justification (break-the-glass)."
    )


class DecisionRequestBody(RequestModel):
    actor: ActorBody
    action: Annotated[
        str, Field(min_length=1, max_length=20, description="read, write, link, share or delete.")
    ]
    resource: ResourceBody
    purpose: Annotated[
        str, Field(min_length=1, max_length=600, description="Processing activity id or URI.")
    ]
    context: ContextBody = Field(default_factory=ContextBody)
    policy_version: Annotated[str, Field(pattern=r"^[0-9a-f]{8,64}$")] | None = Field(
        default=None, description="Decide with this stored version (e.g. a draft)."
    )

    def to_request(self) -> DecisionRequest:
        return DecisionRequest(
            actor=Actor(
                self.actor.role,
                self.actor.department,
                self.actor.organisation,
                frozenset(self.actor.case_assignments),
            ),
            action=self.action,
            resource=Resource(
                self.resource.data_category,
                self.resource.dataset,
                self.resource.subject,
                self.resource.case_id,
                self.resource.linked_dataset,
            ),
            purpose=self.purpose,
            context=Context(
                time=self.context.time.timestamp() if self.context.time else None,
                channel=self.context.channel,
                consent=frozenset(self.context.consent),
                justification=self.context.justification,
            ),
        )


class LawOut(ApiModel):
    title: str
    bwb_id: str
    article: str | None
    link: str


class RuleRef(ApiModel):
    id: str
    title: str
    effect: Literal["permit", "deny"]
    source: Literal["policy", "register"]


class ObligationsOut(ApiModel):
    pseudonymise: list[str]
    mask: list[str]
    retention: str | None
    log_confidentiality: str | None
    require_justification: bool


class Receipt(ApiModel):
    decision_id: str
    policy_version: str = Field(description="Hash of the stored policy version used.")
    compiled_hash: str = Field(description="Hash of the policy with the register state used.")
    engine_version: str
    input_hash: str
    receipt_hash: str
    decided_at: datetime


class DecisionOut(ApiModel):
    effect: Literal["permit", "deny"]
    permitted: bool
    reason: str = Field(
        description="permit, break_glass, deny_rule, no_permit, "
        "unknown_purpose, inactive_purpose, unknown_data_category, "
        "unknown_action or no_policy."
    )
    rules: list[RuleRef]
    legal_basis: list[LawOut]
    obligations: ObligationsOut
    break_glass: bool
    explanation: str | None
    receipt: Receipt


class BatchBody(RequestModel):
    requests: list[DecisionRequestBody] = Field(min_length=1, max_length=MAX_BATCH)
    include_explanation: StrictBool = False


class BatchOut(ApiModel):
    results: list[DecisionOut]


class StoredDecisionOut(ApiModel):
    decision_id: str
    decided_at: datetime
    organisation_id: str
    effect: Literal["permit", "deny"]
    reason: str
    rules: list[str]
    break_glass: bool
    policy_version: str | None
    compiled_hash: str | None
    engine_version: str
    input_hash: str
    request: dict[str, Any]


def _law(law: LawReference) -> LawOut:
    return LawOut(title=law.title, bwb_id=law.bwb_id, article=law.article, link=law.effective_link)


def decision_json(decision: Decision, explain: bool = True) -> dict[str, Any]:
    """A decision as the JSON of `DecisionOut`, built directly.

    Decisions are the API's hot path: building and re-validating nested pydantic models cost
    more than deciding. `DecisionOut` stays the documented contract, and the contract tests
    check every answer against it.
    """
    out = decision.outcome
    obligations = out.obligations
    return {
        "effect": out.effect,
        "permitted": out.effect == "permit",
        "reason": out.reason,
        "rules": [
            {"id": r.id, "title": r.title, "effect": r.effect, "source": r.source}
            for r in out.rules
        ],
        "legalBasis": [
            {
                "title": law.title,
                "bwbId": law.bwb_id,
                "article": law.article,
                "link": law.effective_link,
            }
            for law in out.legal_basis
        ],
        "obligations": {
            "pseudonymise": obligations.pseudonymise,
            "mask": obligations.mask,
            "retention": obligations.retention,
            "logConfidentiality": obligations.log_confidentiality,
            "requireJustification": obligations.require_justification,
        },
        "breakGlass": out.break_glass,
        "explanation": decision.explanation() if explain else None,
        "receipt": decision.receipt(),
    }


def _decide(state: AppState, body: DecisionRequestBody) -> Decision:
    try:
        return state.rules.decide(body.to_request(), body.policy_version)
    except LookupError as exc:
        raise ProblemError(
            404,
            f"Beleidsversie {body.policy_version} bestaat niet voor '{body.actor.organisation}'.",
        ) from exc


DECISION_QUEUE_UNAVAILABLE = (
    "De beslissing kon nu niet worden vastgelegd. Stel de vraag opnieuw na het aantal seconden "
    "in Retry-After. (The decision log queue did not confirm storing the decision.)"
)
RETRY_AFTER_QUEUE = 2


async def _logged(request: Request, state: AppState, decisions: list[Decision]) -> None:
    """Return only once the decisions are durable: committed to the decision log (group
    commit) or, with a decision stream configured, stored by JetStream (docs/scaling.md)."""
    stream: DecisionPublisher | None = getattr(request.app.state, "decision_stream", None)
    if stream is None:
        await run_in_threadpool(state.decision_log.record_many, decisions, wait=True)
        return
    try:
        await stream.record(decisions)
    except StreamUnavailable as exc:
        _log.warning("decisions not queued: %s", exc)
        raise ProblemError(
            503, DECISION_QUEUE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_QUEUE)}
        ) from exc


ERRORS = problem_responses(400, 404, 500)
DECISION_ERRORS = {**SYSTEM_ERRORS, **problem_responses(404)}
ASKS_DECISIONS = api_system(DECISIONS_REQUEST)


@router.post(
    "/decisions",
    response_model=DecisionOut,
    operation_id="decide",
    summary="May this actor do this with these data, for this purpose, now?",
    responses=DECISION_ERRORS,
)
async def decide(
    request: Request,
    body: DecisionRequestBody,
    state: AppState = Depends(get_state),
    client: SystemClient = Depends(ASKS_DECISIONS),
) -> Any:
    require_organisation(client, body.actor.organisation)
    decision = _decide(state, body)
    await _logged(request, state, [decision])
    return JSONResponse(decision_json(decision))


@router.post(
    "/decisions/batch",
    response_model=BatchOut,
    operation_id="decideBatch",
    summary=f"Many decisions in one call (at most {MAX_BATCH})",
    responses=DECISION_ERRORS,
)
async def decide_batch(
    request: Request,
    body: BatchBody,
    state: AppState = Depends(get_state),
    client: SystemClient = Depends(ASKS_DECISIONS),
) -> Any:
    for item in body.requests:
        require_organisation(client, item.actor.organisation)
    decisions = [_decide(state, item) for item in body.requests]
    await _logged(request, state, decisions)
    return JSONResponse(
        {"results": [decision_json(d, body.include_explanation) for d in decisions]}
    )


@router.api_route(
    "/decisions/batch", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
def batch_other_methods() -> None:
    """Without this, GET /decisions/batch would be read as a decision id (400, not 405)."""
    raise ProblemError(405, "Gebruik POST voor /decisions/batch.", headers={"Allow": "POST"})


@router.get(
    "/decisions/{decisionId}",
    response_model=StoredDecisionOut,
    operation_id="getDecision",
    summary="A stored decision with its receipt data (of the caller's own organisation)",
    responses=DECISION_ERRORS,
)
def get_decision(
    decision_id: Annotated[str, Path(alias="decisionId", pattern=r"^[0-9a-f]{32}$")],
    state: AppState = Depends(get_state),
    client: SystemClient = Depends(ASKS_DECISIONS),
) -> Any:
    row = stored_decision(state.engine, decision_id)
    # Another organisation's decision answers as if it did not exist.
    if row is None or row["organisation_id"] != client.organisation_id:
        raise ProblemError(404, f"Beslissing {decision_id} staat niet in het beslissingenlogboek.")
    return StoredDecisionOut(
        **{k: v for k, v in row.items() if k in StoredDecisionOut.model_fields}
    )


class LifecycleOut(ApiModel):
    status: Literal["draft", "active", "retired"]
    at: datetime
    by: str
    note: str | None


class PolicyVersionOut(ApiModel):
    version: str
    organisation_id: str
    policy_id: str
    title: str
    status: Literal["draft", "active", "retired"]
    created_at: datetime
    created_by: str
    lifecycle: list[LifecycleOut]


class RuleTextOut(ApiModel):
    id: str
    effect: Literal["permit", "deny"]
    source: Literal["policy", "register"]
    title: str
    explanation: str
    who: str = Field(description="Who it is about, in plain Dutch.")
    what: str = Field(description="What it is about, in plain Dutch.")
    conditions: list[str]
    obligations: list[str]
    legal_basis: list[LawOut]
    break_glass: bool


def _version_out(version: PolicyVersion) -> PolicyVersionOut:
    return PolicyVersionOut(
        version=version.content_hash,
        organisation_id=version.organisation_id,
        policy_id=version.policy_id,
        title=version.title,
        status=version.status,
        created_at=version.created_at,
        created_by=version.created_by,
        lifecycle=[
            LifecycleOut(
                status=e.status,
                at=e.at,
                by=e.by,
                note=e.note,
            )
            for e in version.events
        ],
    )


def _rule_out(text: RuleText) -> RuleTextOut:
    return RuleTextOut(
        id=text.id,
        effect=text.effect,
        source=text.source,
        title=text.title,
        explanation=text.explanation,
        who=text.who,
        what=text.what,
        conditions=list(text.conditions),
        obligations=list(text.obligations),
        legal_basis=[_law(law) for law in text.legal_basis],
        break_glass=text.break_glass,
    )


VersionId = Annotated[str, Path(alias="policyVersion", pattern=r"^[0-9a-f]{8,64}$")]


@router.get(
    "/organisations/{organisationId}/policies",
    response_model=list[PolicyVersionOut],
    operation_id="listPolicyVersions",
    summary="Policy versions of an organisation with their lifecycle",
    tags=["Policies"],
    responses=ERRORS,
)
def list_policies(
    organisation_id: OrgId,
    status: Annotated[Literal["draft", "active", "retired"] | None, Query()] = None,
    state: AppState = Depends(get_state),
) -> Any:
    versions = state.rules.policies.versions(organisation_id)
    return [_version_out(v) for v in versions if status is None or v.status == status]


@router.get(
    "/organisations/{organisationId}/policies/{policyVersion}",
    response_model=PolicyVersionOut,
    operation_id="getPolicyVersion",
    summary="One policy version",
    tags=["Policies"],
    responses=ERRORS,
)
def get_policy(
    organisation_id: OrgId, version: VersionId, state: AppState = Depends(get_state)
) -> Any:
    found = state.rules.policies.get(organisation_id, version)
    if found is None:
        raise ProblemError(404, f"Beleidsversie {version} bestaat niet voor '{organisation_id}'.")
    return _version_out(found)


@router.get(
    "/organisations/{organisationId}/policies/{policyVersion}/rules",
    response_model=list[RuleTextOut],
    operation_id="listPolicyRules",
    summary="The rules of a policy version in plain Dutch, including purpose binding",
    tags=["Policies"],
    responses=ERRORS,
)
def policy_rules(
    organisation_id: OrgId, version: VersionId, state: AppState = Depends(get_state)
) -> Any:
    compiled = state.rules.version(organisation_id, version)
    if compiled is None:
        raise ProblemError(404, f"Beleidsversie {version} bestaat niet voor '{organisation_id}'.")
    return [_rule_out(rule_text(rule)) for rule in compiled.rules]


@router.get(
    "/organisations/{organisationId}/processing-activities/{activityId}/rules",
    response_model=list[RuleTextOut],
    operation_id="listActivityRules",
    summary="Who may do what with this activity's data, why, and on which legal basis",
    tags=["Policies"],
    responses=ERRORS,
)
def activity_rules(
    organisation_id: OrgId,
    activity_id: Annotated[str, entry_path("activityId")],
    state: AppState = Depends(get_state),
) -> Any:
    reg = state.register.snapshot().organisation(organisation_id)
    if reg is None or reg.activity(activity_id) is None:
        raise ProblemError(
            404, f"Verwerkingsactiviteit '{activity_id}' staat niet in het register."
        )
    compiled = state.rules.engine().active(organisation_id)
    if compiled is None:
        return []
    return [_rule_out(t) for t in rules_for_activity(compiled, activity_id)]
