"""The deduplicated replay counts exactly what deciding every recorded request on its own counts.

The one-by-one side uses the reference evaluator (the policy language's plain meaning), so the
comparison covers both the dedupe key and the compiled draft. Recorded requests are generated
to repeat with variations the key must see through (another data subject, another case of the
same assignment, another justification text, another second in the same time window) and
variations it must not merge (moments on both sides of every time-window edge of the draft,
around the switches to and from summer time).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glazenstad.insight import impact_replay
from glazenstad.insight.impact import Aggregate, aggregate, rule_titles
from glazenstad.insight.impact_replay import (
    DENY_TO_PERMIT,
    OTHER_CHANGE,
    PERMIT_TO_DENY,
    Deduplicator,
    Recorded,
    Row,
    causes,
    classify,
    evaluate_groups,
    replay_one_by_one,
)
from glazenstad.register.store import OrganisationRegister
from glazenstad.rules import outcome as oc
from glazenstad.rules.clock import TIMEZONE
from glazenstad.rules.compiler import CompiledPolicy, compile_policy
from glazenstad.rules.effective import policy_context
from glazenstad.rules.engine import decide_compiled
from glazenstad.rules.language import ACTIONS, Policy, RoleIn
from glazenstad.rules.reference import evaluate
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource
from tests.conftest import FIXTURES
from tests.rules.conftest import register_of
from tests.rules.test_engine import (
    CATEGORIES,
    CHANNELS,
    DATASETS,
    DEPARTMENTS,
    PURPOSES,
    ROLES,
    policies,
)

# Days on which the clock moves (2026-03-29, 2026-10-25), their neighbours, and ordinary days.
DAYS = [date(2026, 3, d) for d in (27, 28, 29, 30)] + [
    date(2026, 10, d) for d in (24, 25, 26)
] + [date(2026, 6, 1), date(2026, 12, 31)]  # fmt: skip
SUBSECONDS = [0.0, 0.25, 0.5, 0.999, 0.9999999]


@pytest.fixture(scope="module")
def teststad(tmp_path_factory: pytest.TempPathFactory) -> OrganisationRegister:
    return register_of(FIXTURES / "register", "teststad", tmp_path_factory.mktemp("register"))


def reference(policy: CompiledPolicy, request: DecisionRequest, moment: float) -> oc.Outcome:
    return evaluate(policy.context, request, moment).outcome


def flat(agg: Aggregate) -> Any:
    return (
        agg.totals,
        sorted((a.activity_id, a.counts.__dict__) for a in agg.activities),
        sorted((d.department, d.counts.__dict__) for d in agg.departments),
        sorted((r.rule_id, r.counts.__dict__) for r in agg.rules),
    )


def base_requests() -> st.SearchStrategy[DecisionRequest]:
    return st.builds(
        DecisionRequest,
        actor=st.builds(
            Actor,
            role=st.sampled_from(ROLES),
            department=st.sampled_from(DEPARTMENTS),
            organisation=st.sampled_from(["teststad", "teststad", "elders"]),
            case_assignments=st.frozensets(st.sampled_from(["z-1", "z-2", "z-3"])),
        ),
        action=st.sampled_from([*ACTIONS, "print"]),
        resource=st.builds(
            Resource,
            data_category=st.sampled_from(CATEGORIES),
            dataset=st.sampled_from(DATASETS),
            case_id=st.sampled_from(["z-1", "z-2", "z-9", None]),
            linked_dataset=st.sampled_from(DATASETS),
        ),
        purpose=st.sampled_from(PURPOSES),
        context=st.builds(
            Context,
            channel=st.sampled_from(CHANNELS),
            consent=st.frozensets(st.sampled_from(["wmo-maatwerk", "parkeren-scanauto"])),
            justification=st.sampled_from([None, "", "Spoed"]),
        ),
    )


def _edges(policy: CompiledPolicy) -> list[int]:
    """Minutes of the day at which a time window of `policy` starts or ends."""
    found = {0, 8 * 60, 18 * 60}
    for _days, start, end in policy.windows.windows:
        found.update({start, end % 1440})
    return sorted(found)


@st.composite
def moments(draw: st.DrawFn, edges: list[int]) -> float:
    """A moment at, just before or just after a window edge, on a day around a clock change."""
    day = draw(st.sampled_from(DAYS))
    minute = draw(st.sampled_from(edges)) + draw(st.sampled_from([-1, 0, 0, 1, 7]))
    local = datetime(day.year, day.month, day.day, tzinfo=TIMEZONE) + timedelta(minutes=minute)
    stamp = local.timestamp() + draw(st.sampled_from(SUBSECONDS))
    return draw(st.sampled_from([stamp, stamp - 1e-6, float(int(stamp))]))


@st.composite
def recorded_rows(draw: st.DrawFn, active: CompiledPolicy, edges: list[int]) -> list[Row]:
    """Rows as the decision log stores them: repeats of a few requests, varied."""
    bases = draw(st.lists(base_requests(), min_size=1, max_size=6))
    rows: list[Row] = []
    for number in range(draw(st.integers(1, 40))):
        base = draw(st.sampled_from(bases))
        resource, context = base.resource, base.context
        if draw(st.booleans()):  # another data subject, another case of the same standing
            cases = sorted(base.actor.case_assignments)
            case = resource.case_id
            if case in cases and len(cases) > 1:
                case = draw(st.sampled_from(cases))
            resource = Resource(
                resource.data_category,
                resource.dataset,
                f"k1:{draw(st.integers(0, 10**6)):064x}",
                case,
                resource.linked_dataset,
            )
        if draw(st.integers(0, 3)) == 0:  # a case of another standing
            resource = Resource(
                resource.data_category,
                resource.dataset,
                resource.subject,
                draw(st.sampled_from(["z-1", "z-2", "z-9", None])),
                resource.linked_dataset,
            )
        consent = context.consent
        if draw(st.integers(0, 3)) == 0:  # consent recorded for other purposes, or not
            consent = draw(
                st.frozensets(st.sampled_from(["wmo-maatwerk", "parkeren-scanauto", "elders"]))
            )
        justification = context.justification
        if draw(st.integers(0, 3)) == 0:
            justification = draw(st.sampled_from([None, "", "Spoed", "Andere motivering"]))
        moment = draw(moments(edges))
        request = DecisionRequest(
            base.actor,
            base.action,
            resource,
            base.purpose,
            Context(moment, context.channel, consent, justification),
        )
        outcome = decide_compiled(active, request, moment)
        rows.append(
            (
                number + 1,
                json.dumps(request.canonical()),
                outcome.effect,
                outcome.reason,
                json.dumps(list(outcome.rule_ids)),
            )
        )
    return draw(st.permutations(rows))


def deduplicated(policy: CompiledPolicy, rows: list[Row]) -> tuple[Aggregate, int]:
    dedupe = Deduplicator(policy)
    for start in range(0, len(rows), 7):  # several chunks
        dedupe.add(rows[start : start + 7])
    groups = dedupe.collected().groups
    return aggregate(policy, evaluate_groups(policy, groups), rule_titles(policy)), len(groups)


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_deduplicated_replay_equals_one_by_one(
    teststad: OrganisationRegister, data: st.DataObject
) -> None:
    active = compile_policy(policy_context(data.draw(policies(), "active"), teststad))
    draft = compile_policy(policy_context(data.draw(policies(), "draft"), teststad))
    rows = data.draw(recorded_rows(active, _edges(draft)), "rows")
    fast, groups = deduplicated(draft, rows)
    slow = aggregate(draft, replay_one_by_one(draft, rows, reference), rule_titles(draft))
    assert flat(fast) == flat(slow)
    assert fast.totals.requests == len(rows)
    assert 1 <= groups <= len(rows)


def test_identical_requests_are_decided_once(teststad: OrganisationRegister) -> None:
    """Rows differing only in what the policy cannot see make one group."""
    policy = compile_policy(
        policy_context(
            Policy.model_validate(
                {"kind": "policy", "id": "p", "organisation": "teststad", "title": "T"}
            ),
            teststad,
        )
    )
    rows: list[Row] = []
    monday_ten = datetime(2026, 3, 2, 10, tzinfo=TIMEZONE).timestamp()
    for number in range(50):
        request = DecisionRequest(
            Actor("wmo-consulent", "Sociaal Domein", "teststad", frozenset({"z-1", "z-2"})),
            "read",
            Resource("bsn", None, f"k1:{number:064x}", "z-1" if number % 2 else "z-2"),
            "wmo-maatwerk",
            Context(monday_ten + number * 3600, "intern", frozenset(), None),
        )
        rows.append((number + 1, json.dumps(request.canonical()), "permit", "permit", "[]"))
    dedupe = Deduplicator(policy)
    dedupe.add(rows)
    collected = dedupe.collected()
    assert len(collected.groups) == 1  # this policy has no time window: every hour is alike
    (group,) = collected.groups
    assert group.count == 50 and group.first_id == 1
    assert group.request.resource.subject == f"k1:{0:064x}"  # the first row's own request


def test_unreadable_and_momentless_rows_are_set_aside(teststad: OrganisationRegister) -> None:
    policy = compile_policy(
        policy_context(
            Policy.model_validate(
                {"kind": "policy", "id": "p", "organisation": "teststad", "title": "T"}
            ),
            teststad,
        )
    )
    request = DecisionRequest(
        Actor("parkeerhandhaver", "Parkeren", "teststad"),
        "read",
        Resource("kenteken"),
        "parkeren-scanauto",
        Context(None, "intern"),
    )
    text = json.dumps(request.canonical())
    dedupe = Deduplicator(policy)
    dedupe.add([(1, "{not json", "deny", "no_permit", "[]"), (2, text, "permit", "permit", "[]")])
    assert dedupe.take_without_moment() == [2]
    moment = datetime(2026, 3, 2, 10, tzinfo=TIMEZONE).timestamp()
    dedupe.add_with_moment([((2, text, "permit", "permit", "[]"), moment)])
    collected = dedupe.collected()
    assert collected.skipped == [1]
    assert collected.without_moment == []
    assert [(g.first_id, g.moment) for g in collected.groups] == [(2, moment)]
    assert collected.rows == 2


def test_without_a_sound_key_every_row_stands_alone(
    teststad: OrganisationRegister, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A condition the key does not know about (pretended here) turns dedupe off, not wrong."""
    policy = compile_policy(
        policy_context(
            Policy.model_validate(
                {
                    "kind": "policy",
                    "id": "p",
                    "organisation": "teststad",
                    "title": "T",
                    "rules": [
                        {
                            "id": "avond",
                            "effect": "deny",
                            "title": "Avond",
                            "explanation": "Niet 's avonds.",
                            "when": [{"time": {"start": "18:00", "end": "24:00"}}],
                        }
                    ],
                }
            ),
            teststad,
        )
    )
    monkeypatch.setattr(impact_replay, "_KEYED_CONDITIONS", (RoleIn,))
    assert not impact_replay.key_is_sound(policy)
    request = DecisionRequest(
        Actor("parkeerhandhaver", "Parkeren", "teststad"),
        "read",
        Resource("kenteken"),
        "parkeren-scanauto",
        Context(datetime(2026, 3, 2, 20, tzinfo=TIMEZONE).timestamp(), "intern"),
    )
    text = json.dumps(request.canonical())
    rows: list[Row] = [(n, text, "permit", "permit", "[]") for n in (1, 2, 3)]
    dedupe = Deduplicator(policy)
    dedupe.add(rows)
    groups = dedupe.collected().groups
    assert [g.count for g in groups] == [1, 1, 1]
    agg = aggregate(policy, evaluate_groups(policy, groups), rule_titles(policy))
    assert agg.totals.permit_to_deny == 3
    assert [(r.rule_id, r.counts.permit_to_deny) for r in agg.rules] == [("avond", 3)]


