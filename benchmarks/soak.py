"""Soak: one server under a bounded mixed load for ten minutes; throughput, p99, errors, memory.

    .venv/bin/python -m benchmarks.soak [--duration 600] [--interval 30] [--database postgresql]
        [--decisions 25] [--log-batches 2] [--log-batch-size 200] [--log-reads 1]
        [--api-reads 5] [--portal-reads 2] [--workers 1] [--json soak.json]

Starts one `glazenstad serve` on a fresh database (PostgreSQL by default, created and dropped
here; `--database sqlite` for a temporary SQLite file) with the demo register and the demo
policies active, then offers five kinds of traffic, each at a fixed rate (open loop: a request
is sent on schedule whether or not the earlier ones have been answered, and its latency counts
from the moment it was due, so a slow server cannot hide behind a waiting client):

- `decide`: `POST /api/v1/decisions`, the demo policy's own scenarios in turn, each with a fresh
  subject pseudonym, as applications ask;
- `log-write`: `POST /api/v1/logboek/records`, batches of scan-car LDV records of 100,000
  residents (the logbook benchmark's records);
- `log-read`: `POST /api/v1/logboek/processing-activities`, a resident whose records were
  written asks for them (itself logged);
- `api-read`: register, policy, figures and stored-decision reads of the public API in turn;
- `portal`: the portal's public pages in turn (home, organisation, activities, rules).

The demo data is loaded with `glazenstad demo --no-serve`. Every interval it prints per kind
the completed requests per second, p50 and p99 latency and errors (non-2xx by status,
exceptions by type), with the server's resident memory (VmRSS of the server process and its
workers), threads, CPU use and the database size. At the end: totals, p99 over the run, memory
first/last/max and the slope of a least-squares line through the RSS samples (every 5 s) of the
second half (the first half is warm-up: caches and pools fill), in MB per ten minutes; runs
with a second half under two minutes get no memory verdict. Exit status 1 if any request
failed or memory grew faster than `--flat-threshold`. `--trace-memory` runs the server with
tracemalloc (see `benchmarks/memtrace.py`) to tell Python objects from allocator growth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from ruamel.yaml import YAML

from benchmarks.logbook import BIN, ORG, RESIDENTS, Database, Server, bsn, record_batches

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "demo" / "policies" / ORG / "scenarios"
API = "/api/v1"

# Every request carries these headers (the system token is Voorbeeldstad's demo client with
# all three scopes; public reads ignore it). The one place to change what the load presents.
HEADERS = {
    "Authorization": f"Bearer demo-system-{ORG}",
    "Content-Type": "application/json",
    "Accept": "application/json, text/html",
}

API_READS = (
    f"{API}/organisations",
    f"{API}/organisations/{ORG}",
    f"{API}/organisations/{ORG}/processing-activities",
    f"{API}/organisations/{ORG}/figures",
    f"{API}/organisations/{ORG}/policies",
    f"{API}/organisations/{ORG}/processing-activities/parkeerhandhaving-scanauto/rules",
    f"{API}/decisions/{{decision}}",  # one of the decisions this run made
)
PORTAL_PAGES = (
    "/",
    f"/organisaties/{ORG}",
    f"/organisaties/{ORG}/verwerkingen",
    f"/organisaties/{ORG}/verwerkingen/parkeerhandhaving-scanauto",
    f"/organisaties/{ORG}/spelregels",
    f"/organisaties/{ORG}/algoritmes",
)
KINDS = ("decide", "log-write", "log-read", "api-read", "portal")
MIN_JUDGED_SECONDS = 120  # a second half shorter than this gives no memory verdict


def decision_bodies() -> list[dict[str, Any]]:
    """The requests of the demo policy's scenarios, as applications send them to the API."""
    bodies = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        document = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        for scenario in document.get("scenarios", []):
            body = json.loads(json.dumps(scenario["request"], default=str))
            body["actor"].setdefault("organisation", ORG)
            bodies.append(body)
    if not bodies:
        raise SystemExit(f"no scenarios found in {SCENARIOS}")
    return bodies


# --- measurements of the server process ---------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """The server process and its workers (children, grandchildren)."""
    found, i = [pid], 0
    while i < len(found):
        try:
            for task in Path(f"/proc/{found[i]}/task").iterdir():
                found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass  # it exited meanwhile
        i += 1
    return found


