"""The decision engine: holds compiled policy versions and decides requests against them.

`Engine.decide` is the hot path of the whole platform. It touches only the compiled index and
the request; the explanation (from the reference evaluator's trace) and the receipt (with input
hash) are computed when someone asks for them, so a caller that only needs yes/no pays for
yes/no.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from time import time as _now
from typing import Any, overload

from glazenstad.rules import outcome as oc
from glazenstad.rules.clock import local_weekday_minute
from glazenstad.rules.compiler import (
    INACTIVE_PURPOSE,
    NO_PERMIT,
    UNKNOWN_ACTION,
    UNKNOWN_DATA_CATEGORY,
    UNKNOWN_PURPOSE,
    CompiledPolicy,
)
from glazenstad.rules.effective import ENGINE_VERSION
from glazenstad.rules.explain import explain
from glazenstad.rules.language import ACTIONS
from glazenstad.rules.reference import evaluate
from glazenstad.rules.request import DecisionRequest

_ACTIONS = frozenset(ACTIONS)
NO_POLICY = oc.deny(oc.NO_POLICY)


class Decision:
    """A decision with its reasons; explanation and receipt are derived on first use."""

    __slots__ = (
        "_explanation",
        "_id",
        "_input_hash",
        "decided_at",
        "moment",
        "outcome",
        "policy",
        "request",
    )

    def __init__(
        self,
        policy: CompiledPolicy | None,
        request: DecisionRequest,
        moment: float,
        decided_at: float,
        outcome: oc.Outcome,
    ) -> None:
        self.policy = policy
        self.request = request
        self.moment = moment
        self.decided_at = decided_at
        self.outcome = outcome
        # `_id` and `_explanation` stay unset until asked for: the hot path assigns nothing extra.

    @property
    def permitted(self) -> bool:
        return self.outcome.effect == "permit"

    @property
    def effect(self) -> str:
        return self.outcome.effect

    @property
    def id(self) -> str:
        try:
            return self._id
        except AttributeError:
            self._id: str = uuid.uuid4().hex
            return self._id

    @property
    def policy_hash(self) -> str | None:
        """The stored policy version this decision used."""
        return self.policy.context.policy_hash if self.policy else None

    def canonical_input(self) -> dict[str, Any]:
        """The request as decided: its canonical form with the moment it was decided for."""
        canonical = self.request.canonical()
        canonical["context"]["time"] = self.moment
        return canonical

    def input_hash(self, canonical: dict[str, Any] | None = None) -> str:
        """SHA-256 of the request as decided; pass `canonical_input()` if already built (the
        decision log stores it too, and building it twice cost a fifth of a log row)."""
        try:
            return self._input_hash
        except AttributeError:
            canonical = canonical if canonical is not None else self.canonical_input()
            text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
            self._input_hash: str = hashlib.sha256(text.encode("utf-8")).hexdigest()
            return self._input_hash

    def receipt(self) -> dict[str, Any]:
        """What it takes to trace this decision later: which policy, which engine, which input."""
        input_hash = self.input_hash()
        policy_hash = self.policy_hash or "-"
        compiled = self.policy.content_hash if self.policy else "-"
        return {
            "decisionId": self.id,
            "policyVersion": policy_hash,
            "compiledHash": compiled,
            "engineVersion": ENGINE_VERSION,
            "inputHash": input_hash,
            "receiptHash": hashlib.sha256(
                f"{compiled}|{ENGINE_VERSION}|{input_hash}|{self.outcome.effect}".encode()
            ).hexdigest(),
            "decidedAt": datetime.fromtimestamp(self.decided_at, UTC).isoformat(),
        }

    def explanation(self) -> str:
        try:
            return self._explanation
        except AttributeError:
            if self.policy is None:
                self._explanation: str = (
                    f"Er is geen actieve spelregelset voor organisatie "
                    f"'{self.request.actor.organisation}'. Zonder spelregels is het antwoord nee."
                )
            else:
                self._explanation = _explained(self.policy, self.request, self.moment)
            return self._explanation


_EXPLANATIONS_KEPT = 10_000


def _explained(policy: CompiledPolicy, request: DecisionRequest, moment: float) -> str:
    """The explanation of a request, cached on everything its text can depend on.

    The text names the request's attributes and the conditions that failed; time enters only
    through time windows (local weekday and minute) and the justification only by being given.
    """
    context, resource = request.context, request.resource
    key = (
        request.actor,
        request.action,
        # Not the subject's pseudonym: neither the rules nor the text use it, and with it every
        # request an application sends would be a new key (a cache of misses, tens of MB).
        (resource.data_category, resource.dataset, resource.case_id, resource.linked_dataset),
        request.purpose,
        context.channel,
        context.consent,
        bool(context.justification),
        local_weekday_minute(moment),
    )
    cache = policy.explanations
    text = cache.get(key)
    if text is None:
        text = explain(evaluate(policy.context, request, moment), request)
        if len(cache) >= _EXPLANATIONS_KEPT:
            cache.clear()
        cache[key] = text
    return text


class Engine:
    """Compiled policies per organisation: one active, any number of named drafts."""

    def __init__(self) -> None:
        self._active: dict[str, CompiledPolicy] = {}
        self._versions: dict[str, CompiledPolicy] = {}
        self._lock = threading.Lock()

    def add(self, compiled: CompiledPolicy, *, active: bool) -> None:
        with self._lock:
            self._versions[compiled.content_hash] = compiled
            if active:
                self._active[compiled.organisation] = compiled

    def active(self, organisation: str) -> CompiledPolicy | None:
        return self._active.get(organisation)

    def version(self, content_hash: str) -> CompiledPolicy | None:
        return self._versions.get(content_hash)

    def decide(self, request: DecisionRequest, policy: CompiledPolicy | None = None) -> Decision:
        """Decide with the organisation's active policy, or with `policy` (e.g. a draft)."""
        compiled = policy or self._active.get(request.actor.organisation)
        now = _now()
        moment = request.context.time
        if moment is None:
            moment = now
        if compiled is None:
            return Decision(None, request, moment, now, NO_POLICY)
        # `decide_compiled`, inlined: this is the hot path of the platform.
        node = compiled.index.get((request.purpose, request.action, request.resource.data_category))
        outcome = node(request, moment) if node is not None else _miss(compiled, request)
        return Decision(compiled, request, moment, now, outcome)

    def decide_many(
        self, requests: Sequence[DecisionRequest], policy: CompiledPolicy | None = None
    ) -> Decisions:
        """Decide a batch: outcomes at once, a `Decision` object only for what is read.

        One clock read serves every request without a time of its own.
        """
        now = _now()
        active = self._active
        outcomes: list[oc.Outcome] = []
        policies: list[CompiledPolicy | None] = []
        moments: list[float] = []
        add_outcome, add_policy, add_moment = outcomes.append, policies.append, moments.append
        for request in requests:
            compiled = policy or active.get(request.actor.organisation)
            moment = request.context.time
            if moment is None:
                moment = now
            if compiled is None:
                add_outcome(NO_POLICY)
            else:
                node = compiled.index.get(
                    (request.purpose, request.action, request.resource.data_category)
                )
                add_outcome(node(request, moment) if node is not None else _miss(compiled, request))
            add_policy(compiled)
            add_moment(moment)
        return Decisions(requests, policies, moments, outcomes, now)


