"""Impact replay at volume: a month of recorded decisions replayed against a draft policy.

Run from the repository root:

    .venv/bin/python -m benchmarks.impact                      # 1,000,000 requests, SQLite
    .venv/bin/python -m benchmarks.impact --database-url postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python -m benchmarks.impact --requests 20000     # a small run
    .venv/bin/python -m benchmarks.impact --keep /tmp/impact.sqlite3   # keep the data, reuse it

In one process it

1. loads the demo municipality (demo/register, demo/policies), activates Voorbeeldstad's policy
   and stores a draft made from it with three changes: office hours in the social domain end at
   17:00 instead of 18:00, health and criminal data may also be used in the mobile app, and
   the civil-affairs permit for providing BRP data with a pseudonym is gone;
2. generates N recorded decisions for March 2026 (across the switch to summer time) as the
   demo's execution makes them: about 300 staff members with the roles and departments of the
   register's activities, their own cases (and now and then someone else's), the activities'
   data categories and sources, mostly the secure workplace channel, mostly office hours, scan
   cars from 9 to 21, 100,000 residents' pseudonyms; a few percent ask for something their
   role has no permit for. Each is decided with the active policy and written to a fresh
   database (a temporary SQLite file, or a new PostgreSQL database on the server of
   `--database-url`, dropped afterwards) the way the decision log writes it;
3. measures, each after a fresh start of the database connection pool:
   - *fetch*: reading the period's rows (the five columns a replay reads), nothing else;
   - *replay from DB*: `replay_decisions`, as `glazenstad rules impact` runs it: stream,
     deduplicate, decide each distinct request with the compiled draft, count, explain examples;
   - *evaluate*: the same deduplicated replay over rows already in memory;
   - *naive*: every row decoded and decided with the compiled draft on its own (no dedup),
     over the same rows in memory (`--naive-sample` limits it and extrapolates, said so);
   and checks that both replays count exactly the same per activity, department and rule
   (exit status 1 otherwise). Target: a million recorded requests replayed in under 10 s.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import platform
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from glazenstad.db.engine import make_engine, migrate
from glazenstad.insight.impact import (
    Aggregate,
    Replay,
    aggregate,
    local_day_start,
    replay_decisions,
    rule_titles,
)
from glazenstad.insight.impact_replay import (
    Deduplicator,
    Row,
    collector_paused,
    evaluate_groups,
    replay_one_by_one,
)
from glazenstad.insight.impact_source import CHUNK, stream_rows
from glazenstad.register.loader import load_register
from glazenstad.register.model import ProcessingActivity
from glazenstad.register.store import RegisterStore
from glazenstad.rules.compiler import CompiledPolicy
from glazenstad.rules.decisionlog import write_decisions
from glazenstad.rules.effective import ENGINE_VERSION
from glazenstad.rules.engine import decide_compiled
from glazenstad.rules.language import Policy
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyStore
from glazenstad.rules.tables import decision_log

ROOT = Path(__file__).resolve().parents[1]
DEMO_REGISTER = ROOT / "demo" / "register"
DEMO_POLICIES = ROOT / "demo" / "policies"
ORGANISATION = "voorbeeldstad"
MONTH_START = date(2026, 3, 1)
MONTH_DAYS = 31
TARGET_SECONDS = 10.0
TARGET_ROWS = 1_000_000

ACTIONS = (("read", 70), ("write", 20), ("share", 5), ("link", 3), ("delete", 2))
CHANNELS = (("intern", 82), ("mobiel", 7), ("balie", 4), ("email", 3), ("ggk", 3), (None, 1))
# Roles whose activities work with cases (the social domain, work and income).
CASE_ROLES = frozenset(
    {
        "wmo-consulent",
        "jeugdconsulent",
        "klantmanager-werk-inkomen",
        "jobcoach",
        "handhavingsmedewerker-werk-inkomen",
        "schuldhulpverlener",
        "budgetbeheerder",
        "teamleider-sociaal-domein",
    }
)
SCAN_ROLE = "parkeerhandhaver"


@dataclass
class Worker:
    role: str
    department: str
    activities: list[ProcessingActivity]
    cases: list[str]
    weight: int


def _weighted(rng: random.Random, options: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([o for o, _ in options], [w for _, w in options])[0]


# --------------------------------------------------------------------------------------------
# The database, the demo municipality and its draft
# --------------------------------------------------------------------------------------------


@dataclass
class Database:
    url: str
    admin: str | None = None
    name: str | None = None
    kept: bool = False

    @classmethod
    def create(cls, database_url: str | None, workdir: Path, keep: str | None) -> Database:
        """A fresh database; with `keep`, a named one that is kept (and reused) instead."""
        if database_url is None or database_url.startswith("sqlite"):
            if keep is not None:
                return cls(f"sqlite:///{Path(keep).resolve()}", kept=True)
            return cls(database_url or f"sqlite:///{workdir / 'impact.sqlite3'}")
        admin = make_url(database_url).set(drivername="postgresql")
        admin_url = admin.render_as_string(hide_password=False)
        name = keep or f"glazenstad_impact_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
        url = admin.set(drivername="postgresql+psycopg", database=name)
        return cls(url.render_as_string(hide_password=False), admin_url, name, keep is not None)

    @property
    def kind(self) -> str:
        return "postgresql" if self.admin else "sqlite"

    def drop(self) -> None:
        if self.admin and self.name and not self.kept:
            with psycopg.connect(self.admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def draft_of(policy: Policy) -> Policy:
    """The active policy with three changes a policy advisor might propose."""
    document = policy.model_dump(mode="json")
    document["title"] = "Concept: kantoortijd tot 17.00 uur, app voor gevoelige gegevens"
    rules = []
    for rule in document["rules"]:
        if rule["id"] == "kantoortijd-sociaal-domein":
            rule["when"] = [
                {"not": {"time": {"days": ["ma", "di", "wo", "do", "vr"], "start": "08:00",
                                  "end": "17:00"}}}
            ]  # fmt: skip
        elif rule["id"] == "gezondheid-en-strafrecht-alleen-intern":
            rule["when"] = [{"not": {"channel": ["intern", "mobiel"]}}]
        elif rule["id"] == "brp-verstrekking-met-pseudoniem":
            continue
        rules.append(rule)
    document["rules"] = rules
    return Policy.model_validate(document)


def set_up(engine: Engine) -> tuple[RulesService, CompiledPolicy, CompiledPolicy, str]:
    """Demo register and policies loaded, Voorbeeldstad's active; the draft stored."""
    migrate(engine)
    load_register(engine, DEMO_REGISTER, loaded_by="benchmark", approved_by="benchmark-approver")
    store = PolicyStore(engine)
    tree = parse_policies(DEMO_POLICIES)
    active_policy: Policy | None = None
    for loaded in tree.policies:
        version, _ = store.save(loaded.policy, by="benchmark", source=loaded.file)
        store.activate(version.organisation_id, version.content_hash, by="benchmark-approver")
        if loaded.policy.organisation == ORGANISATION:
            active_policy = loaded.policy
    assert active_policy is not None
    draft, _ = store.save(draft_of(active_policy), by="benchmark")
    service = RulesService(RegisterStore(engine), store, refresh_interval=0)
    active = service.engine().active(ORGANISATION)
    compiled_draft = service.version(ORGANISATION, draft.content_hash)
    assert active is not None and compiled_draft is not None
    return service, active, compiled_draft, draft.content_hash


