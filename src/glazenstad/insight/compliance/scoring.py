"""Score arithmetic: 100 minus the weights of what failed, per activity and overall.

See `glazenstad.insight.compliance.checks` for the weights and the reasoning. In short:
- activity score = max(0, 100 − Σ weight of the activity checks the activity fails);
- overall = max(0, average activity score − Σ weight of the organisation checks that fail);
- an activity check that fails for something that is not a registered activity (a break-the-glass
  decision for an unknown purpose) cannot lower an activity's score, so it weighs on the overall
  score instead, once;
- checks that were not measured count for nothing.
Scores are rounded to one decimal only at the end, so the documented sums hold exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from glazenstad.insight.compliance.model import ActivityScore, CheckResult

FULL = 100.0


@dataclass(frozen=True)
class Scores:
    activities: tuple[ActivityScore, ...]
    activity_average: float
    organisation_deduction: int
    overall: float


def activity_score(failed_weights: Iterable[int]) -> float:
    return max(0.0, FULL - sum(failed_weights))


def organisation_deduction(results: Iterable[CheckResult]) -> int:
    total = 0
    for result in results:
        if not result.failed:
            continue
        unattributed = any(i.activity_id is None and i.count > 0 for i in result.items)
        if result.check.scope == "organisation" or unattributed:
            total += result.check.weight
    return total


def score(
    results: Iterable[CheckResult],
    activities: Mapping[str, tuple[str, str]],
    names: Mapping[str, tuple[str, str]] | None = None,
) -> Scores:
    """Scores for `activities` (id → (name, register status)) and overall.

    Every activity failing an activity check is scored, also one that is not in `activities`
    (an ended activity under which records were still written): its failures must count. Its
    name and status come from `names` when given there.
    """
    names = names or {}
    results = list(results)
    failed_by_activity: dict[str, list[CheckResult]] = {a: [] for a in activities}
    for result in results:
        for activity_id in result.failed_activities:
            failed_by_activity.setdefault(activity_id, []).append(result)
    scored = []
    for activity_id, failed in failed_by_activity.items():
        name, status = activities.get(activity_id) or names.get(
            activity_id, (activity_id, "onbekend")
        )
        scored.append(
            ActivityScore(
                activity_id=activity_id,
                name=name,
                status=status,
                score=round(activity_score(r.check.weight for r in failed), 1),
                failed=tuple(sorted(r.check.code for r in failed)),
            )
        )
    scored.sort(key=lambda s: (s.score, s.name.casefold(), s.activity_id))
    average = (
        sum(activity_score(r.check.weight for r in f) for f in failed_by_activity.values())
        / len(failed_by_activity)
        if failed_by_activity
        else FULL
    )
    deduction = organisation_deduction(results)
    return Scores(
        activities=tuple(scored),
        activity_average=round(average, 1),
        organisation_deduction=deduction,
        overall=round(max(0.0, average - deduction), 1),
    )