def status_sum(pids: list[int], key: str) -> int:
    """Sum of one /proc/<pid>/status field (VmRSS in kB, Threads) over the processes; pages
    shared between workers count once per worker."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(f"{key}:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def rss_mb(pids: list[int]) -> float:
    return status_sum(pids, "VmRSS") / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of the processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def database_mb(database: Database) -> float:
    """What the database takes on disk: PostgreSQL's database size, or SQLite's files."""
    if database.admin and database.name:
        with psycopg.connect(database.admin, autocommit=True) as conn:
            row = conn.execute("SELECT pg_database_size(%s)", (database.name,)).fetchone()
        return int(row[0]) / 1e6 if row else 0.0
    path = database.url.removeprefix("sqlite:///")
    return (
        sum(os.path.getsize(p) for p in (path, path + "-wal", path + "-shm") if os.path.exists(p))
        / 1e6
    )


def slope_per_10min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per ten minutes."""
    n = len(samples)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (m - mean_m) for t, m in samples) / spread * 600


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile of unsorted values (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


# --- the load -------------------------------------------------------------------------------


@dataclass
class KindStats:
    """What one kind of traffic did: per interval and over the whole run."""

    rate: float
    scheduled: int = 0
    completed: int = 0
    in_flight: int = 0
    latencies: list[float] = field(default_factory=list)  # ms, whole run
    window: list[float] = field(default_factory=list)  # ms, this interval
    errors: Counter[str] = field(default_factory=Counter)
    window_errors: int = 0

    def ok(self, latency_ms: float) -> None:
        self.completed += 1
        self.latencies.append(latency_ms)
        self.window.append(latency_ms)

    def failed(self, what: str) -> None:
        self.errors[what] += 1
        self.window_errors += 1


class Load:
    """The five kinds of requests, each sent open-loop at its own fixed rate."""

    def __init__(self, args: argparse.Namespace, base: str) -> None:
        self.args = args
        self.base = base
        self.rng = random.Random(args.seed)
        self.bodies = decision_bodies()
        self.decisions: deque[str] = deque(maxlen=1000)
        self.subjects: deque[str] = deque(maxlen=10_000)
        self.stats = {
            "decide": KindStats(args.decisions),
            "log-write": KindStats(args.log_batches),
            "log-read": KindStats(args.log_reads),
            "api-read": KindStats(args.api_reads),
            "portal": KindStats(args.portal_reads),
        }
        self.samples: list[str] = []  # the first few failures, for diagnosis
        self.sampled: Counter[tuple[str, str]] = Counter()
        self.tasks: set[asyncio.Task[None]] = set()
        self.start = time.perf_counter()  # set again when the load begins

    # Each builder returns (method, path, body, check); check raises on a wrong answer.

    def decide(self, i: int) -> tuple[str, str, bytes, Callable[[bytes], None]]:
        body = dict(self.bodies[i % len(self.bodies)])
        body["resource"] = {**body["resource"], "subject": f"ps-{self.rng.getrandbits(64):016x}"}

        def check(answer: bytes) -> None:
            document = json.loads(answer)
            if document["effect"] not in ("permit", "deny"):
                raise ValueError(f"effect {document['effect']!r}")
            self.decisions.append(document["receipt"]["decisionId"])

        return "POST", f"{API}/decisions", json.dumps(body).encode(), check

    def log_write(self, i: int) -> tuple[str, str, bytes, Callable[[bytes], None]]:
        size = self.args.log_batch_size
        records = next(record_batches(size, size, self.rng))
        subjects = [r["attributes"]["dpl.core.data_subject_id"] for r in records[:5]]
        body = json.dumps({"organisationId": ORG, "records": records}).encode()

        def check(answer: bytes) -> None:
            document = json.loads(answer)
            if document["accepted"] != size or document["rejected"]:
                raise ValueError(f"accepted {document['accepted']} of {size}")
            self.subjects.extend(subjects)  # readable from now on

        return "POST", f"{API}/logboek/records", body, check

    def log_read(self, i: int) -> tuple[str, str, bytes, Callable[[bytes], None]]:
        known = bool(self.subjects)
        subject = (
            self.subjects[self.rng.randrange(len(self.subjects))]
            if known
            else bsn(self.rng.randrange(RESIDENTS))
        )
        body = json.dumps({"dpl.core.data_subject_id": subject}).encode()

        def check(answer: bytes) -> None:
            if known and not json.loads(answer)["processingActivities"]:
                raise ValueError("a resident's written records were not found")

        path = f"{API}/logboek/processing-activities?organisationId={ORG}&pageSize=100"
        return "POST", path, body, check

    def api_read(self, i: int) -> tuple[str, str, bytes, Callable[[bytes], None]]:
        path = API_READS[i % len(API_READS)]
        if "{decision}" in path:
            if not self.decisions:
                path = API_READS[0]
            else:
                path = path.format(decision=self.rng.choice(self.decisions))
        return "GET", path, b"", lambda answer: None

    def portal(self, i: int) -> tuple[str, str, bytes, Callable[[bytes], None]]:
        def check(answer: bytes) -> None:
            if b"<html" not in answer[:500].lower():
                raise ValueError("not an HTML page")

        return "GET", PORTAL_PAGES[i % len(PORTAL_PAGES)], b"", check

    def builder(self, kind: str) -> Callable[[int], tuple[str, str, bytes, Any]]:
        return {
            "decide": self.decide,
            "log-write": self.log_write,
            "log-read": self.log_read,
            "api-read": self.api_read,
            "portal": self.portal,
        }[kind]

    async def one(
        self,
        session: aiohttp.ClientSession,
        kind: str,
        due: float,
        request: tuple[str, str, bytes, Callable[[bytes], None]],
    ) -> None:
        stats = self.stats[kind]
        method, path, body, check = request
        try:
            async with session.request(method, path, data=body or None) as response:
                answer = await response.read()
                status = response.status
            if not 200 <= status < 300:
                stats.failed(str(status))
                self.sample(
                    (kind, str(status)),
                    f"{kind} {method} {path.split('?')[0]}: {status} {answer[:200]!r}",
                )
                return
            check(answer)
            stats.ok((time.perf_counter() - due) * 1000)
        except Exception as exc:  # every failure is counted, by its type
            stats.failed(type(exc).__name__)
            what = type(exc).__name__
            self.sample((kind, what), f"{kind} {method} {path.split('?')[0]}: {what} {exc}")
        finally:
            stats.in_flight -= 1

    def sample(self, key: tuple[str, str], line: str) -> None:
        """Keep the first three failures of each kind and sort, with their moment."""
        self.sampled[key] += 1
        if self.sampled[key] <= 3:
            self.samples.append(f"t={time.perf_counter() - self.start:.0f}s {line}")

    async def drive(
        self, session: aiohttp.ClientSession, kind: str, start: float, end: float
    ) -> None:
        """Send `kind` at its rate from `start` to `end` (perf_counter), never waiting for
        answers; beyond `--max-in-flight` outstanding requests a due request is counted as an
        error instead of sent (the load stays bounded even if the server stalls)."""
        stats = self.stats[kind]
        if stats.rate <= 0:
            return
        build = self.builder(kind)
        step = 1 / stats.rate
        # The kinds start staggered so that their schedules do not coincide.
        offset = KINDS.index(kind) * step / len(KINDS)
        i = 0
        while (due := start + offset + i * step) < end:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            stats.scheduled += 1
            if stats.in_flight >= self.args.max_in_flight:
                stats.failed("in-flight cap")
                self.sample(
                    (kind, "cap"), f"{kind}: {stats.in_flight} requests unanswered, one not sent"
                )
            else:
                stats.in_flight += 1
                task = asyncio.create_task(self.one(session, kind, due, build(i)))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            i += 1


@dataclass
class Monitor:
    """Samples the server's memory, CPU and database size; prints a row every interval."""

    load: Load
    server_pid: int
    database: Database
    interval: float
    duration: float
    trace: Path | None = None  # --trace-memory: mark the snapshot moments for the server
    rows: list[dict[str, Any]] = field(default_factory=list)
    memory: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MB)

    def header(self) -> None:
        cells = "".join(f"{kind:>29}" for kind in KINDS)
        print(f"{'':>40}{cells}")
        per = f"{'/s':>7}{'p50':>8}{'p99':>9}{'err':>5}" * len(KINDS)
        first = f"{'t s':>6}{'RSS MB':>8}{'thr':>4}{'CPU %':>7}{'DB MB':>9}{'load':>6}"
        print(f"{first}{per}", flush=True)

    async def run(self, start: float, end: float) -> None:
        tick = min(5.0, self.interval)  # RSS samples for the slope; a row every interval
        pids = process_tree(self.server_pid)
        last_cpu, last_row = cpu_seconds(pids), start
        k = 1
        while start + k * tick <= end + 0.01:
            await asyncio.sleep(max(0.0, start + k * tick - time.perf_counter()))
            k += 1
            now = time.perf_counter()
            pids = process_tree(self.server_pid)
            self.memory.append((now - start, rss_mb(pids)))
            if self.trace is not None:
                if now - start >= self.duration / 2:
                    self.trace.with_suffix(".first").touch()
                # Early enough that the server's second snapshot (slow: seconds per 100 MB
                # traced) and its comparison are written before the server is stopped.
                if now - start >= min(0.9 * self.duration, self.duration - 30):
                    self.trace.with_suffix(".second").touch()
            if now - last_row >= self.interval - tick / 2 or start + k * tick > end + 0.01:
                cpu = cpu_seconds(pids)
                self.row(now - start, now - last_row, cpu - last_cpu)
                last_cpu, last_row = cpu, now
                self.rows[-1]["db_mb"] = await asyncio.to_thread(database_mb, self.database)
                self.print_row(self.rows[-1])

    def row(self, t: float, span: float, cpu: float) -> None:
        kinds = {}
        for kind, stats in self.load.stats.items():
            kinds[kind] = {
                "completed_per_s": round(len(stats.window) / span, 2),
                "p50_ms": round(quantile(stats.window, 0.5), 2),
                "p99_ms": round(quantile(stats.window, 0.99), 2),
                "errors": stats.window_errors,
            }
            stats.window, stats.window_errors = [], 0
        self.rows.append(
            {
                "t_s": round(t),
                "rss_mb": round(self.memory[-1][1], 1),
                "threads": status_sum(process_tree(self.server_pid), "Threads"),
                "server_cpu_pct": round(100 * cpu / span, 1),
                "load_avg_1m": float(Path("/proc/loadavg").read_text().split()[0]),
                "kinds": kinds,
            }
        )

    @staticmethod
    def print_row(row: dict[str, Any]) -> None:
        cells = "".join(
            f"{k['completed_per_s']:>7.1f}{k['p50_ms']:>8.1f}{k['p99_ms']:>9.1f}{k['errors']:>5}"
            for k in row["kinds"].values()
        )
        print(
            f"{row['t_s']:>6}{row['rss_mb']:>8.1f}{row['threads']:>4}{row['server_cpu_pct']:>7.1f}"
            f"{row['db_mb']:>9.1f}{row['load_avg_1m']:>6.1f}{cells}",
            flush=True,
        )


