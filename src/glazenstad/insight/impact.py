"""Impact replay: what a policy version would have decided on the requests of a period.

Before a draft is activated, its owner wants to know what it changes in practice, not only in
the text: which recorded requests it would deny that were permitted (and the other way round),
for which processing activities and departments, because of which rules, with real examples
explained in plain Dutch. The recorded decision requests of the period are read from the
decision log, deduplicated (`impact_replay`) and decided with the compiled version; the answers
are compared with the recorded ones.

The comparison is with what was *recorded*: the outcome the then active policy gave. When a
policy was activated during the period, changes made by that activation show up too; choose a
period after the last activation to see only the draft's own effect.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine

from glazenstad.insight.impact_replay import (
    CHANGE_KINDS,
    DENY_TO_PERMIT,
    OTHER_CHANGE,
    PERMIT_TO_DENY,
    UNCHANGED,
    Deduplicator,
    Evaluated,
    Row,
    collector_paused,
    evaluate_groups,
)
from glazenstad.insight.impact_source import (
    CHUNK,
    count_rows,
    prefetched,
    rows_by_id,
    stream_rows,
)
from glazenstad.rules.clock import TIMEZONE
from glazenstad.rules.compiler import CompiledPolicy
from glazenstad.rules.explain import explain
from glazenstad.rules.reference import evaluate
from glazenstad.rules.service import RulesService

DEFAULT_EXAMPLES = 3
MAX_EXAMPLES = 20
KIND_LABELS = {
    PERMIT_TO_DENY: "Was ja, wordt nee",
    DENY_TO_PERMIT: "Was nee, wordt ja",
    OTHER_CHANGE: "Zelfde antwoord, andere regel of reden",
}


class ImpactError(Exception):
    """A replay that cannot run: unknown version, no register, an empty or reversed period."""


class ReplayProgress(Protocol):
    """Told how many rows there are and how many are done (a progress bar, for instance)."""

    def total(self, rows: int) -> None: ...

    def advance(self, rows: int) -> None: ...


@dataclass
class Counts:
    requests: int = 0
    permit_to_deny: int = 0
    deny_to_permit: int = 0
    other_changes: int = 0

    @property
    def changed(self) -> int:
        return self.permit_to_deny + self.deny_to_permit + self.other_changes

    def add(self, kind: str, count: int) -> None:
        self.requests += count
        if kind == PERMIT_TO_DENY:
            self.permit_to_deny += count
        elif kind == DENY_TO_PERMIT:
            self.deny_to_permit += count
        elif kind == OTHER_CHANGE:
            self.other_changes += count


@dataclass(frozen=True)
class ActivityImpact:
    activity_id: str
    name: str
    counts: Counts


@dataclass(frozen=True)
class DepartmentImpact:
    department: str
    counts: Counts


@dataclass(frozen=True)
class RuleImpact:
    """Changed requests counted against one rule (see `impact_replay.causes`)."""

    rule_id: str
    title: str
    effect: str | None
    in_version: bool
    """False for a rule that decided a recorded request but is not in the replayed version."""
    counts: Counts


@dataclass(frozen=True)
class RuleRef:
    id: str
    title: str


@dataclass(frozen=True)
class OutcomeSummary:
    effect: str
    reason: str
    rules: tuple[RuleRef, ...]


@dataclass(frozen=True)
class ImpactExample:
    kind: str
    decision_id: str
    decided_at: datetime
    moment: datetime
    """The moment the request was for, in local time (Europe/Amsterdam)."""
    activity_id: str
    activity_name: str
    role: str
    department: str
    action: str
    data_category: str
    dataset: str | None
    linked_dataset: str | None
    channel: str | None
    justified: bool
    identical: int
    """How many recorded requests the version cannot tell apart from this one."""
    recorded: OutcomeSummary
    replayed: OutcomeSummary
    explanation: str
    """Why the replayed version answers as it does, in plain Dutch."""


@dataclass(frozen=True)
class ImpactTimings:
    fetch_seconds: float
    """Waiting for rows from the database (reading overlaps deduplicating)."""
    dedupe_seconds: float
    """Reducing rows to what the version can distinguish."""
    evaluate_seconds: float
    """Deciding one request per group with the compiled version, and counting."""
    examples_seconds: float
    total_seconds: float


@dataclass(frozen=True)
class Aggregate:
    totals: Counts
    activities: list[ActivityImpact]
    departments: list[DepartmentImpact]
    rules: list[RuleImpact]


@dataclass(frozen=True)
class Replay:
    """What a replay of rows came to, before it is named after a stored version."""

    aggregate: Aggregate
    examples: list[ImpactExample]
    groups: int
    deduplicated: bool
    skipped: int
    timings: ImpactTimings


@dataclass(frozen=True)
class ImpactReport:
    organisation_id: str
    version: str
    title: str
    status: str
    since: datetime
    until: datetime
    generated_at: datetime
    groups: int
    """Distinct requests as the version sees them (each decided once)."""
    deduplicated: bool
    skipped: int
    """Rows whose stored request could not be read."""
    aggregate: Aggregate
    examples: list[ImpactExample]
    timings: ImpactTimings

    @property
    def totals(self) -> Counts:
        return self.aggregate.totals


RuleTitles = dict[str, tuple[str, str | None]]


def rule_titles(*policies: CompiledPolicy | None) -> RuleTitles:
    """Rule id → (title, effect), the first policy given winning."""
    titles: RuleTitles = {}
    for policy in policies:
        if policy is None:
            continue
        for rule in policy.rules:
            titles.setdefault(rule.id, (rule.title, rule.effect))
    return titles


def _activity_of(policy: CompiledPolicy, purpose: str) -> tuple[str, str]:
    activity = policy.context.activities.get(purpose)
    if activity is None:
        return purpose, f"{purpose} (niet in het register)"
    return activity.id, activity.name


def aggregate(
    policy: CompiledPolicy, evaluated: Iterable[Evaluated], titles: RuleTitles
) -> Aggregate:
    """Count groups (each with its number of requests) per activity, department and rule."""
    totals = Counts()
    activities: dict[str, tuple[str, Counts]] = {}
    departments: dict[str, Counts] = {}
    rules: dict[str, Counts] = {}
    names: dict[str, tuple[str, str]] = {}
    for item in evaluated:
        group, kind = item.group, item.kind
        totals.add(kind, group.count)
        purpose = group.request.purpose
        where = names.get(purpose)
        if where is None:
            where = names[purpose] = _activity_of(policy, purpose)
        entry = activities.get(where[0])
        if entry is None:
            entry = activities[where[0]] = (where[1], Counts())
        entry[1].add(kind, group.count)
        department = group.request.actor.department
        counts = departments.get(department)
        if counts is None:
            counts = departments[department] = Counts()
        counts.add(kind, group.count)
        if kind != UNCHANGED:
            for rule_id in item.causes:
                found = rules.get(rule_id)
                if found is None:
                    found = rules[rule_id] = Counts()
                found.add(kind, group.count)
    in_version = {rule.id: rule for rule in policy.rules}

    def rule_impact(rule_id: str, counts: Counts) -> RuleImpact:
        title, effect = titles.get(rule_id, (rule_id, None))
        return RuleImpact(rule_id, title, effect, rule_id in in_version, counts)

    def order(counts: Counts) -> tuple[int, int]:
        return (-counts.changed, -counts.requests)

    return Aggregate(
        totals=totals,
        activities=sorted(
            (ActivityImpact(key, name, counts) for key, (name, counts) in activities.items()),
            key=lambda a: (*order(a.counts), a.activity_id),
        ),
        departments=sorted(
            (DepartmentImpact(key, counts) for key, counts in departments.items()),
            key=lambda d: (*order(d.counts), d.department),
        ),
        rules=sorted(
            (rule_impact(key, counts) for key, counts in rules.items()),
            key=lambda r: (*order(r.counts), r.rule_id),
        ),
    )


def _summary(
    effect: str, reason: str, rule_ids: Iterable[str], titles: RuleTitles
) -> OutcomeSummary:
    return OutcomeSummary(
        effect, reason, tuple(RuleRef(r, titles.get(r, (r, None))[0]) for r in rule_ids)
    )


def pick_examples(changed: list[Evaluated], per_kind: int) -> list[Evaluated]:
    """Up to `per_kind` examples of each kind of change, as varied as possible.

    The largest group of each (activity, deciding rules) comes first, so the examples show
    different causes before they show the same cause twice.
    """
    picked: list[Evaluated] = []
    for kind in CHANGE_KINDS:
        of_kind = sorted(
            (e for e in changed if e.kind == kind), key=lambda e: (-e.group.count, e.group.first_id)
        )
        seen: set[tuple[str, tuple[str, ...]]] = set()
        first: list[Evaluated] = []
        rest: list[Evaluated] = []
        for item in of_kind:
            variety = (item.group.request.purpose, item.causes)
            (rest if variety in seen else first).append(item)
            seen.add(variety)
        picked.extend((first + rest)[:per_kind])
    return picked


def _local(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC).astimezone(TIMEZONE)


def build_examples(
    engine: Engine, policy: CompiledPolicy, picked: list[Evaluated], titles: RuleTitles
) -> list[ImpactExample]:
    rows = rows_by_id(engine, [item.group.first_id for item in picked])
    examples: list[ImpactExample] = []
    for item in picked:
        group, outcome = item.group, item.outcome
        request = group.request
        row = rows[group.first_id]
        activity_id, activity_name = _activity_of(policy, request.purpose)
        examples.append(
            ImpactExample(
                kind=item.kind,
                decision_id=row["decision_id"],
                decided_at=row["decided_at"],
                moment=_local(group.moment),
                activity_id=activity_id,
                activity_name=activity_name,
                role=request.actor.role,
                department=request.actor.department,
                action=request.action,
                data_category=request.resource.data_category,
                dataset=request.resource.dataset,
                linked_dataset=request.resource.linked_dataset,
                channel=request.context.channel,
                justified=bool(request.context.justification),
                identical=group.count,
                recorded=_summary(
                    group.recorded.effect, group.recorded.reason, group.recorded.rules, titles
                ),
                replayed=_summary(outcome.effect, outcome.reason, outcome.rule_ids, titles),
                explanation=explain(evaluate(policy.context, request, group.moment), request),
            )
        )
    return examples


def local_day_start(day: date) -> datetime:
    """Midnight at the start of `day` in Europe/Amsterdam, as an aware UTC moment."""
    return datetime(day.year, day.month, day.day, tzinfo=TIMEZONE).astimezone(UTC)


def parse_bound(text: str, *, end: bool) -> datetime:
    """A period bound from a date (a whole local day; an end date is included) or a moment.

    `2026-03-01` as start is that day's local midnight; as end, the next day's. A moment
    without offset is read as local time. Raises ValueError with a readable message.
    """
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return local_day_start(day + timedelta(days=1) if end else day)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"'{text}' is not a date (2026-03-01) or moment (2026-03-01T08:00+01:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TIMEZONE)
    return moment.astimezone(UTC)


def check_period(since: datetime, until: datetime) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise ImpactError("the period's start and end need a time zone")
    if until <= since:
        raise ImpactError(
            f"the period ends ({until.isoformat()}) before or when it starts ({since.isoformat()})"
        )


def replay_decisions(
    engine: Engine,
    policy: CompiledPolicy,
    organisation: str,
    since: datetime,
    until: datetime,
    *,
    titles: RuleTitles | None = None,
    examples: int = DEFAULT_EXAMPLES,
    progress: ReplayProgress | None = None,
    chunk: int = CHUNK,
) -> Replay:
    """Stream the period's decisions, deduplicate, decide with `policy`, count, explain."""
    check_period(since, until)
    titles = titles if titles is not None else rule_titles(policy)
    started = time.perf_counter()
    if progress is not None:
        progress.total(count_rows(engine, organisation, since, until))
    with collector_paused():
        dedupe = Deduplicator(policy)
        sound = dedupe.sound
        dedupe_seconds = 0.0
        source = stream_rows(engine, organisation, since, until, chunk)
        # On PostgreSQL the server reads and sends the next chunk while this one is
        # deduplicated. SQLite works in this process, mostly under the interpreter lock: a
        # reader thread there only adds switching (measured: a few percent slower).
        chunks: Iterable[list[Row]] = (
            prefetched(source) if engine.dialect.name == "postgresql" else source
        )
        for rows in chunks:
            begin = time.perf_counter()
            dedupe.add(rows)
            dedupe_seconds += time.perf_counter() - begin
            if progress is not None:
                progress.advance(len(rows))
        waiting = dedupe.take_without_moment()
        if waiting:
            # A request stored without a moment was decided for the moment it was decided at.
            found = rows_by_id(engine, waiting)
            dedupe.add_with_moment(
                (
                    (r["id"], r["request_text"], r["effect"], r["reason"], r["rules_text"]),
                    r["decided_at"].timestamp(),
                )
                for r in found.values()
            )
        read_done = time.perf_counter()
        collected = dedupe.collected()
        del dedupe
        evaluated = list(evaluate_groups(policy, collected.groups))
        result = aggregate(policy, evaluated, titles)
        evaluated_at = time.perf_counter()
        changed = [e for e in evaluated if e.kind != UNCHANGED]
        shown = build_examples(engine, policy, pick_examples(changed, examples), titles)
        examples_done = time.perf_counter()
        skipped = len(collected.skipped) + len(collected.without_moment)
        groups = len(collected.groups)
        # Freed here, while the collector is still off: with it on, its next pass would walk
        # every group once more before they go.
        del evaluated, changed, collected
        done = time.perf_counter()
    timings = ImpactTimings(
        fetch_seconds=read_done - started - dedupe_seconds,
        dedupe_seconds=dedupe_seconds,
        evaluate_seconds=evaluated_at - read_done,
        examples_seconds=examples_done - evaluated_at,
        total_seconds=done - started,
    )
    return Replay(result, shown, groups, sound, skipped, timings)


