"""Dashboard figures on SQLite and PostgreSQL, checked against a count by hand of the same rows.

Decisions are written with the decision log's own writer (`write_decisions`, and `DecisionLog`
for decisions taken by the engine), log records through `LogStore.ingest`, so the figures read
exactly what production writes. Moments sit on both sides of local midnight and of the switches
to and from summer time, where a day bucket in UTC would be wrong.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from glazenstad.execution.parking.retention import DELETION_NAME
from glazenstad.insight import figures as fig
from glazenstad.insight.compliance.history import store_snapshot
from glazenstad.insight.compliance.model import ComplianceReport
from glazenstad.insight.incidents.reviews import (
    JUSTIFIED,
    UNJUSTIFIED,
    Reviewer,
    record_review,
    unreviewed_break_glass,
)
from glazenstad.insight.signals.figures import public_signal_figures
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.retention import OUTCOME_ATTRIBUTE, apply_retention
from glazenstad.logbook.store import LogStore
from glazenstad.register.loader import load_register
from glazenstad.register.store import OrganisationRegister, RegisterStore
from glazenstad.rules.compiler import compile_policy
from glazenstad.rules.decisionlog import DecisionLog, write_decisions
from glazenstad.rules.effective import policy_context
from glazenstad.rules.engine import Engine as RulesEngine
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource
from tests.conftest import FIXTURES, TEST_REGISTER

ORG = "teststad"
OTHER_ORG = "elders"
BASE = "https://register.teststad.example/processing-activities/"
PARKEREN = "parkeren-scanauto"
WMO = "wmo-maatwerk"
ZONE = fig.MUNICIPAL_ZONE
KEY = "k2026:" + "MjAyNi1zZWNyZXQtZm9yLXRlc3RzLW9ubHktMDEyMzQ1Njc4OQ=="
# Around the switch to summer time (Sunday 29 March 2026, 02:00 → 03:00 local).
SPRING = fig.Period(date(2026, 3, 20), date(2026, 4, 5))
PURPOSES = [PARKEREN, BASE + PARKEREN, WMO, BASE + WMO, "bestaat-niet"]
DEPARTMENTS = ["Parkeren", "Sociaal Domein", "Burgerzaken"]
RULES: list[list[str]] = [[], ["kantoortijd"], ["wmo-eigen-dossier"], ["kantoortijd", "extra"]]


@pytest.fixture
def register(engine: Engine) -> OrganisationRegister:
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    reg = RegisterStore(engine).snapshot().organisation(ORG)
    assert reg is not None
    return reg


@pytest.fixture
def activities(register: OrganisationRegister) -> fig.ActivityIndex:
    return fig.ActivityIndex.of(register)


def decision(
    moment: datetime,
    *,
    purpose: str = PARKEREN,
    department: str = "Parkeren",
    effect: str = "permit",
    reason: str | None = None,
    rules: list[str] | None = None,
    break_glass: bool = False,
    organisation: str = ORG,
) -> dict[str, Any]:
    """A decision log row as `decision_row` makes it."""
    return {
        "decision_id": uuid.uuid4().hex,
        "decided_at": moment,
        "organisation_id": organisation,
        "policy_version": "p" * 64,
        "compiled_hash": "c" * 64,
        "engine_version": "glazenstad-rules/1",
        "input_hash": "i" * 64,
        "purpose": purpose,
        "action": "read",
        "data_category": "kenteken",
        "role": "parkeerhandhaver",
        "department": department,
        "effect": effect,
        "reason": reason or ("break_glass" if break_glass else effect),
        "rules": rules or [],
        "break_glass": break_glass,
        "request": {"purpose": purpose},
    }


def write(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        write_decisions(conn, rows)


def random_rows(seed: int, count: int, period: fig.Period) -> list[dict[str, Any]]:
    """Decisions spread over the period and a day on either side, half-hour steps."""
    rng = random.Random(seed)
    start = period.start - timedelta(days=1)
    span = int((period.end - period.start).total_seconds() // 1800) + 96
    rows = []
    for _ in range(count):
        moment = start + timedelta(minutes=30 * rng.randrange(span), seconds=rng.randrange(60))
        effect = rng.choice(["permit", "permit", "deny"])
        glass = effect == "permit" and rng.random() < 0.2
        rows.append(
            decision(
                moment.astimezone(UTC),
                purpose=rng.choice(PURPOSES),
                department=rng.choice(DEPARTMENTS),
                effect=effect,
                reason=None if effect == "permit" else rng.choice(["deny_rule", "no_permit"]),
                rules=rng.choice(RULES),
                break_glass=glass,
                organisation=rng.choice([ORG, ORG, ORG, OTHER_ORG]),
            )
        )
    return rows


def by_hand(
    rows: list[dict[str, Any]],
    period: fig.Period,
    activities: fig.ActivityIndex,
    selection: fig.DecisionFilter = fig.DecisionFilter(),
) -> dict[str, Any]:
    """The figures counted row by row, without SQL, as the oracle."""
    days: Counter[tuple[date, str]] = Counter()
    per_activity: Counter[tuple[str, str]] = Counter()
    per_rule: Counter[tuple[str, str]] = Counter()
    denials: Counter[tuple[str, str | None]] = Counter()
    glass = 0
    for row in rows:
        local = row["decided_at"].astimezone(ZONE).date()
        if row["organisation_id"] != ORG or not period.first <= local <= period.last:
            continue
        key = activities.key(row["purpose"])
        if selection.department and row["department"] != selection.department:
            continue
        if selection.activity and key != selection.activity:
            continue
        if selection.rule and selection.rule not in row["rules"]:
            continue
        days[(local, row["effect"])] += 1
        per_activity[(key, row["effect"])] += 1
        glass += row["break_glass"]
        for rule in row["rules"]:
            per_rule[(rule, row["effect"])] += 1
        if row["effect"] == "deny":
            for rule in row["rules"] or [None]:
                denials[(row["reason"], rule)] += 1
    return {
        "days": days,
        "activity": per_activity,
        "rule": per_rule,
        "denials": denials,
        "glass": glass,
    }


def assert_matches(figures: fig.DecisionFigures, expected: dict[str, Any]) -> None:
    period = figures.period
    for bucket, tally in zip(period.buckets(), figures.by_bucket, strict=True):
        days = [bucket.first + timedelta(days=n) for n in range(bucket.days)]
        assert tally.permit == sum(expected["days"][(d, "permit")] for d in days), bucket
        assert tally.deny == sum(expected["days"][(d, "deny")] for d in days), bucket
    got_activity = {(k, "permit"): t.permit for k, t in figures.by_activity.items()}
    got_activity |= {(k, "deny"): t.deny for k, t in figures.by_activity.items()}
    assert +Counter(got_activity) == +expected["activity"]
    got_rule = {(k, "permit"): t.permit for k, t in figures.by_rule.items()}
    got_rule |= {(k, "deny"): t.deny for k, t in figures.by_rule.items()}
    assert +Counter(got_rule) == +expected["rule"]
    assert {(d.reason, d.rule): d.count for d in figures.denials} == dict(expected["denials"])
    assert figures.total.break_glass == expected["glass"]
    counts = [d.count for d in figures.denials]
    assert counts == sorted(counts, reverse=True)


def test_decision_figures_equal_a_count_by_hand(
    engine: Engine, activities: fig.ActivityIndex
) -> None:
    rows = random_rows(1, 600, SPRING)
    write(engine, rows)
    groups = fig.decision_groups(engine, ORG, SPRING)
    assert len(groups) < len(rows)  # grouped in the database
    figures = fig.decision_figures(groups, SPRING, activities)
    expected = by_hand(rows, SPRING, activities)
    assert_matches(figures, expected)
    assert figures.total.total == sum(expected["days"].values()) > 0
    # A purpose named by id and by URI is one activity; an unknown purpose is "not registered".
    assert set(figures.by_activity) == {PARKEREN, WMO, fig.NOT_REGISTERED}
    assert figures.departments == sorted(DEPARTMENTS, key=str.casefold)
    assert fig.decision_totals(engine, ORG, SPRING) == figures.total


@pytest.mark.parametrize(
    "selection",
    [
        fig.DecisionFilter(department="Sociaal Domein"),
        fig.DecisionFilter(activity=WMO),
        fig.DecisionFilter(activity=fig.NOT_REGISTERED),
        fig.DecisionFilter(rule="kantoortijd"),
        fig.DecisionFilter(department="Parkeren", activity=PARKEREN, rule="extra"),
        fig.DecisionFilter(department="Nergens"),
    ],
    ids=lambda s: f"{s.department or '-'}/{s.activity or '-'}/{s.rule or '-'}",
)
def test_filters_narrow_to_the_same_rows_as_by_hand(
    engine: Engine, activities: fig.ActivityIndex, selection: fig.DecisionFilter
) -> None:
    rows = random_rows(2, 400, SPRING)
    write(engine, rows)
    groups = fig.decision_groups(engine, ORG, SPRING)
    figures = fig.decision_figures(groups, SPRING, activities, selection)
    expected = by_hand(rows, SPRING, activities, selection)
    assert_matches(figures, expected)
    # The department list stays complete, so the filter can be changed back.
    assert figures.departments == sorted(DEPARTMENTS, key=str.casefold)
    if selection.department == "Nergens":
        assert figures.total.total == 0


def test_days_are_local_across_both_clock_changes(
    engine: Engine, activities: fig.ActivityIndex
) -> None:
    moments = {
        # 23:30 UTC on Saturday is 00:30 on Sunday 29 March (winter time, +1).
        datetime(2026, 3, 28, 23, 30, tzinfo=UTC): date(2026, 3, 29),
        datetime(2026, 3, 28, 22, 59, 59, tzinfo=UTC): date(2026, 3, 28),
        # After the switch (+2): 21:59 UTC is 23:59 on the 29th, 22:00 UTC midnight of the 30th.
        datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC): date(2026, 3, 29),
        datetime(2026, 3, 29, 22, 0, tzinfo=UTC): date(2026, 3, 30),
        # Back to winter time on 25 October (03:00 → 02:00 local at 01:00 UTC).
        datetime(2026, 10, 24, 21, 59, tzinfo=UTC): date(2026, 10, 24),
        datetime(2026, 10, 24, 22, 0, tzinfo=UTC): date(2026, 10, 25),
        datetime(2026, 10, 25, 22, 59, tzinfo=UTC): date(2026, 10, 25),
        datetime(2026, 10, 25, 23, 0, tzinfo=UTC): date(2026, 10, 26),
    }
    write(engine, [decision(m) for m in moments])
    period = fig.Period(date(2026, 3, 27), date(2026, 10, 27))  # per week; days from the groups
    got: Counter[date] = Counter()
    for group in fig.decision_groups(engine, ORG, period):
        got[group.day] += group.count
    assert got == Counter(moments.values())
    # The ends of a period are local midnights: 22:00 UTC on 29 March is already the 30th.
    march = fig.Period(date(2026, 3, 28), date(2026, 3, 29))
    assert fig.decision_totals(engine, ORG, march).total == 3


def test_weeks_start_on_monday_and_add_up_to_the_days(
    engine: Engine, activities: fig.ActivityIndex
) -> None:
    period = fig.Period(date(2026, 3, 4), date(2026, 5, 20))  # a Wednesday to a Wednesday
    assert period.granularity == "week"
    buckets = period.buckets()
    assert buckets[0] == fig.Bucket(date(2026, 3, 4), date(2026, 3, 9))  # cut at the start
    assert all(b.first.weekday() == 0 and b.days == 7 for b in buckets[1:-1])
    assert buckets[-1] == fig.Bucket(date(2026, 5, 18), date(2026, 5, 21))
    rows = random_rows(3, 300, period)
    write(engine, rows)
    figures = fig.decision_figures(fig.decision_groups(engine, ORG, period), period, activities)
    assert_matches(figures, by_hand(rows, period, activities))
    assert len(figures.by_bucket) == len(buckets) == 12


def test_periods_are_checked() -> None:
    with pytest.raises(ValueError, match="ends on or after"):
        fig.Period(date(2026, 3, 2), date(2026, 3, 1))
    with pytest.raises(ValueError, match="at most"):
        fig.Period(date(2025, 1, 1), date(2026, 3, 1))
    week = fig.Period.last_days(7, today=date(2026, 3, 8))
    assert (week.first, week.last, week.granularity) == (date(2026, 3, 2), date(2026, 3, 8), "day")
    assert week.start == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    assert fig.utc_offsets(SPRING.start, SPRING.end, ZONE)[1] == (
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        timedelta(hours=2),
    )


def test_decisions_of_the_engine_through_the_decision_log(
    engine: Engine, register: OrganisationRegister, activities: fig.ActivityIndex
) -> None:
    """Real decisions: outside office hours the deny rule `kantoortijd` decides, and with a
    written justification it is set aside (break-the-glass)."""
    policy = parse_policies(FIXTURES / "policies").policies[0].policy
    rules = RulesEngine()
    rules.add(compile_policy(policy_context(policy, register)), active=True)

    def request(moment: datetime, justification: str | None = None) -> DecisionRequest:
        return DecisionRequest(
            actor=Actor("parkeerhandhaver", "Parkeren", ORG),
            action="read",
            resource=Resource("kenteken", dataset="scanauto"),
            purpose=PARKEREN,
            context=Context(time=moment.timestamp(), justification=justification),
        )

    office = datetime(2026, 3, 24, 10, 0, tzinfo=ZONE)  # a Tuesday morning
    night = datetime(2026, 3, 24, 23, 0, tzinfo=ZONE)
    log = DecisionLog(engine)
    decided = [
        rules.decide(request(office)),
        rules.decide(request(night)),
        rules.decide(request(night)),
        rules.decide(request(night, "Dringende zaak")),
    ]
    log.record_many(decided, wait=True)
    log.close()
    today = datetime.now(ZONE).date()
    period = fig.Period(today - timedelta(days=1), today)
    figures = fig.decision_figures(fig.decision_groups(engine, ORG, period), period, activities)
    assert figures.total.total == 4
    assert figures.total.deny == 2 and figures.total.break_glass == 1
    assert figures.by_rule["kantoortijd"].deny == 2
    assert figures.denials[0] == fig.Denial("deny_rule", "kantoortijd", 2)
    assert figures.denials[0].title == "Een spelregel verbiedt het"


def ingest(store: LogStore, org: str, records: list[dict[str, Any]]) -> None:
    result = store.ingest(org, records)
    assert result.accepted == len(records), result.rejected


_span = iter(range(1, 10**9))


def record(start_ms: int, uri: str, **attributes: Any) -> dict[str, Any]:
    number = next(_span)
    return {
        "trace_id": f"{number:032x}",
        "span_id": f"{number:016x}",
        "name": attributes.pop("name", "Scanauto controleert kenteken"),
        "start_time": start_ms,
        "end_time": start_ms + 5,
        "status": "Ok",
        "attributes": {"dpl.core.processing_activity_id": uri, **attributes},
    }


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def store(engine: Engine, register: OrganisationRegister) -> LogStore:
    return LogStore(engine, RegisterStore(engine), Pseudonymizer.from_config(KEY))


def test_log_volume_per_activity_and_local_day(
    engine: Engine, store: LogStore, activities: fig.ActivityIndex
) -> None:
    night = datetime(2026, 3, 29, 21, 59, tzinfo=UTC)  # 23:59 local on the 29th
    ingest(
        store,
        ORG,
        [record(ms(night), BASE + PARKEREN) for _ in range(3)]
        + [record(ms(night) + 60_000, BASE + PARKEREN)]  # 00:00 on the 30th
        + [record(ms(night), BASE + WMO) for _ in range(2)]
        + [record(ms(night), BASE + "bestaat-niet")]
        + [record(ms(datetime(2026, 4, 6, 12, tzinfo=UTC)), BASE + WMO)],  # after the period
    )
    ingest(store, OTHER_ORG, [record(ms(night), BASE + PARKEREN)])
    groups = fig.log_groups(engine, ORG, SPRING)
    log = fig.log_figures(groups, SPRING, activities)
    assert log.total == 7
    assert log.by_activity == {PARKEREN: 4, WMO: 2, fig.NOT_REGISTERED: 1}
    day = SPRING.bucket_index()
    assert log.by_activity_bucket[PARKEREN][day(date(2026, 3, 29))] == 3
    assert log.by_activity_bucket[PARKEREN][day(date(2026, 3, 30))] == 1
    assert sum(log.by_bucket) == log.total
    # A department sees the activities the register says it carries out.
    parking = fig.log_figures(groups, SPRING, activities, department="Parkeren")
    assert parking.by_activity == {PARKEREN: 4}
    assert fig.log_figures(groups, SPRING, activities, activity=WMO).total == 2
    assert fig.log_totals(engine, ORG, SPRING) == {
        BASE + PARKEREN: 4,
        BASE + WMO: 2,
        BASE + "bestaat-niet": 1,
    }


def test_retention_removed_records_and_lateness(
    engine: Engine, store: LogStore, activities: fig.ActivityIndex
) -> None:
    time.sleep(0.002)  # records start after the register versions were recorded
    start = datetime.fromtimestamp(ms(datetime.now(UTC)) / 1000, UTC)
    paid = {OUTCOME_ATTRIBUTE: "betaald"}  # parking, paid: kept 24 hours
    ingest(store, ORG, [record(ms(start), BASE + PARKEREN, **paid) for _ in range(5)])
    ingest(store, ORG, [record(ms(start), BASE + WMO) for _ in range(2)])  # kept 15 years
    run_at = start + timedelta(days=2)
    report = apply_retention(engine, organisation_id=ORG, now=run_at)
    assert report.deleted == 5
    # The scan car's own retention job writes one log record per run.
    ingest(
        store,
        ORG,
        [
            record(
                ms(run_at),
                BASE + PARKEREN,
                name=DELETION_NAME,
                **{
                    "glazenstad.deleted_scans": 40,
                    "glazenstad.deleted_cases": 2,
                    "glazenstad.retention_lateness_s": 90.0,
                },
            )
        ],
    )
    period = fig.Period.last_days(5, today=run_at.astimezone(ZONE).date())
    retention = fig.retention_figures(
        engine, ORG, period, activities, parking_activity_uri=BASE + PARKEREN
    )
    assert retention.removed == 5 and retention.by_activity == {PARKEREN: 5}
    assert len(retention.runs) == 1
    run = retention.runs[0]
    late = run_at - (start + timedelta(milliseconds=5) + timedelta(hours=24))
    assert run.removed == 5 and run.lateness_max_ms == int(late / timedelta(milliseconds=1))
    assert run.lateness_p95_ms <= run.lateness_max_ms
    assert retention.parking == [fig.ParkingRetentionFigure(run_at, 40, 2, 90.0)]
    assert sum(retention.by_bucket) == 5
    # Narrowed to another department or activity, nothing of this run counts.
    other = fig.retention_figures(
        engine,
        ORG,
        period,
        activities,
        department="Sociaal Domein",
        parking_activity_uri=BASE + PARKEREN,
    )
    assert other.removed == 0 and other.runs == [] and other.parking == []
    before = fig.Period.last_days(5, today=start.astimezone(ZONE).date() - timedelta(days=1))
    assert fig.retention_figures(engine, ORG, before, activities).removed == 0


def test_break_glass_reviews_agree_with_the_review_module(
    engine: Engine, activities: fig.ActivityIndex
) -> None:
    moment = datetime(2026, 3, 24, 22, 0, tzinfo=UTC)
    rows = [
        decision(
            moment + timedelta(minutes=n),
            purpose=purpose,
            department=dep,
            break_glass=True,
            rules=["kantoortijd"] if n in (0, 1) else ["wmo-eigen-dossier"],
        )
        for n, (purpose, dep) in enumerate(
            [(PARKEREN, "Parkeren")] * 3 + [(WMO, "Sociaal Domein")] * 4
        )
    ] + [decision(moment), decision(moment, effect="deny", reason="deny_rule")]
    write(engine, rows)
    reviewer = Reviewer("fg", "F. de Graaf", ORG, ("functionaris",), "FG")
    record_review(
        engine, ORG, rows[0]["decision_id"], reviewer=reviewer, verdict=JUSTIFIED, note=None
    )
    record_review(
        engine,
        ORG,
        rows[3]["decision_id"],
        reviewer=reviewer,
        verdict=UNJUSTIFIED,
        note="Geen nood",
    )
    record_review(
        engine, ORG, rows[4]["decision_id"], reviewer=reviewer, verdict=JUSTIFIED, note=None
    )
    groups = fig.review_groups(engine, ORG, SPRING)
    total, per_activity = fig.review_figures(groups, activities)
    summary = unreviewed_break_glass(engine, ORG, SPRING.start, SPRING.end, examples=0)
    assert (
        (total.total, total.reviewed, total.justified, total.unjustified, total.unreviewed)
        == (
            summary.total,
            summary.reviewed,
            summary.justified,
            summary.unjustified,
            summary.unreviewed,
        )
        == (7, 3, 2, 1, 4)
    )
    assert total.oldest_unreviewed == moment + timedelta(minutes=1)
    assert (per_activity[PARKEREN].total, per_activity[PARKEREN].unreviewed) == (3, 2)
    assert (per_activity[WMO].justified, per_activity[WMO].unjustified) == (1, 1)
    social, _ = fig.review_figures(groups, activities, department="Sociaal Domein")
    assert (social.total, social.unreviewed) == (4, 2)
    by_rule, _ = fig.review_figures(groups, activities, rule="kantoortijd")
    assert (by_rule.total, by_rule.justified, by_rule.unreviewed) == (2, 1, 1)


def test_public_figures_are_counts_per_activity(
    engine: Engine, store: LogStore, register: OrganisationRegister
) -> None:
    now = datetime.now(UTC)
    ingest(store, ORG, [record(ms(now) - 1000 * n, BASE + PARKEREN) for n in range(3)])
    ingest(store, ORG, [record(ms(now), BASE + "bestaat-niet")])
    write(engine, [decision(now), decision(now, effect="deny", reason="no_permit")])
    write(engine, [decision(now, organisation=OTHER_ORG)])
    period = fig.Period.last_days(30)
    public = fig.public_figures(engine, register, period)
    assert public.organisation_id == ORG
    assert public.log_records == 4
    volumes = {v.activity_id: v.log_records for v in public.processing}
    # Every registered activity is listed, also without records; unknown URIs are one line.
    assert volumes == {PARKEREN: 3, WMO: 0, fig.NOT_REGISTERED: 1}
    assert public.processing[0].activity_id == PARKEREN
    assert (public.decisions.permit, public.decisions.deny) == (1, 1)
    assert public.signals == public_signal_figures(engine, ORG)
    assert public.compliance is None  # nothing measured yet
    through_cache = fig.public_figures(engine, register, period, fig.DayCache())
    assert through_cache.decisions == public.decisions
    assert through_cache.processing == public.processing
    measured = now - timedelta(hours=2)
    for score in (70.0, 92.5):  # the newest snapshot counts
        store_snapshot(
            engine,
            ComplianceReport(ORG, "Gemeente Teststad", measured, "1", (), (), score, 95.0, 2),
            stored_by="test",
        )
        measured += timedelta(hours=1)
    latest = fig.public_figures(engine, register, period).compliance
    assert latest is not None
    assert (latest.score, latest.measured_at) == (92.5, now - timedelta(hours=1))


def test_figure_cache_computes_once_per_key_while_fresh() -> None:
    calls: defaultdict[str, int] = defaultdict(int)

    def compute(key: str) -> int:
        calls[key] += 1
        return calls[key]

    cache = fig.FigureCache(seconds=60)
    assert cache.get("a", lambda: compute("a")) == 1
    assert cache.get("a", lambda: compute("a")) == 1
    assert cache.get("b", lambda: compute("b")) == 1
    cache.clear()
    assert cache.get("a", lambda: compute("a")) == 2
    stale = fig.FigureCache(seconds=0)
    assert stale.get("a", lambda: compute("a")) == 3
    assert stale.get("a", lambda: compute("a")) == 4
    small = fig.FigureCache(seconds=60, max_entries=2)
    small.get("x", lambda: compute("x"))
    small.get("y", lambda: compute("y"))
    small.get("z", lambda: compute("z"))
    assert small.get("x", lambda: compute("x")) == 2  # the oldest was dropped


def test_day_cache_keeps_finished_days_and_reads_today_live(
    engine: Engine, activities: fig.ActivityIndex
) -> None:
    now = datetime(2026, 3, 25, 10, 0, tzinfo=UTC)  # 11:00 local on Wednesday 25 March
    period = fig.Period(date(2026, 3, 20), date(2026, 3, 25))
    write(engine, [decision(now - timedelta(days=n, hours=1)) for n in range(6)])
    cache = fig.DayCache(seconds=3600, grace=timedelta(minutes=15))

    def total() -> int:
        return sum(g.count for g in cache.decision_groups(engine, ORG, period, now=now))

    assert total() == 6
    # Rows written later: today's count at once, a finished day only once it is read again.
    write(engine, [decision(now - timedelta(minutes=5)), decision(now - timedelta(days=2))])
    assert total() == 7
    cache.clear()
    assert total() == 8
    # The same groups as without the cache, day by day.
    direct = Counter()
    for group in fig.decision_groups(engine, ORG, period):
        direct[group.day] += group.count
    cached = Counter()
    for group in cache.decision_groups(engine, ORG, period, now=now):
        cached[group.day] += group.count
    assert cached == direct
    # Just after midnight the day before is not yet finished (writes may still be under way).
    midnight = datetime(2026, 3, 25, 23, 5, tzinfo=UTC)  # 00:05 local on the 26th
    late = fig.DayCache(grace=timedelta(minutes=15))
    late.decision_groups(engine, ORG, period, now=midnight)
    write(engine, [decision(datetime(2026, 3, 25, 22, 59, tzinfo=UTC))])  # 23:59 local, 25th
    assert sum(g.count for g in late.decision_groups(engine, ORG, period, now=midnight)) == 9
    logs = fig.DayCache().log_groups(engine, ORG, period, now=now)
    assert logs == fig.log_groups(engine, ORG, period) == []


def test_day_cache_runs() -> None:
    d = date(2026, 3, 1)
    days = [d + timedelta(days=n) for n in (0, 1, 2, 5, 7, 8)]
    assert fig._runs(list(reversed(days))) == [
        (d, d + timedelta(days=2)),
        (d + timedelta(days=5), d + timedelta(days=5)),
        (d + timedelta(days=7), d + timedelta(days=8)),
    ]