def _outcome(effect: str, reason: str, *ids: str) -> oc.Outcome:
    from glazenstad.rules.effective import EffectiveRule
    from glazenstad.rules.language import Obligations

    rules = tuple(
        EffectiveRule(
            id=i,
            effect="deny" if reason == oc.DENY_RULE else "permit",
            title=i,
            explanation=i,
            purposes=None,
            data_categories=None,
            datasets=None,
            actions=None,
            link=None,
            conditions=(),
            obligations=Obligations(),
            legal_basis=(),
            break_glass=False,
        )
        for i in ids
    )
    return oc.Outcome(effect, reason, rules)


PERMITTED = Recorded("permit", "permit", ("p",))


@pytest.mark.parametrize(
    ("recorded", "now", "kind", "blamed"),
    [
        # A new deny rule: counted against it.
        (PERMITTED, _outcome("deny", oc.DENY_RULE, "d"), PERMIT_TO_DENY, ("d",)),
        # The permit no longer applies: counted against the permit that decided before.
        (PERMITTED, _outcome("deny", oc.NO_PERMIT), PERMIT_TO_DENY, ("p",)),
        # A deny rule no longer applies: counted against that deny rule.
        (Recorded("deny", "deny_rule", ("d",)), _outcome("permit", oc.PERMIT, "p"), DENY_TO_PERMIT,
         ("d",)),
        # Nothing permitted before, a permit now: counted against the new permit.
        (Recorded("deny", "no_permit", ()), _outcome("permit", oc.PERMIT, "q"), DENY_TO_PERMIT,
         ("q",)),
        # Same answer, another rule.
        (PERMITTED, _outcome("permit", oc.PERMIT, "q"), OTHER_CHANGE, ("p", "q")),
        # Same answer, same rules in another order: no change.
        (Recorded("permit", "permit", ("q", "p")), _outcome("permit", oc.PERMIT, "p", "q"),
         "unchanged", ()),
    ],
)  # fmt: skip
def test_changes_are_classified_and_blamed(
    recorded: Recorded, now: oc.Outcome, kind: str, blamed: tuple[str, ...]
) -> None:
    assert classify(recorded, now) == kind
    assert causes(recorded, now, kind) == blamed