def memory_verdict(
    samples: list[tuple[float, float]], duration: float, threshold: float
) -> dict[str, Any]:
    """First/last/max RSS and the slope over the second half, with its verdict."""
    values = [m for _, m in samples]
    second = [(t, m) for t, m in samples if t >= duration / 2]
    slope = slope_per_10min(second)
    if duration / 2 < MIN_JUDGED_SECONDS:
        verdict = f"not judged (second half under {MIN_JUDGED_SECONDS} s)"
    else:
        verdict = "flat" if slope < threshold else "growing"
    return {
        "first_mb": round(values[0], 1) if values else 0.0,
        "last_mb": round(values[-1], 1) if values else 0.0,
        "max_mb": round(max(values), 1) if values else 0.0,
        "second_half_slope_mb_per_10min": round(slope, 2),
        "threshold_mb_per_10min": threshold,
        "verdict": verdict,
    }


async def soak(args: argparse.Namespace, server: Server, database: Database) -> dict[str, Any]:
    load = Load(args, server.url(""))
    # Idle connections are let go before uvicorn closes them (after 5 s): a request sent on a
    # connection the server is closing at that moment would fail for the client, not the server.
    connector = aiohttp.TCPConnector(limit=args.max_in_flight * len(KINDS), keepalive_timeout=3)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(
        base_url=server.url(""), headers=HEADERS, connector=connector, timeout=timeout
    ) as session:
        await preflight(session, load)
        monitor = Monitor(
            load, server.process.pid, database, args.interval, args.duration, args.trace_memory
        )
        rates = ", ".join(f"{kind} {load.stats[kind].rate:g}/s" for kind in KINDS)
        print(
            f"soak: {args.duration:g} s on {database.kind}, {args.workers} server process(es), "
            f"{os.cpu_count()} cores; offered {rates}; log batches of {args.log_batch_size}",
            flush=True,
        )
        monitor.header()
        cpu_before = time.process_time()
        start = time.perf_counter() + 0.2
        end = start + args.duration
        load.start = start
        await asyncio.gather(
            monitor.run(start, end), *(load.drive(session, kind, start, end) for kind in KINDS)
        )
        pending = set(load.tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=args.timeout)
            for task in late:
                task.cancel()
        generator_cpu = time.process_time() - cpu_before
    return report(args, load, monitor, database, generator_cpu)


