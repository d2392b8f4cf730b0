"""A compiled policy is reused only for the same policy against the same register content."""

from __future__ import annotations

import dataclasses

from glazenstad.register.store import OrganisationRegister
from glazenstad.rules.compiler import compile_policy
from glazenstad.rules.effective import policy_context
from glazenstad.rules.loader import PolicyTree


def test_the_same_policy_and_register_share_one_compilation(
    teststad: OrganisationRegister, policy_tree: PolicyTree
) -> None:
    policy = policy_tree.policies[0].policy
    first = compile_policy(policy_context(policy, teststad))
    assert compile_policy(policy_context(policy, teststad)) is first
    retitled = policy.model_copy(update={"title": "Andere titel"})
    other = compile_policy(policy_context(retitled, teststad))
    assert other is not first and other.context.policy.title == "Andere titel"


def test_any_change_in_the_register_compiles_anew(
    teststad: OrganisationRegister, policy_tree: PolicyTree
) -> None:
    """Also a change decisions do not depend on: the compiled policy carries its register."""
    policy = policy_tree.policies[0].policy
    first = compile_policy(policy_context(policy, teststad))
    renamed = dataclasses.replace(
        teststad,
        organisation=dataclasses.replace(teststad.organisation, content_hash="0" * 64),
    )
    again = compile_policy(policy_context(policy, renamed))
    assert again is not first and again.context.register is renamed
    assert again.content_hash == first.content_hash  # same decisions, other register
