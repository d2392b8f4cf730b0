"""The policy dashboard and the public figures over a large decision log.

    .venv/bin/python -m benchmarks.dashboard [--decisions 1000000] [--log-records 300000]
        [--days 90] [--databases sqlite,postgresql]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--repeats 3] [--smoke]
        [--json results.json]

For each database (a fresh SQLite file; a fresh PostgreSQL database, created and dropped here):

1. *Data*: the demo municipality's register and policies. A pool of 4,000 decision requests
   (each activity's own roles and departments, and others that are refused) is decided by the
   real engine; `--decisions` rows are drawn from that pool, each with its own id and a moment
   spread over the last `--days` days (more in office hours than at night), and written with the
   decision log's writer (`write_decisions`) in batches, in time order as a real log grows.
   About 1% are break-the-glass permits; a fifth of those get a review. `--log-records` LDV
   records go in through `LogStore.ingest`.
2. *Queries*: each figure query of the dashboard on its own, for the last 30 days, the last 90
   days and a year (all rows), best and median of `--repeats` runs; then the whole dashboard page
   (`GET /medewerkers/dashboard`, logged in as the demo privacy officer): *cold* with every cache
   emptied (every day of the period read from the database), *warm* with the finished days kept
   (only today read), and the home page: cold, with finished days kept, and fully cached.
3. The query plan of the decision query, so it is visible that it reads the
   (organisation, decided_at) index range.

Times are wall-clock seconds on this machine, with whatever else runs on it.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from benchmarks.logbook import Database
from glazenstad.db.engine import make_engine, migrate
from glazenstad.insight import figures as fig
from glazenstad.insight.incidents.reviews import JUSTIFIED, Reviewer, record_review
from glazenstad.register.loader import load_register
from glazenstad.register.store import OrganisationRegister, RegisterStore
from glazenstad.rules.decisionlog import decision_row, write_decisions
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyStore
from glazenstad.rules.tables import decision_log
from glazenstad.settings import Settings
from glazenstad.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
REGISTER = ROOT / "demo" / "register"
POLICIES = ROOT / "demo" / "policies"
ORG = "voorbeeldstad"
POOL = 4_000
BATCH = 20_000
KEY = "bench:" + __import__("base64").b64encode(b"dashboard-benchmark-key-0123456789").decode()


def _activate(engine: Engine) -> None:
    store = PolicyStore(engine)
    for loaded in parse_policies(POLICIES).policies:
        version, _ = store.save(loaded.policy, by="benchmark")
        store.activate(loaded.policy.organisation, version.content_hash, by="benchmark-approver")


def _requests(register: OrganisationRegister, rng: random.Random) -> list[DecisionRequest]:
    """Requests as staff make them: mostly within an activity's roles and departments."""
    activities = [a for a in register.activities() if a.roles]
    roles = sorted({r for a in activities for r in a.roles})
    departments = sorted({d for a in activities for d in a.departments})
    pool = []
    for _ in range(POOL):
        activity = rng.choice(activities)
        own = rng.random() < 0.8
        pool.append(
            DecisionRequest(
                actor=Actor(
                    role=rng.choice(activity.roles if own else roles),
                    department=rng.choice(activity.departments or departments)
                    if own
                    else rng.choice(departments),
                    organisation=ORG,
                    case_assignments=frozenset({"zaak-1"}) if rng.random() < 0.7 else frozenset(),
                ),
                action=rng.choice(["read", "read", "read", "write", "share"]),
                resource=Resource(
                    data_category=rng.choice(activity.data_categories),
                    subject=f"ps:{rng.randrange(10**6):06d}",
                    case_id="zaak-1",
                ),
                purpose=activity.id,
                context=Context(
                    time=None,
                    channel="intern",
                    justification="Crisis in een gezin" if rng.random() < 0.05 else None,
                ),
            )
        )
    return pool


def _moment(rng: random.Random, now: datetime, days: int) -> datetime:
    """A moment in the last `days` days, three quarters of them in office hours."""
    day = now - timedelta(days=rng.randrange(days))
    hour = rng.randrange(8, 18) if rng.random() < 0.75 else rng.randrange(24)
    moment = day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))
    return min(moment, now)


