"""A register and policy in memory for rules tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from glazenstad.db.engine import make_engine, migrate
from glazenstad.register.loader import load_register
from glazenstad.register.store import OrganisationRegister, RegisterStore
from glazenstad.rules.compiler import CompiledPolicy, compile_policy
from glazenstad.rules.effective import policy_context
from glazenstad.rules.loader import PolicyTree, parse_policies
from tests.conftest import FIXTURES

TEST_POLICIES = FIXTURES / "policies"


def register_of(root: Path, organisation: str, tmp_path: Path) -> OrganisationRegister:
    engine = make_engine(f"sqlite:///{tmp_path / 'register.sqlite3'}")
    migrate(engine)
    load_register(engine, root, approved_by="test-approver")
    reg = RegisterStore(engine).snapshot().organisation(organisation)
    assert reg is not None
    return reg


@pytest.fixture
def teststad(tmp_path: Path) -> OrganisationRegister:
    return register_of(FIXTURES / "register", "teststad", tmp_path)


@pytest.fixture
def policy_tree() -> PolicyTree:
    return parse_policies(TEST_POLICIES)


@pytest.fixture
def compiled(teststad: OrganisationRegister, policy_tree: PolicyTree) -> CompiledPolicy:
    return compile_policy(policy_context(policy_tree.policies[0].policy, teststad))