# --------------------------------------------------------------------------------------------
# Recorded decisions
# --------------------------------------------------------------------------------------------


def workers(policy: CompiledPolicy, rng: random.Random) -> list[Worker]:
    activities = [
        a for a in policy.context.register.activities() if a.status == "actief" and a.roles
    ]
    pairs: dict[tuple[str, str], list[ProcessingActivity]] = {}
    for activity in activities:
        for role in activity.roles:
            for department in activity.departments or ["Algemeen"]:
                pairs.setdefault((role, department), []).append(activity)
    staff: list[Worker] = []
    for (role, department), works_for in sorted(pairs.items()):
        for _ in range(rng.randint(2, 12)):
            cases = []
            if role in CASE_ROLES:
                cases = [f"zaak-{rng.randrange(20_000):05d}" for _ in range(rng.randint(5, 40))]
            weight = 40 if role == SCAN_ROLE else 10
            staff.append(Worker(role, department, works_for, sorted(set(cases)), weight))
    return staff


def _moment(rng: random.Random, worker: Worker) -> float:
    day = MONTH_START + timedelta(days=rng.randrange(MONTH_DAYS))
    if worker.role == SCAN_ROLE:
        minute = rng.randrange(9 * 60, 21 * 60) if rng.random() < 0.97 else rng.randrange(1440)
    elif day.weekday() < 5 and rng.random() < 0.88:
        minute = rng.randrange(8 * 60, 18 * 60)
    else:
        minute = rng.randrange(1440)
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, rng.randrange(60))
    start = local_day_start(day)
    # Local wall-clock time to UTC through the day's start: exact except in the hour the clock
    # moves, where a minute may shift by an hour (it remains a real moment).
    return start.timestamp() + (local - datetime(day.year, day.month, day.day)).total_seconds()