def fill(
    engine: Engine, decisions: int, log_records: int, days: int, seed: int
) -> dict[str, float]:
    rng = random.Random(seed)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    migrate(engine)
    load_register(engine, REGISTER, approved_by="benchmark-approver")
    _activate(engine)
    register_store = RegisterStore(engine)
    register = register_store.snapshot().organisation(ORG)
    assert register is not None
    rules = RulesService(register_store, PolicyStore(engine))
    pool = []
    for request in _requests(register, rng):
        moment = _moment(rng, datetime.now(UTC), days)
        request = DecisionRequest(
            request.actor,
            request.action,
            request.resource,
            request.purpose,
            Context(
                moment.timestamp(),
                request.context.channel,
                frozenset(),
                request.context.justification,
            ),
        )
        pool.append(decision_row(rules.decide(request)))
    glass = [row for row in pool if row["break_glass"]]
    timings["setup_s"] = time.perf_counter() - started
    started = time.perf_counter()
    now = datetime.now(UTC)
    # The log is written as decisions are taken: in time order, as a real decision log grows.
    moments = sorted(_moment(rng, now, days) for _ in range(decisions))
    written = 0
    review_ids = []
    while written < decisions:
        batch = []
        for moment in moments[written : written + BATCH]:
            source = glass if glass and rng.random() < 0.01 else pool
            row = dict(source[rng.randrange(len(source))])
            row["decision_id"] = uuid.uuid4().hex
            row["decided_at"] = moment
            batch.append(row)
            if row["break_glass"] and rng.random() < 0.2:
                review_ids.append(row["decision_id"])
        with engine.begin() as conn:
            write_decisions(conn, batch)
        written += len(batch)
    timings["write_decisions_s"] = time.perf_counter() - started
    reviewer = Reviewer("fg", "F. de Graaf", ORG, ("functionaris-gegevensbescherming",), "FG")
    for decision_id in review_ids[:500]:
        record_review(engine, ORG, decision_id, reviewer=reviewer, verdict=JUSTIFIED, note=None)
    started = time.perf_counter()
    _ingest(engine, register, log_records, days, rng)
    timings["ingest_logs_s"] = time.perf_counter() - started
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return timings


def _ingest(
    engine: Engine, register: OrganisationRegister, count: int, days: int, rng: random.Random
) -> None:
    from glazenstad.logbook.pseudonym import Pseudonymizer
    from glazenstad.logbook.store import LogStore

    store = LogStore(engine, RegisterStore(engine), Pseudonymizer.from_config(KEY))
    uris = [stored.uri for stored in register.entries("processing-activity")]
    weights = [rng.random() ** 3 for _ in uris]  # a few busy activities, many quiet ones
    now_ms = int(time.time() * 1000)
    done = 0
    while done < count:
        size = min(5_000, count - done)
        records = []
        for uri in rng.choices(uris, weights, k=size):
            start = now_ms - rng.randrange(days * 86_400_000)
            number = uuid.uuid4().int
            records.append(
                {
                    "trace_id": f"{number % 16**32:032x}",
                    "span_id": f"{(number >> 64) % 16**16:016x}",
                    "name": "Verwerking",
                    "start_time": start,
                    "end_time": start + 20,
                    "status": "Ok",
                    "attributes": {
                        "dpl.core.processing_activity_id": uri,
                        "dpl.core.data_subject_id": f"{rng.randrange(10**8, 10**9)}",
                        "dpl.core.data_subject_id_type": "BSN",
                    },
                }
            )
        result = store.ingest(ORG, records)
        assert not result.rejected, result.rejected[:3]
        done += size


