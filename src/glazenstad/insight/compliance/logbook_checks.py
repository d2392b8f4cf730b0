"""Checks on the logbook itself: was every processing registered, active, lawful, kept no longer
than allowed, and is every active activity logged at all?

All of them read the grouped facts of `logfacts.log_groups` and the activity versions those
groups were logged under; see the module docstring of `glazenstad.insight.compliance.checks` for
what each check weighs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from glazenstad.insight.compliance import links
from glazenstad.insight.compliance.checks import (
    ACTIVITY_WITHOUT_LOGS,
    INACTIVE_ACTIVITY,
    NEW_ACTIVITY_GRACE,
    PIPELINE_DELETION_LATE,
    RETENTION_MAX_LATENESS,
    RETENTION_OVERDUE,
    RETENTION_TOLERANCE,
    SPECIAL_WITHOUT_DPIA,
    UNREGISTERED_ACTIVITY,
)
from glazenstad.insight.compliance.logfacts import (
    LogGroup,
    count_ended_by,
    deleted_uris,
    epoch_ms,
    record_examples,
)
from glazenstad.insight.compliance.model import CheckResult, EvidenceItem, Example, Figure
from glazenstad.insight.compliance.registerview import ActivityVersions
from glazenstad.insight.compliance.wording import (
    count_nl,
    hours,
    moment_nl,
    number_nl,
    records_nl,
)
from glazenstad.logbook.record import ms_to_datetime
from glazenstad.logbook.retention import (
    DUE,
    NO_RETENTION_RULE,
    WAITING_FOR_TRIGGER,
    Decision,
    RetentionRules,
    decide,
)
from glazenstad.logbook.retention import OUTCOME_ATTRIBUTE as OUTCOME
from glazenstad.register.model import RetentionRule
from glazenstad.register.store import OrganisationRegister

MAX_ITEMS = 25
EXAMPLE_ITEMS = 5


@dataclass(frozen=True)
class LogContext:
    engine: Engine
    organisation_id: str
    now: datetime
    groups: list[LogGroup]
    versions: ActivityVersions
    register: OrganisationRegister

    def name(self, activity_id: str) -> str:
        current = self.register.activity(activity_id)
        if current is not None:
            return current.name
        for version in self.versions.by_uri_version.values():
            if version.entry_id == activity_id:
                return version.name
        return activity_id


def _activity_items(
    ctx: LogContext,
    counts: dict[str, int],
    detail: Callable[[str, int], str],
    examples: Callable[[str], tuple[Example, ...]] | None = None,
) -> tuple[EvidenceItem, ...]:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    items: list[EvidenceItem] = []
    for index, (activity_id, count) in enumerate(ordered):
        name = ctx.name(activity_id)
        found = examples(activity_id) if examples and index < EXAMPLE_ITEMS else ()
        items.append(
            EvidenceItem(
                subject=activity_id,
                label=name,
                count=count,
                detail=detail(activity_id, count),
                activity_id=activity_id,
                links=(
                    links.activity(ctx.organisation_id, activity_id, name),
                    links.activity_api(ctx.organisation_id, activity_id),
                ),
                examples=found,
            )
        )
    return tuple(items)


def _uris_of(ctx: LogContext, activity_id: str) -> list[str]:
    return sorted({uri for uri, entry in ctx.versions.by_uri.items() if entry == activity_id})


def _activity_examples(
    ctx: LogContext,
    activity_id: str,
    *,
    versions: list[int] | None = None,
    ended_by_ms: int | None = None,
) -> tuple[Example, ...]:
    """A few example records of an activity, under any of its URIs, narrowed as a check needs
    (only the versions it objects to, or only records ended by a moment), so that an example
    never contradicts the finding it illustrates."""
    found: list[Example] = []
    for uri in _uris_of(ctx, activity_id):
        found += record_examples(
            ctx.engine,
            ctx.organisation_id,
            uri,
            ctx.now,
            versions=versions,
            ended_by_ms=ended_by_ms,
        )
    return tuple(found[:3])


def unregistered_activity(ctx: LogContext) -> CheckResult:
    """NA001: records whose activity URI did not resolve in the register at their start."""
    per_uri: dict[str, int] = defaultdict(int)
    last: dict[str, int] = {}
    for group in ctx.groups:
        if not group.known:
            per_uri[group.uri] += group.count
            last[group.uri] = max(last.get(group.uri, 0), group.last_start_ms)
    total = sum(per_uri.values())
    ordered = sorted(per_uri.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_ITEMS]
    items = []
    for index, (uri, count) in enumerate(ordered):
        entry_id = ctx.versions.activity_id(uri)
        why = (
            "stond toen niet (meer) in het register"
            if entry_id
            else "komt niet voor in het register van deze organisatie"
        )
        items.append(
            EvidenceItem(
                subject=uri,
                label=uri,
                count=count,
                detail=f"{records_nl(count)}; deze verwerking {why}. Laatste: "
                f"{moment_nl(ms_to_datetime(last[uri]))}.",
                activity_id=None,
                links=(links.activity(ctx.organisation_id, entry_id),) if entry_id else (),
                examples=record_examples(ctx.engine, ctx.organisation_id, uri, ctx.now)
                if index < EXAMPLE_ITEMS
                else (),
            )
        )
    return CheckResult(
        UNREGISTERED_ACTIVITY,
        "fail" if total else "pass",
        total,
        f"{records_nl(total)} zonder geregistreerde verwerking, onder {len(per_uri)} "
        "verschillende verwijzingen."
        if total
        else "Alle logregels horen bij een verwerking die in het register stond.",
        (
            Figure("records", "Logregels zonder geregistreerde verwerking", total),
            Figure("distinctUris", "Verschillende verwijzingen", len(per_uri)),
        ),
        tuple(items),
        (links.activities(ctx.organisation_id),),
    )


def inactive_activity(ctx: LogContext) -> CheckResult:
    """NA002: records logged under an activity version that was concept or ended."""
    counts: dict[str, int] = defaultdict(int)
    statuses: dict[str, set[str]] = defaultdict(set)
    bad_versions: dict[str, list[int]] = defaultdict(list)
    for group in ctx.groups:
        version = ctx.versions.version(group.uri, group.version) if group.known else None
        if version is None or version.status == "actief":
            continue
        counts[version.entry_id] += group.count
        statuses[version.entry_id].add(version.status)
        bad_versions[version.entry_id].append(version.version)
    labels = {"concept": "concept", "beeindigd": "beëindigd"}

    def detail(activity_id: str, count: int) -> str:
        status = " of ".join(sorted(labels.get(s, s) for s in statuses[activity_id]))
        return f"{records_nl(count)} terwijl de verwerking {status} was."

    def examples(activity_id: str) -> tuple[Example, ...]:
        return _activity_examples(ctx, activity_id, versions=sorted(set(bad_versions[activity_id])))

    total = sum(counts.values())
    return CheckResult(
        INACTIVE_ACTIVITY,
        "fail" if total else "pass",
        total,
        f"{records_nl(total)} bij "
        f"{count_nl(len(counts), 'verwerking', 'verwerkingen')} die toen niet actief was."
        if total
        else "Er is alleen verwerkt onder verwerkingen die op dat moment actief waren.",
        (Figure("records", "Logregels onder een niet-actieve verwerking", total),),
        _activity_items(ctx, counts, detail, examples),
    )


def special_without_dpia(ctx: LogContext) -> CheckResult:
    """NA006: records under a version with special categories and no completed DPIA."""
    counts: dict[str, int] = defaultdict(int)
    categories: dict[str, set[str]] = defaultdict(set)
    dpia: dict[str, set[str]] = defaultdict(set)
    bad_versions: dict[str, list[int]] = defaultdict(list)
    for group in ctx.groups:
        version = ctx.versions.version(group.uri, group.version) if group.known else None
        if version is None or version.dpia_status == "uitgevoerd":
            continue
        special = ctx.versions.special_categories(version)
        if not special:
            continue
        counts[version.entry_id] += group.count
        categories[version.entry_id].update(special)
        dpia[version.entry_id].add(version.dpia_status or "onbekend")
        bad_versions[version.entry_id].append(version.version)

    def detail(activity_id: str, count: int) -> str:
        return (
            f"{records_nl(count)}; bijzondere gegevens: "
            f"{', '.join(sorted(categories[activity_id]))}; DPIA-status toen: "
            f"{', '.join(sorted(dpia[activity_id]))}."
        )

    def examples(activity_id: str) -> tuple[Example, ...]:
        return _activity_examples(ctx, activity_id, versions=sorted(set(bad_versions[activity_id])))

    total = sum(counts.values())
    return CheckResult(
        SPECIAL_WITHOUT_DPIA,
        "fail" if total else "pass",
        total,
        f"{records_nl(total)} met bijzondere persoonsgegevens zonder uitgevoerde DPIA, bij "
        f"{count_nl(len(counts), 'verwerking', 'verwerkingen')}."
        if total
        else "Bijzondere persoonsgegevens zijn alleen verwerkt met een uitgevoerde DPIA.",
        (Figure("records", "Logregels met bijzondere gegevens zonder DPIA", total),),
        _activity_items(ctx, counts, detail, examples),
    )


def _threshold(
    rules: Sequence[RetentionRule], group: LogGroup, cutoff: datetime
) -> tuple[int | None, Decision]:
    """The latest end time (ms) of the group's records that are past their term at `cutoff`.

    A record's expiry grows with its end time (calendar periods included), so the records past
    term are exactly those that ended at or before some moment; it is found by bisection with
    the retention module's own rule choice, so this check and the retention job never disagree.
    """
    attributes = {OUTCOME: group.outcome} if group.outcome is not None else {}

    def at(end_ms: int) -> Decision:
        return decide(rules, attributes, ms_to_datetime(end_ms), cutoff)

    first = at(group.min_end_ms)
    if first.reason != DUE:
        return None, first
    if at(group.max_end_ms).reason == DUE:
        return group.max_end_ms, first
    low, high = group.min_end_ms, group.max_end_ms  # due at low, not at high
    while high - low > 1:
        middle = (low + high) // 2
        if at(middle).reason == DUE:
            low = middle
        else:
            high = middle
    return low, first


def retention_overdue(ctx: LogContext) -> CheckResult:
    """NA003: records more than the tolerance past their retention term, not yet removed."""
    rules = RetentionRules(ctx.engine)
    cutoff = ctx.now - RETENTION_TOLERANCE
    counts: dict[str, int] = defaultdict(int)
    oldest: dict[str, datetime] = {}
    ended_by: dict[str, int] = {}
    kept_no_rule = kept_trigger = 0
    partial: dict[str, list[tuple[LogGroup, int, str]]] = defaultdict(list)
    for group in ctx.groups:
        found = rules.rules(ctx.organisation_id, group.uri, group.known, group.version)
        if found is None:
            continue  # unknown activity: NA001 reports it; nobody decided its term
        end_ms, first = _threshold(found, group, cutoff)
        if first.reason == NO_RETENTION_RULE:
            kept_no_rule += group.count
        elif first.reason == WAITING_FOR_TRIGGER:
            kept_trigger += group.count
        if end_ms is None:
            continue
        version = ctx.versions.version(group.uri, group.version)
        activity_id = version.entry_id if version else group.uri
        assert first.expiry is not None
        oldest[activity_id] = min(oldest.get(activity_id, first.expiry), first.expiry)
        ended_by[activity_id] = max(ended_by.get(activity_id, 0), end_ms)
        if end_ms >= group.max_end_ms:
            counts[activity_id] += group.count  # the whole group is past its term
        else:
            partial[group.uri].append((group, end_ms, activity_id))
    for uri, bounds in partial.items():
        found_counts = count_ended_by(
            ctx.engine, ctx.organisation_id, uri, [(g, end) for g, end, _ in bounds], ctx.now
        )
        for (_, _, activity_id), count in zip(bounds, found_counts, strict=True):
            counts[activity_id] += count

    def detail(activity_id: str, count: int) -> str:
        late = ctx.now - oldest[activity_id]
        return (
            f"{records_nl(count)} voorbij de bewaartermijn; de oudste had "
            f"{number_nl(hours(late))} uur geleden weg moeten zijn."
        )

    def examples(activity_id: str) -> tuple[Example, ...]:
        return _activity_examples(ctx, activity_id, ended_by_ms=ended_by[activity_id])

    total = sum(counts.values())
    most_late = max((ctx.now - moment for moment in oldest.values()), default=None)
    return CheckResult(
        RETENTION_OVERDUE,
        "fail" if total else "pass",
        total,
        f"{records_nl(total)} zijn langer dan een dag over hun bewaartermijn heen."
        if total
        else "Geen logregels die langer dan een dag over hun bewaartermijn heen zijn.",
        (
            Figure("records", "Logregels over de bewaartermijn (meer dan een dag)", total),
            Figure(
                "oldestOverdueHours",
                "Zo lang is de oudste over de termijn (uren)",
                hours(most_late) if most_late is not None else None,
            ),
            Figure("keptWithoutRule", "Bewaard zonder bewaarregel in het register", kept_no_rule),
            Figure("keptWaitingForTrigger", "Bewaard tot een gebeurtenis (trigger)", kept_trigger),
        ),
        _activity_items(ctx, counts, detail, examples),
        (links.dashboard(),),
    )


def pipeline_deletion_late(ctx: LogContext) -> CheckResult:
    """NA005: pipelines that logged a deletion run more than the allowed lateness past term."""
    limit_s = RETENTION_MAX_LATENESS.total_seconds()
    worst: dict[str, float] = {}
    reported = 0
    for group in ctx.groups:
        if group.deletion_lateness_s is None:
            continue
        reported += 1
        version = ctx.versions.version(group.uri, group.version) if group.known else None
        if version is None:
            continue  # processing without a registered activity: NA001 reports it
        activity_id = version.entry_id
        worst[activity_id] = max(worst.get(activity_id, 0.0), group.deletion_lateness_s)
    late = {a: s for a, s in worst.items() if s > limit_s}
    late_hours = {a: round(s / 3600, 1) for a, s in late.items()}
    counts = dict.fromkeys(late, 1)

    def detail(activity_id: str, _count: int) -> str:
        return (
            "Een verwijderronde in de afgelopen 30 dagen was "
            f"{number_nl(late_hours[activity_id])} uur te laat."
        )

    if not reported:
        summary = "In de afgelopen 30 dagen meldde geen systeem een verwijderronde."
    elif late:
        summary = (
            f"{count_nl(len(late), 'verwerking', 'verwerkingen')} met een verwijderronde die meer "
            f"dan {number_nl(hours(RETENTION_MAX_LATENESS))} uur te laat was."
        )
    else:
        summary = "Systemen in de uitvoering verwijderden gegevens op tijd."
    return CheckResult(
        PIPELINE_DELETION_LATE,
        "fail" if late else "pass",
        len(late),
        summary,
        (
            Figure(
                "maxLatenessHours",
                "Grootste vertraging bij verwijderen (uren)",
                round(max(worst.values()) / 3600, 1) if worst else None,
            ),
        ),
        _activity_items(ctx, counts, detail),
    )


def activities_without_logs(ctx: LogContext) -> CheckResult:
    """NA009: active activities, registered long enough, of which nothing was ever logged."""
    logged = {g.uri for g in ctx.groups} | deleted_uris(ctx.engine, ctx.organisation_id, ctx.now)
    logged_ids = {ctx.versions.activity_id(uri) for uri in logged}
    counts: dict[str, int] = {}
    for activity in ctx.register.activities():
        if activity.status != "actief" or activity.id in logged_ids:
            continue
        first = ctx.versions.first_recorded.get(activity.id)
        if first is not None and ctx.now - first < NEW_ACTIVITY_GRACE:
            continue
        counts[activity.id] = 1
    since = {a: ctx.versions.first_recorded.get(a) for a in counts}

    def detail(activity_id: str, _count: int) -> str:
        moment = since[activity_id]
        when = f" sinds {moment_nl(moment)}" if moment else ""
        return f"Actief in het register{when}, maar geen enkele logregel."

    return CheckResult(
        ACTIVITY_WITHOUT_LOGS,
        "fail" if counts else "pass",
        len(counts),
        f"{count_nl(len(counts), 'actieve verwerking', 'actieve verwerkingen')} zonder logregels."
        if counts
        else "Van elke actieve verwerking is iets gelogd.",
        (Figure("activities", "Actieve verwerkingen zonder logregels", len(counts)),),
        _activity_items(ctx, counts, detail),
    )


def run_logbook_checks(ctx: LogContext) -> Iterable[CheckResult]:
    yield unregistered_activity(ctx)
    yield inactive_activity(ctx)
    yield retention_overdue(ctx)
    yield pipeline_deletion_late(ctx)
    yield special_without_dpia(ctx)
    yield activities_without_logs(ctx)


__all__ = ["LogContext", "epoch_ms", "run_logbook_checks"]