async def preflight(session: aiohttp.ClientSession, load: Load) -> None:
    """Each scenario once, each read path once: the load must be answerable before it counts."""
    permits = 0
    for i, body in enumerate(load.bodies):
        async with session.post(f"{API}/decisions", json=body) as response:
            answer = await response.read()
            if response.status != 200:
                raise SystemExit(f"scenario request {i} refused: {response.status} {answer!r}")
            permits += json.loads(answer)["effect"] == "permit"
    if not permits:
        raise SystemExit("no scenario request was permitted: the demo policy is not active")
    for path in (*PORTAL_PAGES, *API_READS[:-1]):
        async with session.get(path) as response:
            if response.status != 200:
                raise SystemExit(f"GET {path} answered {response.status}")


def report(
    args: argparse.Namespace, load: Load, monitor: Monitor, database: Database, generator_cpu: float
) -> dict[str, Any]:
    totals = {}
    for kind, stats in load.stats.items():
        lost = stats.scheduled - stats.completed - sum(stats.errors.values())
        if lost > 0:
            stats.errors["unanswered at the end"] += lost
        totals[kind] = {
            "offered_per_s": stats.rate,
            "scheduled": stats.scheduled,
            "completed": stats.completed,
            "completed_per_s": round(stats.completed / args.duration, 2),
            "p50_ms": round(quantile(stats.latencies, 0.5), 2),
            "p99_ms": round(quantile(stats.latencies, 0.99), 2),
            "p999_ms": round(quantile(stats.latencies, 0.999), 2),
            "max_ms": round(max(stats.latencies, default=0.0), 2),
            "errors": dict(stats.errors),
        }
    errors = sum(sum(t["errors"].values()) for t in totals.values())
    memory = memory_verdict(monitor.memory, args.duration, args.flat_threshold)
    return {
        "command": " ".join(["python -m benchmarks.soak", *sys.argv[1:]]),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": database.kind,
        "server_processes": args.workers,
        "cores": os.cpu_count(),
        "duration_s": args.duration,
        "interval_s": args.interval,
        "log_batch_size": args.log_batch_size,
        "generator_cpu_pct": round(100 * generator_cpu / args.duration, 1),
        "intervals": monitor.rows,
        "totals": totals,
        "errors": errors,
        "error_samples": load.samples,
        "memory": memory,
        "memory_samples": [(round(t, 1), round(m, 1)) for t, m in monitor.memory],
        "ok": errors == 0 and memory["verdict"] != "growing",
    }


