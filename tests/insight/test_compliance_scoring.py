"""Score arithmetic: 100 minus the weights of what failed, per activity and overall."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from glazenstad.insight.compliance.checks import CHECKS, WEIGHTING_VERSION, ComplianceCheck
from glazenstad.insight.compliance.model import CheckResult, EvidenceItem, Status
from glazenstad.insight.compliance.scoring import activity_score, score

ACTIVITY_CHECKS = [c for c in CHECKS.values() if c.scope == "activity"]
ORG_CHECKS = [c for c in CHECKS.values() if c.scope == "organisation"]
ACTIVITIES = {"a": ("Verwerking A", "actief"), "b": ("Verwerking B", "actief")}


def _result(
    check: ComplianceCheck, status: Status = "fail", activities: tuple[str | None, ...] = ()
) -> CheckResult:
    items = tuple(EvidenceItem(str(a), str(a), 1, "", activity_id=a) for a in activities)
    return CheckResult(check, status, len(items) or 1, "", items=items)


def test_the_catalogue_is_complete_and_documented() -> None:
    assert WEIGHTING_VERSION
    assert sorted(CHECKS) == [f"NA{n:03d}" for n in range(1, 12)]
    for check in CHECKS.values():
        assert check.weight > 0
        assert check.title and check.explanation and check.title_en
        assert check.key == check.key.lower() and " " not in check.key


def test_nothing_failed_is_100() -> None:
    results = [_result(c, "pass") for c in CHECKS.values()]
    scores = score(results, ACTIVITIES)
    assert scores.overall == 100.0
    assert [s.score for s in scores.activities] == [100.0, 100.0]


def test_activity_and_organisation_weights() -> None:
    na006, na009 = CHECKS["NA006"], CHECKS["NA009"]
    na001, na008 = CHECKS["NA001"], CHECKS["NA008"]
    results = [
        _result(na006, activities=("a",)),
        _result(na009, activities=("a", "b")),
        _result(na001),
        _result(na008),
    ]
    scores = score(results, ACTIVITIES)
    by_id = {s.activity_id: s for s in scores.activities}
    assert by_id["a"].score == 100 - 25 - 5 and by_id["a"].failed == ("NA006", "NA009")
    assert by_id["b"].score == 95 and by_id["b"].failed == ("NA009",)
    assert scores.activity_average == (70 + 95) / 2
    assert scores.organisation_deduction == 20 + 10
    assert scores.overall == (70 + 95) / 2 - 30
    # Lowest score first: what needs attention leads.
    assert [s.activity_id for s in scores.activities] == ["a", "b"]


def test_scores_never_go_below_zero_and_not_measured_counts_for_nothing() -> None:
    results = [_result(c, activities=("a",)) for c in ACTIVITY_CHECKS]
    results += [_result(c) for c in ORG_CHECKS]
    results.append(_result(CHECKS["NA011"], "not-measured"))
    scores = score(results, {"a": ("A", "actief")})
    activity_weights = sum(c.weight for c in ACTIVITY_CHECKS)
    assert scores.activities[0].score == 100 - activity_weights
    assert 100 - activity_weights - sum(c.weight for c in ORG_CHECKS) < 0
    assert scores.overall == 0.0
    assert activity_score([60, 60]) == 0.0
    only_unmeasured = score([_result(CHECKS["NA011"], "not-measured")], {"a": ("A", "actief")})
    assert only_unmeasured.overall == 100.0


def test_a_failing_activity_outside_the_scored_set_is_scored_too() -> None:
    """Records written under an ended activity must lower a score, the ended activity's."""
    results = [_result(CHECKS["NA002"], activities=("oud",))]
    scores = score(results, ACTIVITIES, {"oud": ("Oude verwerking", "beeindigd")})
    by_id = {s.activity_id: s for s in scores.activities}
    assert by_id["oud"].score == 85.0 and by_id["oud"].status == "beeindigd"
    assert scores.activity_average == round((85 + 100 + 100) / 3, 1)


def test_an_activity_check_that_names_no_activity_weighs_on_the_organisation() -> None:
    results = [_result(CHECKS["NA010"], activities=(None,))]
    scores = score(results, ACTIVITIES)
    assert [s.score for s in scores.activities] == [100.0, 100.0]
    assert scores.organisation_deduction == CHECKS["NA010"].weight
    assert scores.overall == 100 - CHECKS["NA010"].weight


def test_no_activities_at_all() -> None:
    assert score([_result(CHECKS["NA008"])], {}).overall == 90.0


@given(
    failures=st.dictionaries(
        st.sampled_from(["a", "b", "c"]),
        st.sets(st.sampled_from([c.code for c in ACTIVITY_CHECKS])),
    ),
    org_failures=st.sets(st.sampled_from([c.code for c in ORG_CHECKS])),
)
def test_overall_is_the_average_minus_the_organisation_weights(
    failures: dict[str, set[str]], org_failures: set[str]
) -> None:
    activities = {a: (a, "actief") for a in ("a", "b", "c")}
    results = [
        _result(CHECKS[code], activities=tuple(a for a, codes in failures.items() if code in codes))
        for code in {c for codes in failures.values() for c in codes}
    ]
    results += [_result(CHECKS[code]) for code in org_failures]
    scores = score(results, activities)
    expected = {
        a: max(0, 100 - sum(CHECKS[c].weight for c in failures.get(a, set()))) for a in activities
    }
    assert {s.activity_id: s.score for s in scores.activities} == expected
    average = sum(expected.values()) / 3
    deduction = sum(CHECKS[c].weight for c in org_failures)
    assert scores.organisation_deduction == deduction
    assert scores.overall == round(max(0.0, average - deduction), 1)
    assert 0.0 <= scores.overall <= 100.0