def run_impact_replay(
    engine: Engine,
    rules: RulesService,
    organisation: str,
    version: str,
    since: datetime,
    until: datetime,
    *,
    examples: int = DEFAULT_EXAMPLES,
    progress: ReplayProgress | None = None,
) -> ImpactReport:
    """Replay the period's recorded requests of `organisation` against stored `version`."""
    check_period(since, until)
    if not 0 <= examples <= MAX_EXAMPLES:
        raise ImpactError(f"examples must be between 0 and {MAX_EXAMPLES}")
    stored = rules.policies.get(organisation, version)
    if stored is None:
        raise ImpactError(f"no policy version {version} for organisation '{organisation}'")
    policy = rules.version(organisation, stored.content_hash)
    if policy is None:
        raise ImpactError(f"organisation '{organisation}' has no register to compile against")
    titles = rule_titles(policy, rules.engine().active(organisation))
    replay = replay_decisions(
        engine,
        policy,
        organisation,
        since,
        until,
        titles=titles,
        examples=examples,
        progress=progress,
    )
    return ImpactReport(
        organisation_id=organisation,
        version=stored.content_hash,
        title=stored.title,
        status=stored.status,
        since=since,
        until=until,
        generated_at=datetime.now(UTC),
        groups=replay.groups,
        deduplicated=replay.deduplicated,
        skipped=replay.skipped,
        aggregate=replay.aggregate,
        examples=replay.examples,
        timings=replay.timings,
    )


