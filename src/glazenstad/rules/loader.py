"""Reading policy and scenario YAML, with errors that name file, line, rule id and field.

Besides the schema, a policy is checked against the register it will run on: every activity,
data category and dataset it names must exist there, so a typo is a load error rather than a
rule that silently never applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml.comments import CommentedMap

from glazenstad.register.store import OrganisationRegister, RegisterSnapshot
from glazenstad.register.yamlsource import (
    Problem,
    locate,
    plain,
    read_documents,
    suggestion,
    validation_problems,
)
from glazenstad.rules.language import CONDITION_KEYS, Action, Obligations, Policy

_TAGS = frozenset(CONDITION_KEYS.values())
_RULE_INDEX = re.compile(r"rules\[(\d+)\]")


class PolicyValidationError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the policies; nothing was loaded")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ScenarioActor(_Strict):
    role: str
    department: str
    organisation: str | None = None
    case_assignments: list[str] = Field(default_factory=list)


class ScenarioResource(_Strict):
    data_category: str
    dataset: str | None = None
    subject: str | None = None
    case_id: str | None = None
    linked_dataset: str | None = None


class ScenarioContext(_Strict):
    time: datetime = Field(description="ISO 8601 with offset, e.g. 2026-03-02T10:00:00+01:00.")
    channel: str | None = None
    consent: list[str] = Field(default_factory=list)
    justification: str | None = None


class ScenarioRequest(_Strict):
    actor: ScenarioActor
    action: str
    resource: ScenarioResource
    purpose: str
    context: ScenarioContext


class Expectation(_Strict):
    effect: Literal["permit", "deny"]
    rules: list[str] | None = Field(
        default=None, description="Exactly the deciding rules (any order); omit to not check."
    )
    reason: str | None = None
    break_glass: bool | None = None
    obligations: Obligations | None = Field(
        default=None, description="Each listed obligation must be among the decision's."
    )


class Scenario(_Strict):
    name: str = Field(min_length=1, max_length=300)
    request: ScenarioRequest
    expect: Expectation


class ScenarioSet(_Strict):
    kind: Literal["scenarios"]
    policy: str
    scenarios: list[Scenario] = Field(min_length=1)


@dataclass
class LoadedPolicy:
    policy: Policy
    file: str
    line: int
    node: Any = None


@dataclass
class LoadedScenarios:
    scenarios: ScenarioSet
    file: str
    lines: list[int] = field(default_factory=list)


@dataclass
class PolicyTree:
    policies: list[LoadedPolicy] = field(default_factory=list)
    scenario_sets: list[LoadedScenarios] = field(default_factory=list)


def parse_policies(root: Path) -> PolicyTree:
    """Validate every policy and scenario file under `root` (schema only)."""
    if not root.is_dir():
        raise PolicyValidationError([Problem(str(root), None, None, "is not a directory")])
    problems: list[Problem] = []
    tree = PolicyTree()
    invalid_ids: set[str] = set()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml")):
        relative = str(path.relative_to(root))
        documents, unreadable = read_documents(path, relative)
        problems.extend(unreadable)
        for document, line in documents:
            if document is None:
                continue
            if not isinstance(document, CommentedMap):
                problems.append(Problem(relative, line, None, "a document must be a mapping"))
                continue
            kind = document.get("kind")
            model: type[BaseModel]
            if kind == "policy":
                model = Policy
            elif kind == "scenarios":
                model = ScenarioSet
            else:
                problems.append(
                    Problem(
                        relative,
                        locate(document, ["kind"], line),
                        "kind",
                        f"unknown kind {kind!r}; expected policy or scenarios",
                    )
                )
                continue
            label = f"{kind} '{document.get('id') or document.get('policy') or '?'}'"
            try:
                value = model.model_validate(plain(document))
            except ValidationError as exc:
                # Scenarios of a policy with errors should not also report it as unknown.
                if kind == "policy" and isinstance(document.get("id"), str):
                    invalid_ids.add(document["id"])
                for problem in validation_problems(
                    exc, model, document, relative, line, label, _TAGS
                ):
                    problems.append(_with_rule_id(problem, document))
                continue
            if isinstance(value, Policy):
                tree.policies.append(LoadedPolicy(value, relative, line, document))
            else:
                assert isinstance(value, ScenarioSet)
                scenario_lines = [
                    locate(document, ["scenarios", i], line) for i in range(len(value.scenarios))
                ]
                tree.scenario_sets.append(LoadedScenarios(value, relative, scenario_lines))
    ids = [p.policy.id for p in tree.policies]
    for loaded in tree.policies:
        if ids.count(loaded.policy.id) > 1:
            problems.append(
                Problem(
                    loaded.file,
                    loaded.line,
                    "id",
                    f"policy id '{loaded.policy.id}' is used in more than one file",
                )
            )
    for scenarios in tree.scenario_sets:
        if scenarios.scenarios.policy not in ids and scenarios.scenarios.policy not in invalid_ids:
            problems.append(
                Problem(
                    scenarios.file,
                    1,
                    "policy",
                    f"unknown policy '{scenarios.scenarios.policy}'"
                    + suggestion(scenarios.scenarios.policy, ids),
                )
            )
    if problems:
        raise PolicyValidationError(problems)
    return tree


def _with_rule_id(problem: Problem, document: Any) -> Problem:
    """Name the rule (by its id) when the problem is inside one."""
    found = _RULE_INDEX.match(problem.field or "")
    if found:
        index = int(found.group(1))
        rules = document.get("rules")
        if isinstance(rules, list) and index < len(rules) and isinstance(rules[index], dict):
            rule_id = rules[index].get("id")
            if rule_id:
                return Problem(
                    problem.file,
                    problem.line,
                    problem.field,
                    problem.message,
                    f"{problem.entry}, rule '{rule_id}'",
                )
    return problem


def check_references(tree: PolicyTree, snapshot: RegisterSnapshot) -> list[Problem]:
    """Every register id a policy names must exist in its organisation's register."""
    problems: list[Problem] = []
    for loaded in tree.policies:
        policy = loaded.policy
        register = snapshot.organisation(policy.organisation)
        if register is None:
            problems.append(
                Problem(
                    loaded.file,
                    locate(loaded.node, ["organisation"], loaded.line),
                    "organisation",
                    f"organisation '{policy.organisation}' is not in the register"
                    + suggestion(policy.organisation, snapshot.organisations),
                )
            )
            continue
        problems.extend(_rule_references(loaded, register))
    return problems


