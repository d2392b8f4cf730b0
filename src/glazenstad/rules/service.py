"""The rules as a running service: active policies compiled against the current register.

Compiled policies depend on the register (purpose binding) and on the policy lifecycle, so the
service recompiles when either changes — seen from the newest register load id and the newest
lifecycle event id. Asking the database that costs far more than a decision, so it is asked at
most once per `refresh_interval` (one second by default): a policy activated anywhere is in
force everywhere within that time.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from glazenstad.register.store import RegisterStore
from glazenstad.rules.compiler import CompiledPolicy, compile_policy
from glazenstad.rules.effective import policy_context
from glazenstad.rules.engine import Decision, Engine
from glazenstad.rules.request import DecisionRequest
from glazenstad.rules.store import PolicyStore, PolicyVersion


class RulesService:
    def __init__(
        self, register: RegisterStore, policies: PolicyStore, *, refresh_interval: float = 1.0
    ) -> None:
        self.register = register
        self.policies = policies
        self.refresh_interval = refresh_interval
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self._state: tuple[Any, Any] | None = None
        self._engine = Engine()
        self._drafts: dict[tuple[str, str], CompiledPolicy] = {}

    def engine(self) -> Engine:
        """The engine with every active policy, recompiled if register or policies changed."""
        now = time.monotonic()
        if now - self._checked_at < self.refresh_interval:
            return self._engine
        self._checked_at = now
        snapshot = self.register.snapshot()
        state = (snapshot.load_id, self.policies.state())
        if state == self._state:
            return self._engine
        with self._lock:
            if state != self._state:
                engine = Engine()
                for version in self.policies.active():
                    compiled = self._compile(version)
                    if compiled is not None:
                        engine.add(compiled, active=True)
                self._engine, self._drafts, self._state = engine, {}, state
        return self._engine

    def refresh_now(self) -> None:
        """Check for changes now rather than at the next interval (a change was announced)."""
        self._checked_at = float("-inf")
        self.engine()

    def _compile(self, version: PolicyVersion) -> CompiledPolicy | None:
        register = self.register.snapshot().organisation(version.organisation_id)
        if register is None:
            return None
        return compile_policy(policy_context(version.policy, register))

    def version(self, organisation: str, content_hash: str) -> CompiledPolicy | None:
        """Any stored version (e.g. a draft), compiled against the current register."""
        self.engine()
        key = (organisation, content_hash)
        if key not in self._drafts:
            version = self.policies.get(organisation, content_hash)
            if version is None:
                return None
            compiled = self._compile(version)
            if compiled is None:
                return None
            self._drafts[key] = compiled
        return self._drafts[key]

    def decide(self, request: DecisionRequest, version: str | None = None) -> Decision:
        engine = self.engine()
        if version is None:
            return engine.decide(request)
        compiled = self.version(request.actor.organisation, version)
        if compiled is None:
            raise LookupError(f"no policy version {version} for {request.actor.organisation}")
        return engine.decide(request, compiled)