def requests(policy: CompiledPolicy, count: int, rng: random.Random) -> Iterator[DecisionRequest]:
    """`count` requests in the order of their moments, as a decision log receives them."""
    staff = workers(policy, rng)
    weights = [w.weight for w in staff]
    categories = sorted(policy.categories)
    every_activity = sorted(
        {a.id: a for w in staff for a in w.activities}.values(), key=lambda a: a.id
    )
    residents = [f"k1:{rng.getrandbits(256):064x}" for _ in range(100_000)]
    plan = sorted(
        ((_moment(rng, worker), worker) for worker in rng.choices(staff, weights, k=count)),
        key=lambda planned: planned[0],
    )
    for moment, worker in plan:
        activity = rng.choice(worker.activities)
        if rng.random() < 0.03:  # someone asks for an activity that is not theirs
            activity = rng.choice(every_activity)
        category = rng.choice(activity.data_categories)
        if rng.random() < 0.02:
            category = rng.choice(categories)
        action = _weighted(rng, ACTIONS)
        datasets: list[str | None] = [*activity.datasets] or [None]
        dataset = rng.choice(datasets)
        linked = None
        if action == "link":
            linked = rng.choice(["werk-inkomen-suite", "schuldhulp-systeem", "brp", *datasets])
        case = None
        if worker.cases:
            case = (
                rng.choice(worker.cases)
                if rng.random() < 0.92
                else f"zaak-{rng.randrange(20_000):05d}"
            )
        consent = (
            frozenset([activity.id]) if action == "link" and rng.random() < 0.5 else frozenset()
        )
        justification = (
            "Spoed: inwoner in crisis, eigen consulent afwezig" if rng.random() < 0.01 else None
        )
        yield DecisionRequest(
            actor=Actor(worker.role, worker.department, ORGANISATION, frozenset(worker.cases)),
            action=action,
            resource=Resource(category, dataset, rng.choice(residents), case, linked),
            purpose=activity.id,
            context=Context(
                time=moment,
                channel=_weighted(rng, CHANNELS),
                consent=consent,
                justification=justification,
            ),
        )


def decision_rows(policy: CompiledPolicy, count: int, seed: int) -> Iterator[list[dict[str, Any]]]:
    """Rows as `decisionlog.decision_row` writes them, decided with the active policy."""
    rng = random.Random(seed)
    policy_hash, compiled_hash = policy.context.policy_hash, policy.content_hash
    batch: list[dict[str, Any]] = []
    for request in requests(policy, count, rng):
        moment = request.context.time
        assert moment is not None
        outcome = decide_compiled(policy, request, moment)
        canonical = request.canonical()
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
        batch.append(
            {
                "decision_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                # Decided a few milliseconds after the moment asked about.
                "decided_at": datetime.fromtimestamp(moment + 0.003, UTC),
                "organisation_id": ORGANISATION,
                "policy_version": policy_hash,
                "compiled_hash": compiled_hash,
                "engine_version": ENGINE_VERSION,
                "input_hash": hashlib.sha256(text.encode()).hexdigest(),
                "purpose": request.purpose,
                "action": request.action,
                "data_category": request.resource.data_category,
                "role": request.actor.role,
                "department": request.actor.department,
                "effect": outcome.effect,
                "reason": outcome.reason,
                "rules": list(outcome.rule_ids),
                "break_glass": outcome.break_glass,
                "request": canonical,
            }
        )
        if len(batch) == 10_000:
            yield batch
            batch = []
    if batch:
        yield batch


