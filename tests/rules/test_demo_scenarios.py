"""Every scenario of the demo municipality passes against the demo register."""

from __future__ import annotations

from pathlib import Path

from glazenstad.register.store import RegisterSnapshot
from glazenstad.rules.compiler import compile_policy
from glazenstad.rules.effective import policy_context
from glazenstad.rules.loader import check_references, parse_policies
from glazenstad.rules.reference import evaluate
from glazenstad.rules.scenarios import run_scenarios
from tests.conftest import DEMO_REGISTER, ROOT
from tests.rules.conftest import register_of

DEMO_POLICIES = ROOT / "demo" / "policies"


def _fresh(path: Path) -> Path:
    path.mkdir()
    return path


def test_demo_policies_and_scenarios(tmp_path: Path) -> None:
    tree = parse_policies(DEMO_POLICIES)
    registers = {
        p.policy.organisation: register_of(
            DEMO_REGISTER, p.policy.organisation, tmp_path / p.policy.organisation
        )
        for p in tree.policies
    }
    assert check_references(tree, RegisterSnapshot(1, registers)) == []
    compiled = {
        p.policy.id: compile_policy(policy_context(p.policy, registers[p.policy.organisation]))
        for p in tree.policies
    }
    results = [
        r for s in tree.scenario_sets for r in run_scenarios(s, compiled[s.scenarios.policy])
    ]
    failures = [
        f"{r.file}:{r.line} {r.scenario.name}: {r.failures}" for r in results if not r.passed
    ]
    assert not failures, "\n".join(failures)
    assert len(results) >= 80
    voorbeeldstad = [r for r in results if r.file.startswith("voorbeeldstad/")]
    assert len(voorbeeldstad) >= 80
    # The scenarios cover what the issue names as the hard cases.
    reasons = {r.decision.outcome.reason for r in results}
    assert {"permit", "deny_rule", "no_permit", "break_glass", "unknown_purpose"} <= reasons
    for result in results:  # and the compiled engine agrees with the reference on each
        policy = compiled[
            next(s.scenarios.policy for s in tree.scenario_sets if s.file == result.file)
        ]
        reference = evaluate(policy.context, result.decision.request, result.decision.moment)
        assert reference.outcome.rule_ids == result.decision.outcome.rule_ids