def timed(action: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    runs = []
    result = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = action()
        runs.append(time.perf_counter() - started)
    return min(runs), statistics.median(runs), result


def measure(database: Database, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    engine = make_engine(database.url)
    figures: dict[str, Any] = {"database": database.kind}
    figures.update(fill(engine, args.decisions, args.log_records, args.days, args.seed))
    with engine.connect() as conn:
        figures["decision_rows"] = conn.execute(
            select(func.count()).select_from(decision_log)
        ).scalar_one()
    register = RegisterStore(engine).snapshot().organisation(ORG)
    if register is None:
        raise SystemExit(f"{ORG} is not in the register the benchmark loaded")
    activities = fig.ActivityIndex.of(register)
    today = datetime.now(fig.MUNICIPAL_ZONE).date()
    rows = []
    for days in (30, 90, 365):
        period = fig.Period.last_days(days, today)
        best, median, groups = timed(
            partial(fig.decision_groups, engine, ORG, period), args.repeats
        )
        fold_best, _, _ = timed(
            partial(
                fig.decision_figures,
                groups,
                period,
                activities,
                fig.DecisionFilter(department="Sociaal Domein"),
            ),
            args.repeats,
        )
        log_best, log_median, _ = timed(partial(fig.log_groups, engine, ORG, period), args.repeats)
        review_best, _, _ = timed(partial(fig.review_groups, engine, ORG, period), args.repeats)
        retention_best, _, _ = timed(
            partial(fig.retention_figures, engine, ORG, period, activities), args.repeats
        )
        public_best, public_median, _ = timed(
            partial(fig.public_figures, engine, register, period), args.repeats
        )
        rows.append(
            {
                "days": days,
                "groups": len(groups),
                "decisions_in_period": sum(g.count for g in groups),
                "decision_query_best_s": best,
                "decision_query_median_s": median,
                "fold_with_filter_s": fold_best,
                "log_query_best_s": log_best,
                "log_query_median_s": log_median,
                "review_query_best_s": review_best,
                "retention_query_best_s": retention_best,
                "public_figures_best_s": public_best,
                "public_figures_median_s": public_median,
            }
        )
    figures["periods"] = rows
    figures["plan"] = _plan(engine)
    engine.dispose()
    try:
        figures.update(_pages(database, args, workdir))
    except Exception as exc:  # the query figures stand on their own; say why pages are missing
        figures["pages_error"] = f"{exc.__class__.__name__}: {exc}"
    return figures


def _plan(engine: Engine) -> str:
    period = fig.Period.last_days(30)
    with engine.connect() as conn:
        query = fig.decision_groups_query(conn.dialect.name, ORG, period)
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
        lines = conn.execute(text(prefix + str(compiled))).all()
    return "\n".join(" ".join(str(c) for c in line) for line in lines)


def _pages(database: Database, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    """The dashboard page end to end, and the public figures as the home page gets them."""
    app = create_app(
        Settings(database_url=database.url, data_dir=workdir, mode="demo"), run_migrations=False
    )
    result: dict[str, float] = {}
    with TestClient(app) as client:
        page = client.get("/medewerkers/inloggen")
        token = re.search(r'name="formulier_token" value="([^"]+)"', page.text)
        assert token, "no login form"
        client.post(
            "/medewerkers/inloggen",
            data={"medewerker": "fg", "terug": "/medewerkers", "formulier_token": token.group(1)},
            follow_redirects=False,
        )
        for name, query in (
            ("dashboard_30_days", ""),
            ("dashboard_90_days", "?periode=90"),
            ("dashboard_year", "?periode=365"),
        ):
            for state in ("cold", "warm"):

                def get(query: str = query, state: str = state) -> None:
                    _clear(app, "dashboard_cache")
                    if state == "cold":  # nothing kept: every day read from the database
                        _clear(app, "figure_days")
                    response = client.get("/medewerkers/dashboard" + query)
                    assert response.status_code == 200, response.status_code

                get()  # a first view fills the cache of finished days
                best, median, _ = timed(get, args.repeats)
                result[f"{name}_page_{state}_best_s"] = best
                result[f"{name}_page_{state}_median_s"] = median

        def cached_filter() -> None:
            response = client.get("/medewerkers/dashboard?afdeling=Sociaal+Domein")
            assert response.status_code == 200

        client.get("/medewerkers/dashboard")
        best, median, _ = timed(cached_filter, args.repeats)
        result["dashboard_filter_warm_best_s"] = best

        def home(*caches: str) -> None:
            for cache in caches:
                _clear(app, cache)
            assert client.get("/").status_code == 200

        best, _, _ = timed(lambda: home("public_figures_cache", "figure_days"), args.repeats)
        result["home_cold_best_s"] = best
        best, _, _ = timed(lambda: home("public_figures_cache"), args.repeats)
        result["home_warm_days_best_s"] = best
        best, median, _ = timed(home, max(args.repeats, 5))
        result["home_cached_best_s"] = best
        result["home_cached_median_s"] = median
    return result


def _clear(app: Any, name: str) -> None:
    cache = getattr(app.state, name, None)
    if cache is not None:
        cache.clear()


def report(results: list[dict[str, Any]]) -> None:
    for figures in results:
        print(f"\n== {figures['database']}: {figures['decision_rows']:,} decision rows ==")
        print(
            f"setup {figures['setup_s']:.1f} s, writing decisions "
            f"{figures['write_decisions_s']:.1f} s, ingesting log records "
            f"{figures['ingest_logs_s']:.1f} s"
        )
        print(
            f"{'period':>7} {'decisions':>10} {'groups':>7} {'decision q':>11} {'fold':>6} "
            f"{'log q':>7} {'reviews':>8} {'retention':>9} {'public':>7}"
        )
        for row in figures["periods"]:
            print(
                f"{row['days']:>5} d {row['decisions_in_period']:>10,} {row['groups']:>7,} "
                f"{row['decision_query_best_s']:>9.3f} s {row['fold_with_filter_s']:>5.3f} "
                f"{row['log_query_best_s']:>6.3f} {row['review_query_best_s']:>8.3f} "
                f"{row['retention_query_best_s']:>9.3f} {row['public_figures_best_s']:>7.3f}"
            )
        if "pages_error" in figures:
            print(f"pages not measured: {figures['pages_error']}")
        for key, value in figures.items():
            if key.endswith("_s") and ("page" in key or key.startswith(("home", "dashboard"))):
                print(f"{key:<40} {value:.3f} s")
        print("plan of the decision query (30 days):")
        print("  " + figures["plan"].replace("\n", "\n  "))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decisions", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--log-records", type=int, default=None, help="default 300,000")
    parser.add_argument("--days", type=int, default=90, help="decisions spread over these days")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--smoke", action="store_true", help="20,000 decisions, 2,000 records")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.decisions is None:
        args.decisions = 20_000 if args.smoke else 1_000_000
    if args.log_records is None:
        args.log_records = 2_000 if args.smoke else 300_000
    if args.smoke:
        args.repeats = 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="glazenstad-dashboard-") as tmp:
        # Build an application once now, so every module it needs is imported before the long
        # data load (and a module changed on disk meanwhile cannot mix in).
        create_app(Settings(database_url="sqlite://", data_dir=Path(tmp)), run_migrations=False)
        for kind in args.databases.split(","):
            database = Database.create(kind.strip(), args.postgres, Path(tmp))
            try:
                results.append(measure(database, args, Path(tmp)))
            finally:
                database.drop()
            report(results[-1:])  # as soon as it is known: a long run may be cut short
            sys.stdout.flush()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