class Decisions(Sequence[Decision]):
    """The decisions of a batch, in request order; each `Decision` is built when first read."""

    def __init__(
        self,
        requests: Sequence[DecisionRequest],
        policies: list[CompiledPolicy | None],
        moments: list[float],
        outcomes: list[oc.Outcome],
        decided_at: float,
    ) -> None:
        self.requests = requests
        self.policies = policies
        self.moments = moments
        self.outcomes = outcomes
        self.decided_at = decided_at
        self._made: dict[int, Decision] = {}

    def __len__(self) -> int:
        return len(self.outcomes)

    @overload
    def __getitem__(self, index: int) -> Decision: ...

    @overload
    def __getitem__(self, index: slice) -> list[Decision]: ...

    def __getitem__(self, index: int | slice) -> Decision | list[Decision]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        made = self._made.get(index)
        if made is None:
            made = Decision(
                self.policies[index],
                self.requests[index],
                self.moments[index],
                self.decided_at,
                self.outcomes[index],
            )
            self._made[index] = made
        return made


def decide_compiled(
    compiled: CompiledPolicy, request: DecisionRequest, moment: float
) -> oc.Outcome:
    """The outcome of `request` under `compiled` at `moment` — the hot path."""
    node = compiled.index.get((request.purpose, request.action, request.resource.data_category))
    if node is None:
        return _miss(compiled, request)
    return node(request, moment)


def _miss(compiled: CompiledPolicy, request: DecisionRequest) -> oc.Outcome:
    """No rule is about this request; say why in the same terms as the reference evaluator."""
    status = compiled.status.get(request.purpose)
    if status is None:
        return UNKNOWN_PURPOSE
    if status != "actief":
        return INACTIVE_PURPOSE
    if request.action not in _ACTIONS:
        return UNKNOWN_ACTION
    if request.resource.data_category not in compiled.categories:
        return UNKNOWN_DATA_CATEGORY
    return NO_PERMIT
