"""A municipality with a history, for the council report's tests and example pages.

Everything is written through the real stores, as the running platform writes it: the demo
register and policies are loaded (with the loader's clock set to a moment before the period),
real decisions are taken by the rules service over the demo scenarios, each moved to the same
weekday and clock time in every week of the period and the period before (so office-hours
rules decide as the scenario expects) and written to the decision log at that moment; every
permit is logged through the logbook's ingest; signals are filed and answered, breaches
registered and decided, break-the-glass decisions reviewed, compliance measured and stored
each week, and halfway the register and the policy get a new version. (No tests here.)

`History` keeps what was written, so a test can compare every figure of the report with it.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from glazenstad.insight import figures as fig
from glazenstad.insight.compliance.history import store_snapshot
from glazenstad.insight.compliance.run import run_checks
from glazenstad.insight.incidents import breaches as br
from glazenstad.insight.incidents.reviews import Reviewer, record_review
from glazenstad.insight.report_period import ReportPeriod
from glazenstad.insight.signals import Actor, SignalStore, denied_decision, workflow
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.store import LogStore
from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from glazenstad.rules.decisionlog import decision_row, write_decisions
from glazenstad.rules.language import Policy
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.scenarios import to_request
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyStore
from glazenstad.sources.synthetic import fictional_bsns
from tests.conftest import DEMO_REGISTER, ROOT

ORG = "voorbeeldstad"
ZONE = ZoneInfo("Europe/Amsterdam")
DEMO_POLICIES = ROOT / "demo" / "policies"
CHANGED_RULE = "kantoortijd-sociaal-domein"
NEW_ACTIVITY = "raadsinformatie-tolken"
CHANGED_ACTIVITY = "raadsinformatie"
ENDED_ALGORITHM = "afvalroute-optimalisatie"
FILER = Actor("wmo-consulent", ORG, may_file=True)
OWNER = Actor("fg", ORG, frozenset({"Functionaris gegevensbescherming"}), may_triage_all=True)
REVIEWER = Reviewer("fg", "F. de Graaf", ORG, ("functionaris-gegevensbescherming",), "FG")
WHO = br.Who("fg", "F. de Graaf")
RESPONSE_CHANGED = "De regel is aangepast: consulenten met een spoedzaak mogen nu tot 20.00 uur."
RESPONSE_EXPLAINED = "De regel blijft: buiten kantoortijd gaat het via de crisisdienst."
RESPONSE_SECOND = "De regel blijft: gezondheidsgegevens gaan alleen via het eigen netwerk."


@contextmanager
def clock(moment: datetime) -> Iterator[None]:
    """Loads and policy lifecycle events happen "at" `moment` (they take their time from
    `utcnow` in their own module)."""
    with (
        mock.patch("glazenstad.register.loader.utcnow", return_value=moment.astimezone(UTC)),
        mock.patch("glazenstad.rules.store.utcnow", return_value=moment.astimezone(UTC)),
    ):
        yield


@dataclass
class History:
    """What was written, to compare the report with."""

    period: ReportPeriod
    loaded_at: datetime
    changed_at: datetime
    decisions: Counter[str] = field(default_factory=Counter)
    """effect → count within the period ("permit", "deny", "break_glass")."""
    previous: Counter[str] = field(default_factory=Counter)
    by_purpose: Counter[str] = field(default_factory=Counter)
    logs: int = 0
    previous_logs: int = 0
    signals_filed: int = 0
    signals_closed: Counter[str] = field(default_factory=Counter)
    breaches: list[str] = field(default_factory=list)
    late_breaches: list[str] = field(default_factory=list)
    break_glass_reviewed: int = 0
    snapshots: int = 0
    policy_hash: str = ""


def _moved(moment: datetime, monday: date) -> datetime:
    """The same weekday and wall-clock time as `moment`, in the week that starts on `monday`."""
    local = moment.astimezone(ZONE)
    day = monday + timedelta(days=local.weekday())
    return datetime.combine(day, time(local.hour, local.minute), tzinfo=ZONE)


def _weeks(start: date, end: date) -> list[date]:
    monday = start - timedelta(days=start.weekday())
    weeks = []
    while monday < end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def changed_register(tmp: Path) -> Path:
    """The demo register with one activity changed, one added and one algorithm ended."""
    target = tmp / "register-v2"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(DEMO_REGISTER, target)
    activities = target / ORG / "processing-activities"
    original = (activities / f"{CHANGED_ACTIVITY}.yaml").read_text(encoding="utf-8")
    (activities / f"{CHANGED_ACTIVITY}.yaml").write_text(
        original.replace("period: P20Y", "period: P10Y"), encoding="utf-8"
    )
    added = original.replace(f"id: {CHANGED_ACTIVITY}\n", f"id: {NEW_ACTIVITY}\n", 1)
    added = re.sub(
        r"^name: .*$", "name: Tolken bij vergaderingen van de raad", added, count=1, flags=re.M
    )
    (activities / f"{NEW_ACTIVITY}.yaml").write_text(added, encoding="utf-8")
    algorithm = target / ORG / "algorithms" / f"{ENDED_ALGORITHM}.yaml"
    algorithm.write_text(
        algorithm.read_text(encoding="utf-8").replace(
            "status: In gebruik", "status: Buiten gebruik"
        ),
        encoding="utf-8",
    )
    return target


def changed_policy(policy: Policy) -> Policy:
    document = policy.model_dump(mode="json")
    for rule in document["rules"]:
        if rule["id"] == CHANGED_RULE:
            rule["title"] = rule["title"] + " (met spoedregeling)"
    return Policy.model_validate(document)


def build_history(
    engine: Engine,
    tmp: Path,
    period: ReportPeriod,
    *,
    now: datetime,
    repeat: int = 1,
    every: int = 1,
    snapshots: bool = True,
) -> History:
    """Write a period's worth (and the period before) of execution history into `engine`.

    `repeat` multiplies the decisions per scenario and week (1 for tests, more for a fuller
    example); `every` takes only every n-th scenario (fewer decisions for quick tests).
    Nothing is written after `now`.
    """
    previous = period.previous()
    loaded_at = previous.start - timedelta(days=30)
    changed_at = period.start + (period.end - period.start) / 2
    history = History(period, loaded_at, changed_at)
    with clock(loaded_at):
        load_register(engine, DEMO_REGISTER, loaded_by="test", approved_by="test-approver")
        store = PolicyStore(engine)
        tree = parse_policies(DEMO_POLICIES)
        originals = [loaded.policy for loaded in tree.policies]
        for policy in originals:
            version, _ = store.save(policy, by="test")
            store.activate(policy.organisation, version.content_hash, by="fg")
    register_store = RegisterStore(engine)
    service = RulesService(register_store, store)
    register = register_store.snapshot().organisation(ORG)
    assert register is not None
    activities = fig.ActivityIndex.of(register)
    scenarios = [
        s
        for loaded in tree.scenario_sets
        if loaded.scenarios.policy == "spelregels-voorbeeldstad"
        for s in loaded.scenarios.scenarios
    ][::every]
    logbook = LogStore(engine, register_store, Pseudonymizer.demo())
    bsns = fictional_bsns()
    limit = min(now, period.end)
    rows = []
    records = []
    denials: list[tuple[datetime, str]] = []
    glass: list[tuple[datetime, str]] = []
    n = 0
    for monday in _weeks(previous.first, period.last + timedelta(days=1)):
        for index, scenario in enumerate(scenarios):
            moment = _moved(scenario.request.context.time, monday)
            if not previous.start <= moment < limit:
                continue
            inside = moment >= period.start
            weight = 3 + index % 4 if scenario.expect.effect == "permit" else 1 + index % 2
            for copy in range(repeat * weight):
                at = moment + timedelta(minutes=copy)
                request = to_request(scenario.request, ORG)
                request = replace(request, context=replace(request.context, time=at.timestamp()))
                decision = service.decide(request)
                row = decision_row(decision)
                row["decided_at"] = at.astimezone(UTC)
                rows.append(row)
                effect = decision.outcome.effect
                counter = history.decisions if inside else history.previous
                counter[effect] += 1
                if decision.outcome.break_glass:
                    counter["break_glass"] += 1
                    if inside:
                        glass.append((at, decision.id))
                if effect == "deny" and inside:
                    denials.append((at, decision.id))
                if inside:
                    history.by_purpose[activities.key(request.purpose)] += 1
                activity = activities.key(request.purpose)
                if effect == "permit" and activity:
                    n += 1
                    records.append(_record(register.org.register_uri, activity, bsns, n, at))
                    if inside:
                        history.logs += 1
                    else:
                        history.previous_logs += 1
    with engine.begin() as conn:
        for start in range(0, len(rows), 2000):
            write_decisions(conn, rows[start : start + 2000])
    for start in range(0, len(records), 2000):
        result = logbook.ingest(ORG, records[start : start + 2000])
        assert not result.rejected, result.rejected[:3]

    # Halfway: a new register version and a new version of the rules.
    if changed_at < now:
        with clock(changed_at):
            load_register(
                engine, changed_register(tmp), loaded_by="test", approved_by="test-approver"
            )
            voorbeeldstad = next(p for p in originals if p.organisation == ORG)
            version, _ = store.save(changed_policy(voorbeeldstad), by="test")
            store.activate(ORG, version.content_hash, by="fg", note="Vastgesteld door het college")
            history.policy_hash = version.content_hash

    _signals(engine, register_store, store, history, denials, now)
    _breaches(engine, register_store, history, now)
    for at, decision_id in glass[: max(len(glass) // 2, 1)] if glass else []:
        review_at = at + timedelta(days=2)
        if review_at < now:
            record_review(
                engine,
                ORG,
                decision_id,
                reviewer=REVIEWER,
                verdict="justified",
                note="Terecht: spoedeisende hulp.",
                now=review_at,
            )
            history.break_glass_reviewed += 1
    if snapshots:  # weekly, on Monday morning, in the period and the one before
        for monday in _weeks(previous.first, period.last + timedelta(days=1))[1:]:
            measured = datetime.combine(monday, time(6), tzinfo=ZONE)
            if measured < now:
                report = run_checks(engine, register_store, ORG, measured)
                store_snapshot(engine, report, stored_by="test")
                if period.start <= measured < period.end:
                    history.snapshots += 1
    return history


def _record(
    uri: str, activity: str, bsns: tuple[str, ...], n: int, at: datetime
) -> dict[str, object]:
    start = int(at.timestamp() * 1000) + n % 1000
    return {
        "trace_id": f"{n:032x}",
        "span_id": f"{n:016x}",
        "name": "Verwerking",
        "start_time": start,
        "end_time": start + 20,
        "status": "Ok",
        "attributes": {
            "dpl.core.processing_activity_id": f"{uri}/processing-activities/{activity}",
            "dpl.core.data_subject_id": bsns[n % len(bsns)],
            "dpl.core.data_subject_id_type": "BSN",
        },
    }


def _signals(
    engine: Engine,
    register_store: RegisterStore,
    policies: PolicyStore,
    history: History,
    denials: list[tuple[datetime, str]],
    now: datetime,
) -> None:
    """Six signals on denials of the period: two open, four answered."""
    store = SignalStore(engine)
    register = register_store.snapshot().organisation(ORG)
    chosen = denials[:: max(len(denials) // 6, 1)][:6]
    answers = [
        (workflow.RULE_CHANGED, RESPONSE_CHANGED),
        (workflow.EXPLAINED, RESPONSE_EXPLAINED),
        (workflow.EXPLAINED, RESPONSE_SECOND),
        (workflow.REJECTED, "Afgewezen: de regel volgt rechtstreeks uit de wet."),
    ]
    for number, (at, decision_id) in enumerate(chosen):
        filed_at = at + timedelta(hours=1)
        if filed_at >= now:
            continue
        denied = denied_decision(engine, policies, register, FILER, decision_id)
        rule = denied.rules[0].id if denied.rules else None
        signal = store.file(
            FILER, denied, rule, "Deze regel houdt mij tegen bij een spoedaanvraag.", now=filed_at
        )
        history.signals_filed += 1
        if number < len(answers) and filed_at + timedelta(days=2) < min(now, history.period.end):
            store.move(
                OWNER, signal.id, workflow.UNDER_REVIEW, None, now=filed_at + timedelta(days=1)
            )
            state, response = answers[number]
            store.move(OWNER, signal.id, state, response, now=filed_at + timedelta(days=2))
            history.signals_closed[state] += 1


def _at(period: ReportPeriod, share: float) -> datetime:
    """A moment `share` of the way into the period, at 10:00 Dutch time."""
    day = period.first + timedelta(days=int(period.days * share))
    return datetime.combine(day, time(10), tzinfo=ZONE)


def _breaches(
    engine: Engine, register_store: RegisterStore, history: History, now: datetime
) -> None:
    """One breach notified within a day, one decided after 80 hours, one in the period before."""
    period, previous = history.period, history.period.previous()
    plans = [
        ("Brief met gegevens naar verkeerd adres gestuurd", _at(period, 0.3), 20),
        ("Laptop met Wmo-dossiers gestolen", _at(period, 0.6), 80),
        ("E-mail met bijlage aan verkeerde ontvanger", _at(previous, 0.2), 10),
    ]
    for title, discovered, hours in plans:
        if discovered + timedelta(hours=hours) >= now:
            continue
        breach = br.register_breach(
            engine,
            register_store,
            ORG,
            br.BreachFacts(
                title=title,
                description="Zie het dossier van het datalek.",
                discovered_at=discovered,
                activities=("wmo-maatwerkvoorziening",),
                estimated_subjects=12,
            ),
            WHO,
            now=discovered + timedelta(hours=1),
        )
        decided = discovered + timedelta(hours=hours)
        br.decide_authority(
            engine,
            ORG,
            breach.id,
            notify=True,
            reason="Risico voor de betrokkenen.",
            by=WHO,
            notified_at=decided,
            reference="AP-2026-1",
            now=decided,
        )
        if period.start <= discovered < period.end:
            history.breaches.append(title)
            if hours > 72:
                history.late_breaches.append(title)


NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
"""The moment tests say the report is made (after the period, fixed so figures are fixed)."""
PERIOD_KEY = "2026-09"


@dataclass(frozen=True)
class Written:
    url: str
    history: History
    folder: Path


def written_database(folder: Path, *, every: int = 3) -> Written:
    """A SQLite database with September 2026 (and August) written, for a test module to share."""
    from glazenstad.db.engine import make_engine, migrate
    from glazenstad.insight.report_period import parse_period

    url = f"sqlite:///{folder / 'report.sqlite3'}"
    engine = make_engine(url)
    try:
        migrate(engine)
        history = build_history(engine, folder, parse_period(PERIOD_KEY), now=NOW, every=every)
    finally:
        engine.dispose()
    return Written(url, history, folder)


def require_chromium() -> None:
    """The PDF needs Debian's chromium: skipped without it here, a failure when CI=true."""
    from glazenstad.insight.report_pdf import ChromiumMissing, find_chromium
    from tests.conftest import missing_tool

    try:
        find_chromium()
    except ChromiumMissing as exc:
        missing_tool(str(exc))
