"""The Python SDK for applications: decide in process, or over HTTP, with one result type.

    from glazenstad.rules.sdk import InProcessDecider
    decider = InProcessDecider("postgresql+psycopg://glazenstad@db/glazenstad")
    result = decider.decide(role="wmo-consulent", department="Sociaal Domein",
                            organisation="voorbeeldstad", action="read",
                            data_category="gezondheid", purpose="wmo-maatwerkvoorziening",
                            case_id="z-12", case_assignments=["z-12"])
    if not result.permitted:
        show(result.explanation)

Both deciders record every decision in the decision log and return the receipt, so an
application can put the decision id next to its own log record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource


@dataclass(frozen=True)
class DecisionResult:
    decision_id: str
    effect: str
    reason: str
    rules: tuple[str, ...]
    explanation: str
    obligations: dict[str, Any]
    break_glass: bool
    receipt: dict[str, Any] = field(default_factory=dict)

    @property
    def permitted(self) -> bool:
        return self.effect == "permit"


def build_request(
    *,
    role: str,
    department: str,
    organisation: str,
    action: str,
    data_category: str,
    purpose: str,
    dataset: str | None = None,
    subject: str | None = None,
    case_id: str | None = None,
    linked_dataset: str | None = None,
    case_assignments: list[str] | None = None,
    time: datetime | None = None,
    channel: str | None = None,
    consent: list[str] | None = None,
    justification: str | None = None,
) -> DecisionRequest:
    return DecisionRequest(
        actor=Actor(role, department, organisation, frozenset(case_assignments or ())),
        action=action,
        resource=Resource(data_category, dataset, subject, case_id, linked_dataset),
        purpose=purpose,
        context=Context(
            time=time.timestamp() if time else None,
            channel=channel,
            consent=frozenset(consent or ()),
            justification=justification,
        ),
    )


class InProcessDecider:
    """Decisions in the application's own process, against the shared database."""

    def __init__(self, database_url: str) -> None:
        from glazenstad.db.engine import make_engine, migrate
        from glazenstad.register.store import RegisterStore
        from glazenstad.rules.decisionlog import DecisionLog
        from glazenstad.rules.service import RulesService
        from glazenstad.rules.store import PolicyStore

        self._engine = make_engine(database_url)
        migrate(self._engine)
        self.service = RulesService(RegisterStore(self._engine), PolicyStore(self._engine))
        self.log = DecisionLog(self._engine)

    def decide(
        self, request: DecisionRequest | None = None, *, wait: bool = False, **fields: Any
    ) -> DecisionResult:
        """Decide (from a request or keyword fields) and record it; `wait` for durability."""
        decision = self.service.decide(request or build_request(**fields))
        self.log.record(decision, wait=wait)
        out = decision.outcome
        return DecisionResult(
            decision_id=decision.id,
            effect=out.effect,
            reason=out.reason,
            rules=out.rule_ids,
            explanation=decision.explanation(),
            obligations=out.obligations.model_dump(),
            break_glass=out.break_glass,
            receipt=decision.receipt(),
        )

    def close(self) -> None:
        self.log.close()
        self._engine.dispose()


class HttpDecider:
    """Decisions through the Glazen Stad API (`POST /api/v1/decisions`).

    `token` is the system's bearer token (scope `decisions:request`): an OAuth2 access token
    or a static system token.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = client or httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers=headers
        )
        if client is not None and token:
            self._client.headers.update(headers)

    def decide(self, request: DecisionRequest | None = None, **fields: Any) -> DecisionResult:
        req = request or build_request(**fields)
        body = req.canonical()
        time_value = body["context"].pop("time")
        if time_value is not None:
            from datetime import UTC

            body["context"]["time"] = datetime.fromtimestamp(time_value, UTC).isoformat()
        response = self._client.post("/api/v1/decisions", json=body)
        if response.status_code != 200:
            problem = (
                response.json() if response.headers.get("content-type", "").endswith("json") else {}
            )
            raise DecisionRequestError(response.status_code, problem)
        data = response.json()
        return DecisionResult(
            decision_id=data["receipt"]["decisionId"],
            effect=data["effect"],
            reason=data["reason"],
            rules=tuple(r["id"] for r in data["rules"]),
            explanation=data["explanation"],
            obligations=data["obligations"],
            break_glass=data["breakGlass"],
            receipt=data["receipt"],
        )

    def close(self) -> None:
        self._client.close()


class DecisionRequestError(Exception):
    """The API refused the request (e.g. 400 with the invalid fields)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(f"{status}: {problem.get('detail', 'decision request refused')}")