def print_summary(result: dict[str, Any]) -> None:
    print()
    print(
        f"{'kind':<10}{'offered/s':>10}{'done/s':>9}{'completed':>11}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'p99.9 ms':>10}{'max ms':>9}  errors"
    )
    for kind, t in result["totals"].items():
        errors = ", ".join(f"{what} x{n}" for what, n in t["errors"].items()) or "0"
        print(
            f"{kind:<10}{t['offered_per_s']:>10g}{t['completed_per_s']:>9.1f}"
            f"{t['completed']:>11,}{t['p50_ms']:>9.1f}{t['p99_ms']:>9.1f}{t['p999_ms']:>10.1f}"
            f"{t['max_ms']:>9.1f}  {errors}"
        )
    m = result["memory"]
    print(
        f"server RSS: first {m['first_mb']} MB, last {m['last_mb']} MB, max {m['max_mb']} MB; "
        f"second-half slope {m['second_half_slope_mb_per_10min']:+.2f} MB per 10 min "
        f"(flat below {m['threshold_mb_per_10min']:g}): {m['verdict']}"
    )
    print(f"load generator CPU: {result['generator_cpu_pct']}% of one core")
    print(f"errors: {result['errors']}")
    for line in result["error_samples"]:
        print(f"  {line}")
    for line in result.get("server_stderr", []):
        print(f"  server: {line}")