def _counts_json(counts: Counts) -> dict[str, int]:
    return {
        "requests": counts.requests,
        "permitToDeny": counts.permit_to_deny,
        "denyToPermit": counts.deny_to_permit,
        "otherChanges": counts.other_changes,
    }


def _outcome_json(summary: OutcomeSummary) -> dict[str, Any]:
    return {
        "effect": summary.effect,
        "reason": summary.reason,
        "rules": [{"id": r.id, "title": r.title} for r in summary.rules],
    }


def report_json(report: ImpactReport) -> dict[str, Any]:
    """The report as JSON (camelCase keys, as the API and `glazenstad rules impact --json`)."""
    agg = report.aggregate
    return {
        "organisationId": report.organisation_id,
        "policyVersion": report.version,
        "title": report.title,
        "status": report.status,
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
        "generatedAt": report.generated_at.isoformat(),
        "totals": _counts_json(agg.totals),
        "distinctRequests": report.groups,
        "deduplicated": report.deduplicated,
        "skipped": report.skipped,
        "activities": [
            {"activityId": a.activity_id, "name": a.name, **_counts_json(a.counts)}
            for a in agg.activities
        ],
        "rules": [
            {
                "ruleId": r.rule_id,
                "title": r.title,
                "effect": r.effect,
                "inVersion": r.in_version,
                **_counts_json(r.counts),
            }
            for r in agg.rules
        ],
        "departments": [
            {"department": d.department, **_counts_json(d.counts)} for d in agg.departments
        ],
        "examples": [
            {
                "kind": e.kind,
                "decisionId": e.decision_id,
                "decidedAt": e.decided_at.isoformat(),
                "moment": e.moment.isoformat(),
                "activityId": e.activity_id,
                "activityName": e.activity_name,
                "role": e.role,
                "department": e.department,
                "action": e.action,
                "dataCategory": e.data_category,
                "dataset": e.dataset,
                "linkedDataset": e.linked_dataset,
                "channel": e.channel,
                "justified": e.justified,
                "identicalRequests": e.identical,
                "recorded": _outcome_json(e.recorded),
                "replayed": _outcome_json(e.replayed),
                "explanation": e.explanation,
            }
            for e in report.examples
        ],
        "timings": {
            "fetchSeconds": round(report.timings.fetch_seconds, 4),
            "dedupeSeconds": round(report.timings.dedupe_seconds, 4),
            "evaluateSeconds": round(report.timings.evaluate_seconds, 4),
            "examplesSeconds": round(report.timings.examples_seconds, 4),
            "totalSeconds": round(report.timings.total_seconds, 4),
        },
    }
