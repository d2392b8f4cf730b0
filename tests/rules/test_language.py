"""Policy files: every kind of mistake gets file, line, rule id and what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from glazenstad.register.store import OrganisationRegister, RegisterSnapshot
from glazenstad.rules.language import Policy, policy_json_schema
from glazenstad.rules.loader import PolicyValidationError, check_references, parse_policies
from tests.register.test_loader import edit, line_of
from tests.rules.conftest import TEST_POLICIES


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES, target)
    return target


def problems(root: Path) -> list[str]:
    with pytest.raises(PolicyValidationError) as info:
        parse_policies(root)
    return [str(p) for p in info.value.problems]


def test_fixture_policy_is_valid(policies: Path) -> None:
    tree = parse_policies(policies)
    assert [p.policy.id for p in tree.policies] == ["gegevensgebruik"]
    assert len(tree.scenario_sets[0].scenarios.scenarios) == 6


def test_unknown_effect_names_rule_and_line(policies: Path) -> None:
    path = policies / "teststad" / "policy.yaml"
    edit(
        path,
        "effect: deny\n    title: Alleen het eigen",
        "effect: weigeren\n    title: Alleen het eigen",
    )
    (problem,) = problems(policies)
    assert problem.startswith(f"teststad/policy.yaml:{line_of(path, 'effect: weigeren')}: ")
    assert "rule 'wmo-eigen-dossier'" in problem
    assert "field 'rules[1].effect'" in problem


def test_unknown_condition_lists_the_vocabulary(policies: Path) -> None:
    path = policies / "teststad" / "policy.yaml"
    edit(path, "- assigned_to_case: false", "- toegewezen: false")
    (problem,) = problems(policies)
    assert f"policy.yaml:{line_of(path, '- toegewezen: false')}:" in problem
    assert "a condition starts with one of: role, department" in problem


def test_nested_condition_error_points_at_the_nested_line(policies: Path) -> None:
    path = policies / "teststad" / "policy.yaml"
    edit(path, 'start: "08:00"', 'start: "8 uur"')
    (problem,) = problems(policies)
    line = line_of(path, 'start: "8 uur"')
    assert f"policy.yaml:{line}:" in problem
    assert "field 'rules[0].when[0].not.time.start'" in problem


def test_break_glass_on_a_permit_is_refused(policies: Path) -> None:
    path = policies / "teststad" / "policy.yaml"
    edit(
        path,
        "      log_confidentiality: vertrouwelijk\n",
        "      log_confidentiality: vertrouwelijk\n    break_glass: true\n",
    )
    (problem,) = problems(policies)
    assert "break_glass applies to deny rules only" in problem
    assert "rule 'wmo-bsn-pseudoniem'" in problem


def test_duplicate_rule_id(policies: Path) -> None:
    edit(policies / "teststad" / "policy.yaml", "id: wmo-eigen-dossier", "id: kantoortijd")
    (problem,) = problems(policies)
    assert "rule id 'kantoortijd' is used twice" in problem


def test_scenarios_for_an_unknown_policy(policies: Path) -> None:
    edit(
        policies / "teststad" / "scenarios.yaml",
        "policy: gegevensgebruik",
        "policy: gegevensgebruk",
    )
    (problem,) = problems(policies)
    assert "unknown policy 'gegevensgebruk'; did you mean 'gegevensgebruik'?" in problem


def test_unknown_register_ids_are_errors(policies: Path, teststad: OrganisationRegister) -> None:
    path = policies / "teststad" / "policy.yaml"
    edit(path, "purposes: [wmo-maatwerk]\n    when:", "purposes: [wmo-maatwerkk]\n    when:")
    edit(path, "datasets: [scanauto]\n      with", "datasets: [scan-auto]\n      with")
    tree = parse_policies(policies)
    snapshot = RegisterSnapshot(1, {"teststad": teststad})
    found = [str(p) for p in check_references(tree, snapshot)]
    assert len(found) == 2
    assert any(
        f"policy.yaml:{line_of(path, 'wmo-maatwerkk')}:" in p
        and "rule 'wmo-eigen-dossier'" in p
        and "'wmo-maatwerkk' is not a known processing activity of 'teststad'; did you mean "
        "'wmo-maatwerk'?"
        in p
        for p in found
    )
    assert any(
        "'scan-auto' is not a known dataset" in p and "did you mean 'scanauto'" in p for p in found
    )
    other = RegisterSnapshot(1, {})
    (missing,) = check_references(tree, other)
    assert "organisation 'teststad' is not in the register" in str(missing)


def test_published_policy_schema_matches_the_language() -> None:
    import json

    from tests.conftest import ROOT

    published = json.loads((ROOT / "schemas" / "policy.schema.json").read_text("utf-8"))
    assert published == policy_json_schema()
    props = published["$defs"]["Rule"]["properties"]
    assert {"effect", "when", "obligations", "break_glass", "link"} <= set(props)
    assert "not" in published["$defs"]["Not"]["properties"]


def test_policy_model_round_trips() -> None:
    policy = parse_policies(TEST_POLICIES).policies[0].policy
    assert Policy.model_validate(policy.model_dump(mode="json")) == policy


def test_retention_class_must_be_an_outcome_of_the_activity(
    policies: Path, teststad: OrganisationRegister
) -> None:
    path = policies / "teststad" / "policy.yaml"
    edit(
        path, "      pseudonymise: [bsn]\n", "      pseudonymise: [bsn]\n      retention: betaald\n"
    )
    tree = parse_policies(policies)
    (problem,) = check_references(tree, RegisterSnapshot(1, {"teststad": teststad}))
    assert f"policy.yaml:{line_of(path, 'retention: betaald')}:" in str(problem)
    assert "retention class 'betaald' is not a retention outcome of wmo-maatwerk" in str(problem)