def _rule_references(loaded: LoadedPolicy, register: OrganisationRegister) -> list[Problem]:
    problems: list[Problem] = []
    known = {
        "purposes": {a.id for a in register.activities()},
        "data_categories": {c.id for c in register.data_categories()},
        "datasets": {d.id for d in register.datasets()},
    }
    for index, rule in enumerate(loaded.policy.rules):
        label = f"policy '{loaded.policy.id}', rule '{rule.id}'"
        checks: list[tuple[list[Any], str, list[str]]] = [
            (
                ["rules", index, "applies_to", "purposes"],
                "purposes",
                list(rule.applies_to.purposes),
            ),
            (
                ["rules", index, "applies_to", "data_categories"],
                "data_categories",
                list(rule.applies_to.data_categories),
            ),
            (
                ["rules", index, "applies_to", "datasets"],
                "datasets",
                list(rule.applies_to.datasets),
            ),
        ]
        if rule.link is not None:
            checks.append(
                (["rules", index, "link", "datasets"], "datasets", list(rule.link.datasets))
            )
            checks.append((["rules", index, "link", "with"], "datasets", list(rule.link.with_)))
        retention = rule.obligations.retention
        if retention is not None:
            problems.extend(_retention_problems(loaded, index, retention, register))
        for path, kind, values in checks:
            for position, value in enumerate(values):
                if value not in known[kind]:
                    where = [*path, position]
                    problems.append(
                        Problem(
                            loaded.file,
                            locate(loaded.node, where, loaded.line),
                            ".".join(str(p) for p in where[2:]),
                            f"'{value}' is not a known {_WORDS[kind]} of "
                            f"'{loaded.policy.organisation}'" + suggestion(value, known[kind]),
                            label,
                        )
                    )
    return problems


def _retention_problems(
    loaded: LoadedPolicy, index: int, retention: str, register: OrganisationRegister
) -> list[Problem]:
    """A retention class must be an outcome of the retention rules of the rule's activities."""
    rule = loaded.policy.rules[index]
    activities = [
        a
        for a in register.activities()
        if not rule.applies_to.purposes or a.id in rule.applies_to.purposes
    ]
    outcomes = {a.id: {r.outcome for r in a.retention} for a in activities}
    lacking = sorted(a for a, known in outcomes.items() if retention not in known)
    # Named purposes must each know the class; a rule for any purpose needs it somewhere.
    everywhere = bool(rule.applies_to.purposes)
    bad = lacking if everywhere or len(lacking) == len(outcomes) else []
    if not bad:
        return []
    known_all = sorted({o for known in outcomes.values() for o in known})
    return [
        Problem(
            loaded.file,
            locate(loaded.node, ["rules", index, "obligations", "retention"], loaded.line),
            f"rules[{index}].obligations.retention",
            f"retention class '{retention}' is not a retention outcome of "
            f"{', '.join(bad)}" + suggestion(retention, known_all),
            f"policy '{loaded.policy.id}', rule '{rule.id}'",
        )
    ]


_WORDS = {
    "purposes": "processing activity",
    "data_categories": "data category",
    "datasets": "dataset",
}

ScenarioAction = Action
