"""Scenarios: request → expected decision cases kept next to a policy, run as its tests."""

from __future__ import annotations

from dataclasses import dataclass

from glazenstad.rules.compiler import CompiledPolicy
from glazenstad.rules.engine import Decision, Engine
from glazenstad.rules.loader import LoadedScenarios, Scenario, ScenarioRequest
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource


def to_request(request: ScenarioRequest, organisation: str) -> DecisionRequest:
    return DecisionRequest(
        actor=Actor(
            role=request.actor.role,
            department=request.actor.department,
            organisation=request.actor.organisation or organisation,
            case_assignments=frozenset(request.actor.case_assignments),
        ),
        action=request.action,
        resource=Resource(
            data_category=request.resource.data_category,
            dataset=request.resource.dataset,
            subject=request.resource.subject,
            case_id=request.resource.case_id,
            linked_dataset=request.resource.linked_dataset,
        ),
        purpose=request.purpose,
        context=Context(
            time=request.context.time.timestamp(),
            channel=request.context.channel,
            consent=frozenset(request.context.consent),
            justification=request.context.justification,
        ),
    )


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    file: str
    line: int
    decision: Decision
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


def check(scenario: Scenario, decision: Decision) -> tuple[str, ...]:
    expect = scenario.expect
    out = decision.outcome
    failures: list[str] = []
    if out.effect != expect.effect:
        failures.append(f"expected {expect.effect}, got {out.effect} ({out.reason})")
    if expect.rules is not None and sorted(expect.rules) != sorted(out.rule_ids):
        failures.append(
            f"expected deciding rules {sorted(expect.rules)}, got {sorted(out.rule_ids)}"
        )
    if expect.reason is not None and expect.reason != out.reason:
        failures.append(f"expected reason {expect.reason}, got {out.reason}")
    if expect.break_glass is not None and expect.break_glass != out.break_glass:
        failures.append(f"expected break_glass {expect.break_glass}, got {out.break_glass}")
    if expect.obligations is not None:
        want, got = expect.obligations, out.obligations
        for name in ("pseudonymise", "mask"):
            missing = set(getattr(want, name)) - set(getattr(got, name))
            if missing:
                failures.append(f"obligation {name} lacks {sorted(missing)}")
        for name in ("retention", "log_confidentiality"):
            if getattr(want, name) is not None and getattr(want, name) != getattr(got, name):
                failures.append(
                    f"obligation {name}: expected {getattr(want, name)}, got {getattr(got, name)}"
                )
        if want.require_justification and not got.require_justification:
            failures.append("obligation require_justification missing")
    return tuple(failures)


def run_scenarios(loaded: LoadedScenarios, policy: CompiledPolicy) -> list[ScenarioResult]:
    engine = Engine()
    results = []
    for scenario, line in zip(loaded.scenarios.scenarios, loaded.lines, strict=True):
        decision = engine.decide(to_request(scenario.request, policy.organisation), policy)
        results.append(
            ScenarioResult(scenario, loaded.file, line, decision, check(scenario, decision))
        )
    return results
