"""The whole compliance check set on a big logbook: how long one measurement takes.

    .venv/bin/python -m benchmarks.compliance [--records 1000000] [--decisions 200000]
        [--repeat 3] [--databases sqlite,postgresql]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--smoke]

For each database (a fresh SQLite file, a fresh PostgreSQL database created and dropped here):

1. *Fill*: the demo municipality's register and policies are loaded; then `--records` LDV records
   go in through the real logbook ingest (`LogStore.ingest`, batches of 10,000: pseudonyms,
   register lookups, hash chains), spread over a year and over every active activity of
   Voorbeeldstad, with retention outcomes where an activity has several rules, 1% under
   activities that are not in the register, and a daily deletion record of the scan-car
   pipeline; `--decisions` decisions of the real rules engine go into the decision log, 0.5% of
   them break-the-glass. One retention run is recorded (a dry run would read every record, so
   the run is the measured day's, over an empty share of the log).
2. *Measure*: `run_checks` (every check, as `glazenstad compliance check` and the staff API run
   it) `--repeat` times at a moment just after the last record; the median and the slowest
   part. Nothing is cached between runs except what the register store caches by design.

The checks aggregate in SQL (GROUP BY over the log, the decision log and the other stores) and
never load records into Python, so the run time grows with one scan of the log, not with what
Python does per record.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, text

from benchmarks.logbook import Database, bsn
from glazenstad.db.engine import make_engine, migrate
from glazenstad.insight.compliance import run_checks
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.store import LogStore
from glazenstad.logbook.tables import log_record, log_retention_run
from glazenstad.register.loader import load_register
from glazenstad.register.model import KIND_ACTIVITY, entry_uri
from glazenstad.register.store import RegisterStore
from glazenstad.rules.decisionlog import decision_row, write_decisions
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.request import Actor, Context, DecisionRequest, Resource
from glazenstad.rules.service import RulesService
from glazenstad.rules.store import PolicyStore

ROOT = Path(__file__).resolve().parents[1]
REGISTER = ROOT / "demo" / "register"
POLICIES = ROOT / "demo" / "policies"
ORG = "voorbeeldstad"
KEY = "bench:" + __import__("base64").b64encode(os.urandom(32)).decode()
BATCH = 10_000
DAY_MS = 86_400_000


def load_demo(engine: Engine) -> None:
    load_register(engine, REGISTER, loaded_by="benchmark", approved_by="benchmark-approver")
    store = PolicyStore(engine)
    for loaded in parse_policies(POLICIES).policies:
        version, _ = store.save(loaded.policy, by="benchmark")
        if version.status != "active":
            store.activate(version.organisation_id, version.content_hash, by="benchmark-approver")
    time.sleep(0.01)  # records start after the register versions were recorded


def fill_log(engine: Engine, count: int, rng: random.Random) -> tuple[datetime, float]:
    """`count` records through the real ingest; returns (moment after the last, seconds)."""
    register = RegisterStore(engine)
    reg = register.snapshot().organisation(ORG)
    assert reg is not None
    base = reg.org.register_uri
    activities = [a for a in reg.activities() if a.status == "actief"]
    outcomes = {a.id: [r.outcome for r in a.retention] for a in activities}
    uris = {a.id: entry_uri(base, KIND_ACTIVITY, a.id) for a in activities}
    unknown = [entry_uri(base, KIND_ACTIVITY, f"niet-geregistreerd-{n}") for n in range(5)]
    store = LogStore(engine, register, Pseudonymizer.from_config(KEY))
    start_ms = int(time.time() * 1000) + 1000
    span_ms = 365 * DAY_MS
    started = time.perf_counter()
    written = 0
    while written < count:
        batch = []
        for n in range(min(BATCH, count - written)):
            moment = start_ms + (written + n) * span_ms // count
            attributes: dict[str, Any] = {
                "dpl.core.data_subject_id": bsn(rng.randrange(100_000)),
                "dpl.core.data_subject_id_type": "BSN",
            }
            if rng.random() < 0.01:
                attributes["dpl.core.processing_activity_id"] = rng.choice(unknown)
            else:
                activity = rng.choice(activities).id
                attributes["dpl.core.processing_activity_id"] = uris[activity]
                if len(outcomes[activity]) > 1:
                    attributes["glazenstad.retention_outcome"] = rng.choice(outcomes[activity])
            batch.append(
                {
                    "trace_id": rng.randbytes(16).hex(),
                    "span_id": rng.randbytes(8).hex(),
                    "name": "Dossier geraadpleegd",
                    "start_time": moment,
                    "end_time": moment + 5,
                    "status": "Ok",
                    "resource": {"attributes": {"service.name": "benchmark"}},
                    "attributes": attributes,
                }
            )
        # A daily deletion run of the scan-car pipeline, as it logs itself.
        day = (start_ms + written * span_ms // count) // DAY_MS
        batch.append(
            {
                "trace_id": rng.randbytes(16).hex(),
                "span_id": rng.randbytes(8).hex(),
                "name": "Verlopen scans en handhavingszaken verwijderd (bewaartermijn)",
                "start_time": day * DAY_MS + DAY_MS // 2,
                "end_time": day * DAY_MS + DAY_MS // 2,
                "status": "Ok",
                "attributes": {
                    "dpl.core.processing_activity_id": uris["parkeerhandhaving-scanauto"],
                    "glazenstad.deleted_scans": 120,
                    "glazenstad.retention_lateness_s": rng.randrange(60, 6 * 3600),
                },
            }
        )
        result = store.ingest(ORG, batch)
        assert not result.rejected, result.rejected[:3]
        written += len(batch) - 1
        print(f"    ingested {written:,} records", end="\r", flush=True)
    print()
    end = datetime.fromtimestamp((start_ms + span_ms) / 1000, UTC) + timedelta(hours=1)
    return end, time.perf_counter() - started


def fill_decisions(engine: Engine, count: int, end: datetime, rng: random.Random) -> float:
    """Decisions of the real engine; 0.5% break-the-glass (a colleague's case at night)."""
    service = RulesService(RegisterStore(engine), PolicyStore(engine))
    started = time.perf_counter()
    written = 0
    while written < count:
        rows = []
        for _ in range(min(BATCH, count - written)):
            moment = end - timedelta(seconds=rng.randrange(365 * 86_400))
            emergency = rng.random() < 0.005
            if emergency:
                moment = moment.replace(hour=23)
            request = DecisionRequest(
                actor=Actor(
                    role="wmo-consulent",
                    department="Sociaal Domein",
                    organisation=ORG,
                    case_assignments=frozenset({"wmo-1"}),
                ),
                action="read",
                resource=Resource(
                    data_category="huishoudsituatie",
                    dataset="sociaal-domein-zaaksysteem",
                    case_id="wmo-1" if not emergency else f"wmo-{rng.randrange(10**6)}",
                    subject=f"p:{rng.randrange(10**6):x}",
                ),
                purpose="wmo-maatwerkvoorziening",
                context=Context(
                    time=moment.timestamp(),
                    channel="intern",
                    justification="Spoed" if emergency else None,
                ),
            )
            row = decision_row(service.decide(request))
            row["decided_at"] = moment
            rows.append(row)
        with engine.begin() as conn:
            write_decisions(conn, rows)
        written += len(rows)
        print(f"    decided {written:,}", end="\r", flush=True)
    print()
    return time.perf_counter() - started


def record_retention_run(engine: Engine, moment: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(log_retention_run).values(
                run_id=os.urandom(16).hex(),
                organisation_id=None,
                ran_at=moment - timedelta(hours=2),
                finished_at=moment - timedelta(hours=2),
                examined=0,
                deleted=0,
                receipts=0,
                kept={},
            )
        )


def run_database(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    print(f"{kind}:")
    database = Database.create(kind, args.postgres, workdir)
    engine = make_engine(database.url)
    try:
        migrate(engine)
        load_demo(engine)
        rng = random.Random(2026)
        end, ingest_s = fill_log(engine, args.records, rng)
        decisions_s = fill_decisions(engine, args.decisions, end, rng)
        record_retention_run(engine, end)
        if kind == "postgresql":
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        with engine.connect() as conn:
            stored = int(conn.execute(select(func.count()).select_from(log_record)).scalar_one())
        register = RegisterStore(engine)
        times: list[float] = []
        timings: list[dict[str, float]] = []
        failed: list[str] = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            report = run_checks(engine, register, ORG, end)
            times.append(time.perf_counter() - began)
            timings.append(report.timings)
            failed = [r.check.code for r in report.failed]
        median = statistics.median(times)
        slowest = max(timings[times.index(median)].items(), key=lambda kv: kv[1])
        print(f"    checks: {', '.join(f'{t:.2f}' for t in times)} s; failed: {failed}")
        return {
            "database": kind,
            "records": stored,
            "ingest_s": ingest_s,
            "decisions": args.decisions,
            "decisions_s": decisions_s,
            "median_s": median,
            "best_s": min(times),
            "slowest": slowest,
            "timings": timings[times.index(median)],
            "score": report.overall_score,
        }
    finally:
        engine.dispose()
        database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--smoke", action="store_true", help="A tiny run that checks it works.")
    args = parser.parse_args()
    # Stopped with SIGTERM, still drop the databases made here (the `finally` clauses run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.smoke:
        args.records, args.decisions, args.repeat = 5000, 1000, 1
    workdir = Path(tempfile.mkdtemp(prefix="glazenstad-compliance-"))
    results = []
    try:
        for kind in args.databases.split(","):
            results.append(run_database(kind, args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(f"compliance checks, {os.cpu_count()} cores, median of {args.repeat} run(s)")
    for r in results:
        parts = ", ".join(f"{name} {seconds:.2f}" for name, seconds in r["timings"].items())
        print(
            f"{r['database']:<10} {r['records']:>11,} records {r['decisions']:>9,} decisions"
            f"  checks {r['median_s']:6.2f} s (best {r['best_s']:.2f})  score {r['score']:.1f}"
            f"  [{parts}]"
        )
        print(
            f"{'':<10} filled in {r['ingest_s']:.0f} s ingest"
            f" ({r['records'] / r['ingest_s']:,.0f} records/s), {r['decisions_s']:.0f} s decisions"
        )


if __name__ == "__main__":
    main()