def fill(engine: Engine, policy: CompiledPolicy, count: int, seed: int) -> float:
    started = time.perf_counter()
    for batch in decision_rows(policy, count, seed):
        with engine.begin() as conn:
            write_decisions(conn, batch)
    return time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


def same(a: Aggregate, b: Aggregate) -> bool:
    def flat(agg: Aggregate) -> Any:
        return (
            agg.totals,
            sorted((x.activity_id, x.counts) for x in agg.activities),
            sorted((x.department, x.counts) for x in agg.departments),
            sorted((x.rule_id, x.counts) for x in agg.rules),
        )

    return bool(flat(a) == flat(b))


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float
    """This process's CPU time (SQLite works in it; PostgreSQL's own work is not counted)."""


T = TypeVar("T")


def best(repeat: int, work: Callable[[], T], engine: Engine | None = None) -> tuple[Timing, T]:
    """The fastest of `repeat` runs (the machine is shared: the minimum is the least noisy)."""
    found: tuple[Timing, T] | None = None
    for _ in range(repeat):
        if engine is not None:
            engine.dispose()  # every run opens its connection anew
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        timing = Timing(time.perf_counter() - wall, time.process_time() - cpu)
        if found is None or timing.wall < found[0].wall:
            found = (timing, result)
    assert found is not None
    return found


