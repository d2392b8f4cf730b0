"""The compiled engine decides exactly as the reference evaluator, and explains itself."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glazenstad.register.store import OrganisationRegister
from glazenstad.rules.compiler import CompiledPolicy, compile_policy
from glazenstad.rules.effective import policy_context
from glazenstad.rules.engine import Engine, decide_compiled
from glazenstad.rules.language import ACTIONS, WEEKDAYS, Policy
from glazenstad.rules.reference import evaluate
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource

ROLES = ["parkeerhandhaver", "wmo-consulent", "teamleider", "onbekend"]
DEPARTMENTS = ["Parkeren", "Sociaal Domein", "Burgerzaken"]
CATEGORIES = ["kenteken", "gezondheid", "bsn", "hobby"]
PURPOSES = [
    "parkeren-scanauto",
    "wmo-maatwerk",
    "fietsenstalling",
    "https://register.teststad.example/processing-activities/wmo-maatwerk",
]
DATASETS = ["scanauto", "wmo-dossiers", None]
CASES = ["z-1", "z-2", None]
CHANNELS = ["balie", "intern", None]
# 2026 in seconds, so weekdays, nights and both DST periods all occur.
TIMES = st.floats(min_value=1767222000, max_value=1798758000, allow_nan=False)


def requests() -> st.SearchStrategy[DecisionRequest]:
    return st.builds(
        DecisionRequest,
        actor=st.builds(
            Actor,
            role=st.sampled_from(ROLES),
            department=st.sampled_from(DEPARTMENTS),
            organisation=st.just("teststad"),
            case_assignments=st.frozensets(st.sampled_from(["z-1", "z-2"])),
        ),
        action=st.sampled_from([*ACTIONS, "print"]),
        resource=st.builds(
            Resource,
            data_category=st.sampled_from(CATEGORIES),
            dataset=st.sampled_from(DATASETS),
            case_id=st.sampled_from(CASES),
            linked_dataset=st.sampled_from(DATASETS),
        ),
        purpose=st.sampled_from(PURPOSES),
        context=st.builds(
            Context,
            time=TIMES,
            channel=st.sampled_from(CHANNELS),
            consent=st.frozensets(st.sampled_from(["wmo-maatwerk", "parkeren-scanauto"])),
            justification=st.sampled_from([None, "", "Spoed: cliënt in nood"]),
        ),
    )


def leaf_conditions() -> st.SearchStrategy[dict[str, object]]:
    return st.one_of(
        st.builds(lambda v: {"role": v}, st.lists(st.sampled_from(ROLES), min_size=1, max_size=2)),
        st.builds(
            lambda v: {"department": v},
            st.lists(st.sampled_from(DEPARTMENTS), min_size=1, max_size=2),
        ),
        st.builds(
            lambda v: {"channel": v}, st.lists(st.sampled_from(["balie", "intern"]), min_size=1)
        ),
        st.builds(lambda v: {"assigned_to_case": v}, st.booleans()),
        st.builds(lambda v: {"consent_recorded": v}, st.booleans()),
        st.builds(
            # Minutes off the quarter hour too: the compiler then steps per minute.
            lambda days, start, minute, length: {
                "time": {
                    "days": days,
                    "start": f"{start:02d}:{minute}",
                    "end": f"{min(start + length, 24):02d}:00",
                }
            },
            st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True),
            st.integers(0, 22),
            st.sampled_from(["00", "00", "30", "07"]),
            st.integers(1, 12),
        ),
        st.builds(
            lambda attr, op, values: {
                "attribute": attr,
                op: values if op.endswith("in") else values[0],
            },
            st.sampled_from(
                ["actor.role", "purpose", "context.channel", "resource.dataset", "action"]
            ),
            st.sampled_from(["equals", "not_equals", "in", "not_in"]),
            st.lists(
                st.sampled_from(["wmo-maatwerk", "balie", "scanauto", "read", "teamleider"]),
                min_size=1,
                max_size=2,
            ),
        ),
    )


conditions = st.recursive(
    leaf_conditions(),
    lambda inner: st.one_of(
        st.builds(lambda c: {"not": c}, inner),
        st.builds(lambda cs: {"any": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda cs: {"all": cs}, st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=4,
)


@st.composite
def rules(draw: st.DrawFn, number: int) -> dict[str, object]:
    effect = draw(st.sampled_from(["permit", "deny"]))
    rule: dict[str, object] = {
        "id": f"regel-{number}",
        "effect": effect,
        "title": f"Regel {number}",
        "explanation": "Willekeurige regel voor de gelijkwaardigheidstest.",
        "when": draw(st.lists(conditions, max_size=3)),
    }
    if draw(st.booleans()):
        rule["link"] = {"datasets": ["scanauto"], "with": ["wmo-dossiers", "scanauto"]}
    else:
        rule["applies_to"] = {
            "purposes": draw(
                st.lists(st.sampled_from(["parkeren-scanauto", "wmo-maatwerk"]), max_size=1)
            ),
            "data_categories": draw(st.lists(st.sampled_from(CATEGORIES[:3]), max_size=2)),
            "datasets": draw(st.lists(st.sampled_from(["scanauto", "wmo-dossiers"]), max_size=1)),
            "actions": draw(st.lists(st.sampled_from(ACTIONS), max_size=2)),
        }
    if effect == "deny":
        rule["break_glass"] = draw(st.booleans())
    else:
        rule["obligations"] = draw(
            st.sampled_from(
                [
                    {},
                    {"mask": ["adres"]},
                    {"pseudonymise": ["bsn"], "retention": "standaard"},
                    {"log_confidentiality": "normaal", "require_justification": True},
                ]
            )
        )
    return rule


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    count = draw(st.integers(0, 5))
    return Policy.model_validate(
        {
            "kind": "policy",
            "id": "willekeurig",
            "organisation": "teststad",
            "title": "Test",
            "purpose_binding": {
                "enabled": draw(st.booleans()),
                "actions": draw(
                    st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3, unique=True)
                ),
            },
            "rules": [draw(rules(i)) for i in range(count)],
        }
    )


def same(compiled: CompiledPolicy, request: DecisionRequest) -> None:
    moment = request.context.time
    assert moment is not None
    fast = decide_compiled(compiled, request, moment)
    slow = evaluate(compiled.context, request, moment).outcome
    assert (fast.effect, fast.reason, fast.rule_ids, fast.break_glass) == (
        slow.effect,
        slow.reason,
        slow.rule_ids,
        slow.break_glass,
    ), request
    assert fast.obligations == slow.obligations


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(request=requests())
def test_fixture_policy_compiled_equals_reference(
    compiled: CompiledPolicy, request: DecisionRequest
) -> None:
    same(compiled, request)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(policy=policies(), batch=st.lists(requests(), min_size=10, max_size=10))
def test_random_policies_compiled_equal_reference(
    teststad: OrganisationRegister, policy: Policy, batch: list[DecisionRequest]
) -> None:
    compiled = compile_policy(policy_context(policy, teststad))
    for request in batch:
        same(compiled, request)


def _request(
    role: str = "parkeerhandhaver", when: str = "2026-03-02T10:00:00+01:00", **context: object
) -> DecisionRequest:
    return DecisionRequest(
        Actor(role, "Parkeren", "teststad"),
        "read",
        Resource("kenteken"),
        "parkeren-scanauto",
        Context(time=datetime.fromisoformat(when).timestamp(), **context),  # type: ignore[arg-type]
    )


def test_decision_explains_a_permit_with_the_law(compiled: CompiledPolicy) -> None:
    engine = Engine()
    engine.add(compiled, active=True)
    decision = engine.decide(_request())
    assert decision.permitted
    text = decision.explanation()
    assert text.startswith("Ja.")
    assert "Doelbinding: Parkeerhandhaving met scanauto's" in text
    assert "Gemeentewet, artikel 225" in text


def test_deny_explains_which_condition_failed(compiled: CompiledPolicy) -> None:
    engine = Engine()
    engine.add(compiled, active=True)
    decision = engine.decide(_request(role="wmo-consulent"))
    assert not decision.permitted and decision.outcome.reason == "no_permit"
    assert "de rol 'wmo-consulent' is niet een van: parkeerhandhaver" in decision.explanation()
    night = engine.decide(_request(when="2026-03-02T22:00:00+01:00"))
    assert night.outcome.rule_ids == ("kantoortijd",)
    assert "noodgeval" in night.explanation()


def test_break_the_glass_needs_a_justification_and_is_flagged(compiled: CompiledPolicy) -> None:
    engine = Engine()
    engine.add(compiled, active=True)
    at_night = "2026-03-02T22:00:00+01:00"
    assert not engine.decide(_request(when=at_night)).permitted
    assert not engine.decide(_request(when=at_night, justification="")).permitted
    glass = engine.decide(_request(when=at_night, justification="Aanrijding, eigenaar zoeken"))
    assert glass.permitted and glass.outcome.break_glass
    assert glass.outcome.reason == "break_glass"
    assert glass.outcome.obligations.require_justification
    assert [r.id for r in glass.outcome.set_aside] == ["kantoortijd"]


def test_linkage_rules(compiled: CompiledPolicy) -> None:
    engine = Engine()
    engine.add(compiled, active=True)

    def link(a: str, b: str) -> DecisionRequest:
        return DecisionRequest(
            Actor("parkeerhandhaver", "Parkeren", "teststad"),
            "link",
            Resource("kenteken", dataset=a, linked_dataset=b),
            "parkeren-scanauto",
            Context(
                time=datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp(),
                justification="Ook met motivering niet",
            ),
        )

    refused = engine.decide(link("scanauto", "scanauto"))
    assert refused.outcome.rule_ids == ("geen-scanauto-koppeling",)
    assert not refused.permitted  # not break-glass-able: a justification changes nothing


def test_unknown_purpose_and_category_are_denies_with_a_reason(compiled: CompiledPolicy) -> None:
    engine = Engine()
    engine.add(compiled, active=True)
    base = _request()
    unknown = DecisionRequest(base.actor, "read", base.resource, "fietsenstalling", base.context)
    assert engine.decide(unknown).outcome.reason == "unknown_purpose"
    category = DecisionRequest(
        base.actor, "read", Resource("schoenmaat"), base.purpose, base.context
    )
    decision = engine.decide(category)
    assert decision.outcome.reason == "unknown_data_category"
    assert "'schoenmaat' staat niet in het register" in decision.explanation()
    other = DecisionRequest(Actor("x", "y", "elders"), "read", base.resource, base.purpose)
    assert engine.decide(other).outcome.reason == "no_policy"


def test_receipts(compiled: CompiledPolicy, teststad: OrganisationRegister) -> None:
    engine = Engine()
    engine.add(compiled, active=True)
    first = engine.decide(_request()).receipt()
    second = engine.decide(_request()).receipt()
    assert first["decisionId"] != second["decisionId"]
    assert first["inputHash"] == second["inputHash"]
    assert first["receiptHash"] == second["receiptHash"]
    assert first["policyVersion"] == compiled.context.policy_hash
    changed_input = engine.decide(_request(when="2026-03-02T10:05:00+01:00")).receipt()
    assert changed_input["inputHash"] != first["inputHash"]
    policy = compiled.context.policy.model_copy(update={"title": "Andere titel"})
    other = compile_policy(policy_context(policy, teststad))
    changed_policy = Engine().decide(_request(), other).receipt()
    assert changed_policy["inputHash"] == first["inputHash"]
    assert changed_policy["policyVersion"] != first["policyVersion"]
    assert changed_policy["receiptHash"] != first["receiptHash"]


def test_decide_many_equals_decide(compiled: CompiledPolicy) -> None:
    engine = Engine()
    engine.add(compiled, active=True)
    batch = [_request(), _request(role="x"), _request(when="2026-03-01T10:00:00+01:00")]
    assert [d.outcome for d in engine.decide_many(batch)] == [
        engine.decide(r).outcome for r in batch
    ]


def test_explanations_are_shared_between_subjects(compiled: CompiledPolicy) -> None:
    """The text does not depend on whose data it is, so the explanation cache keeps one entry
    for requests that differ only in the subject's pseudonym (else every request is a miss)."""
    engine = Engine()
    engine.add(compiled, active=True)
    compiled.explanations.clear()
    base = _request()
    texts = set()
    for n in range(50):
        resource = Resource("kenteken", subject=f"k1:{n:064x}")
        request = DecisionRequest(base.actor, base.action, resource, base.purpose, base.context)
        texts.add(engine.decide(request).explanation())
    assert len(texts) == 1
    assert len(compiled.explanations) == 1