@contextmanager
def memory_traced(out: Path | None, workdir: Path) -> Iterator[None]:
    """With `out`, processes started inside import `benchmarks.memtrace` at start-up."""
    if out is None:
        yield
        return
    site = workdir / "memtrace"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import benchmarks.memtrace\n\nbenchmarks.memtrace.start()\n"
    )
    for stale in (out, out.with_suffix(".first"), out.with_suffix(".second")):
        stale.unlink(missing_ok=True)
    saved = dict(os.environ)
    path = [str(site), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    os.environ["PYTHONPATH"] = os.pathsep.join(path)
    os.environ["GLAZENSTAD_MEMTRACE"] = str(out.resolve())
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def seed(database: Database, workdir: Path) -> None:
    """The demo municipalities' register and policies, loaded and activated as `glazenstad demo`
    does it (so the load meets the demo's own policy lifecycle)."""
    env = {
        **os.environ,
        "GLAZENSTAD_DATABASE_URL": database.url,
        "GLAZENSTAD_DATA_DIR": str(workdir),
    }
    done = subprocess.run(
        [BIN / "glazenstad", "demo", "--no-serve"], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"glazenstad demo --no-serve failed:\n{done.stdout}{done.stderr}")


def drain(stream: Any, tail: deque[str]) -> None:
    """Read the server's stderr as it comes (a full pipe would stall the server)."""
    for raw in iter(stream.readline, b""):
        tail.append(raw.decode(errors="replace").rstrip())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=600, help="Seconds of load (600).")
    parser.add_argument("--interval", type=float, default=30, help="Seconds per row (30).")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--workers", type=int, default=1, help="Server processes (1).")
    parser.add_argument("--decisions", type=float, default=25, help="POST /decisions per s.")
    parser.add_argument("--log-batches", type=float, default=2, help="Log batches per s.")
    parser.add_argument("--log-batch-size", type=int, default=200, help="Records per batch.")
    parser.add_argument("--log-reads", type=float, default=1, help="Resident reads per s.")
    parser.add_argument("--api-reads", type=float, default=5, help="API GETs per s.")
    parser.add_argument("--portal-reads", type=float, default=2, help="Portal pages per s.")
    parser.add_argument("--max-in-flight", type=int, default=200, help="Per kind.")
    parser.add_argument("--timeout", type=float, default=30, help="Seconds per request.")
    parser.add_argument(
        "--flat-threshold",
        type=float,
        default=5.0,
        help="RSS slope (MB per 10 min, second half) below which memory counts as flat.",
    )
    parser.add_argument(
        "--trace-memory",
        type=Path,
        default=None,
        help="Run the server with tracemalloc (slower): Python's allocated memory, RSS and "
        "threads every 5 s to this file, and the lines that grew in the second half to "
        "<file>.top.txt (see benchmarks/memtrace.py).",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Stopped with SIGTERM, still drop the database made here (the `finally` clauses run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="glazenstad-soak-"))
    database = Database.create(args.database, args.postgres, workdir)
    tail: deque[str] = deque(maxlen=20)
    try:
        seed(database, workdir)
        with memory_traced(args.trace_memory, workdir):
            server = Server(database, workdir, args.workers)
        threading.Thread(target=drain, args=(server.process.stderr, tail), daemon=True).start()
        try:
            result = asyncio.run(soak(args, server, database))
        finally:
            server.stop()
    finally:
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    result["server_stderr"] = list(tail)
    print_summary(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