def line(label: str, wall: float, cpu: float, rows: int, note: str = "") -> str:
    rate = rows / wall if wall else float("inf")
    return f"{label:<38} {wall:>7.2f}s {cpu:>7.2f}s {rate:>14,.0f}  {note}"


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(decision_log)).scalar_one())


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="glazenstad-impact-"))
    database = Database.create(args.database_url, workdir, args.keep)
    engine = make_engine(database.url)
    try:
        _, active, draft, draft_hash = set_up(engine)
        print(
            f"Impact replay benchmark — {database.kind}, {args.requests:,} recorded requests, "
            f"Python {platform.python_version()}, {platform.machine()}"
        )
        print(f"draft {draft_hash[:12]}: {draft.context.policy.title}")
        if stored(engine) == args.requests:
            print(f"reusing the {args.requests:,} decisions kept in {args.keep}\n")
        else:
            with engine.begin() as conn:
                conn.execute(decision_log.delete())
            filled = fill(engine, active, args.requests, args.seed)
            if engine.dialect.name == "postgresql":
                with engine.connect() as conn:
                    conn.exec_driver_sql("ANALYZE decision_log")
            print(f"generated and stored in {filled:.1f} s (setup, not measured)\n")
        since = local_day_start(MONTH_START)
        until = local_day_start(MONTH_START + timedelta(days=MONTH_DAYS))
        titles = rule_titles(draft, active)
        gc.collect()

        repeat = max(1, args.repeat)

        def fetch_only() -> int:
            count = 0
            for chunk in stream_rows(engine, ORGANISATION, since, until):
                count += len(chunk)
            return count

        def from_db() -> Replay:
            return replay_decisions(engine, draft, ORGANISATION, since, until, titles=titles)

        # Fetch only: the database's and driver's share, rows counted and dropped.
        fetch, total = best(repeat, fetch_only, engine)
        # Replay from the database, as the CLI and API run it.
        replayed, replay = best(repeat, from_db, engine)

        # The same rows in memory (not timed), for the two in-memory replays.
        rows: list[Row] = []
        for chunk in stream_rows(engine, ORGANISATION, since, until):
            rows.extend(tuple(row) for row in chunk)  # type: ignore[misc]
        gc.collect()
        gc.freeze()

        def deduplicated() -> Aggregate:
            with collector_paused():
                dedupe = Deduplicator(draft)
                for start in range(0, total, CHUNK):
                    dedupe.add(rows[start : start + CHUNK])
                groups = dedupe.collected().groups
                return aggregate(draft, evaluate_groups(draft, groups), titles)

        sample = rows if args.naive_sample is None else rows[: args.naive_sample]

        def naive() -> Aggregate:
            with collector_paused():
                return aggregate(draft, replay_one_by_one(draft, sample), titles)

        evaluated, fast = best(repeat, deduplicated)
        one_by_one, naive_agg = best(1, naive)
        scale = total / len(sample) if sample else 0.0
        naive_wall, naive_cpu = one_by_one.wall * scale, one_by_one.cpu * scale
        extrapolated = len(sample) < total

        agrees = same(fast, replay.aggregate)
        if not extrapolated:
            agrees = agrees and same(fast, naive_agg)
        t = replay.aggregate.totals
        last = MONTH_START + timedelta(days=MONTH_DAYS - 1)
        print(f"period {MONTH_START} – {last} (local days); best of {repeat} unless said")
        print(
            f"{total:,} requests → {replay.groups:,} distinct for the draft "
            f"({total / max(1, replay.groups):,.0f} per group); "
            f"permit→deny {t.permit_to_deny:,}, deny→permit {t.deny_to_permit:,}, "
            f"other changes {t.other_changes:,}\n"
        )
        print(f"{'':<38} {'wall':>8} {'CPU':>8} {'rows/s (wall)':>14}")
        tm = replay.timings
        print(line("fetch only (DB → Python)", fetch.wall, fetch.cpu, total))
        print(
            line(
                "replay from DB (dedup + compiled)",
                replayed.wall,
                replayed.cpu,
                total,
                f"fetch {tm.fetch_seconds:.2f} + dedupe {tm.dedupe_seconds:.2f} + evaluate "
                f"{tm.evaluate_seconds:.2f} + examples {tm.examples_seconds:.2f}",
            )
        )
        print(line("evaluate in memory (dedup + compiled)", evaluated.wall, evaluated.cpu, total))
        note = (
            f"once, on {len(sample):,} rows, extrapolated to {total:,}"
            if extrapolated
            else "once, every row"
        )
        print(line("naive one by one in memory", naive_wall, naive_cpu, total, note))
        print(
            line(
                "naive one by one from DB",
                fetch.wall + naive_wall,
                fetch.cpu + naive_cpu,
                total,
                "fetch + naive",
            )
        )
        print()
        print(f"ratio naive/dedup, in memory:  {naive_wall / evaluated.wall:,.1f}x (wall)")
        print(
            f"ratio naive/dedup, from DB:    {(fetch.wall + naive_wall) / replayed.wall:,.1f}x"
            " (wall)"
        )
        scaled = replayed.wall * TARGET_ROWS / total
        verdict = "met" if scaled < TARGET_SECONDS else "NOT met"
        print(
            f"target: {TARGET_ROWS:,} replayed from DB in < {TARGET_SECONDS:.0f} s — "
            f"{replayed.wall:.2f} s for {total:,}" + (
                f" (≈ {scaled:.2f} s per million)" if total != TARGET_ROWS else ""
            ) + f": {verdict}"
        )  # fmt: skip
        print(f"both replays count the same: {'yes' if agrees else 'NO'}")
        return 0 if agrees else 1
    finally:
        engine.dispose()
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=TARGET_ROWS)
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL server to create a fresh database on (default: a temporary SQLite file)",
    )
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=None,
        help="Time the naive replay on this many rows and extrapolate (default: all rows)",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=3, help="Runs per measurement (best kept)")
    parser.add_argument(
        "--keep",
        default=None,
        help="Keep the database (SQLite: this file; PostgreSQL: this database name) and reuse "
        "it when it holds --requests decisions",
    )
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
