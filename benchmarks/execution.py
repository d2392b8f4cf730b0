"""Execution: scans per second through Mosquitto, and the gateway against direct calls.

    .venv/bin/python -m benchmarks.execution [--seconds 10] [--connections 32]
        [--databases sqlite,postgresql] [--gateway-workers 1]
        [--scan-databases postgresql] [--scan-target 20000] [--scan-seconds 60]
        [--capacity-scans 30000] [--skip-gateway] [--skip-scans]

*Scans*: a private Mosquitto (queue limit raised, so nothing is dropped for being queued), the
scan pipeline as its own process (`glazenstad pipeline parking`) on a fresh database with the
demo register and policy, and scan cars simulated by this process at QoS 1. First the capacity:
`--capacity-scans` published at once, timed until all are stored. Then sustained runs of
`--scan-seconds` at 80% of that capacity and at `--scan-target`, with the backlog (published
minus stored) sampled every five seconds: a backlog that keeps growing means the rate is not
sustained. Each scan is three steps (plate written, parking right read, for unpaid scans the
photo kept), each a decision and a log record. On PostgreSQL, right after the capacity run, the
*floor*: the rows stored so far copied raw into a fresh database in the pipeline's batches
(`benchmarks.rowfloor`), the most scans/s this database can take of them whatever the writer.

Starts Voorbeeldstad's demo sources (`glazenstad sources`, one process) and the gateway
(`glazenstad gateway`) with the demo register and policy on a fresh database, checks that the
benchmark request is permitted, then drives with wrk (Debian package `wrk`, `-t2`, loopback):

- *direct*: `GET /brp/v2/personen/{bsn}` at the source;
- *gateway*: the same person through the gateway (`/brp/personen/{bsn}`, a demo token, purpose
  brp-bijhouding): decision, decision log, one LDV log record committed before each answer.

- *passthrough*: the same request through `benchmarks.passthrough`, a proxy built from the
  gateway's HTTP server and client that only forwards: the ceiling of any gateway on this stack.

It prints requests/s, p50 and p99 of each, the ratio gateway/direct (target >= 0.5), the share
the pass-through reaches, the latency the gateway adds and, on PostgreSQL, the floor of the
gateway's rows (every logged request's decisions and record copied raw, in commits of one
request per connection). Everything runs on the same machine: the source, the gateway, the
database and wrk share its cores, as they would on a single small server.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from benchmarks.http import free_port, run_wrk
from benchmarks.logbook import BIN, Database, checkpoint
from benchmarks.rowfloor import copy_floor, grown, table_counts
from glazenstad.db.engine import make_engine, migrate
from glazenstad.execution.mosquitto import PrivateMosquitto, mosquitto_binary
from glazenstad.execution.mqtt import MqttPublisher
from glazenstad.execution.parking.pipeline import scan_topic
from glazenstad.execution.parking.tables import parking_scan
from glazenstad.logbook.tables import log_record
from glazenstad.register.loader import load_register
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.store import PolicyStore
from glazenstad.sources import ZONE_CODES, ParkingRights
from glazenstad.sources.synthetic import DEFAULT_PERSONS, DEFAULT_SEED, generate

ROOT = Path(__file__).resolve().parents[1]
REGISTER = ROOT / "demo" / "register"
POLICIES = ROOT / "demo" / "policies"
GATEWAY = ROOT / "demo" / "gateway" / "voorbeeldstad.yaml"
TOKEN = "demo-burgerzaken"
PURPOSE = "brp-bijhouding"


def get_lua(headers: dict[str, str]) -> str:
    """A wrk script for GET with headers that prints p50, p99 and errors."""
    lines = [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    return "\n".join(
        [
            *lines,
            "done = function(summary, latency, requests)",
            '  io.write(string.format("P99_US %d\\n", latency:percentile(99)))',
            '  io.write(string.format("P50_US %d\\n", latency:percentile(50)))',
            '  io.write(string.format("ERRORS %d\\n", summary.errors.status + '
            "summary.errors.connect + summary.errors.read + summary.errors.write + "
            "summary.errors.timeout))",
            "end",
            "",
        ]
    )


def wait_until_up(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


def start(args: list[str], env: dict[str, str], url: str, what: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
    wait_until_up(url, process, what)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def prepare(database: Database) -> None:
    engine = make_engine(database.url)
    migrate(engine)
    load_register(engine, REGISTER, loaded_by="benchmark", approved_by="benchmark-approver")
    store = PolicyStore(engine)
    for loaded in parse_policies(POLICIES).policies:
        version, _ = store.save(loaded.policy, by="benchmark")
        if version.status != "active":
            store.activate(version.organisation_id, version.content_hash, by="benchmark-approver")
    engine.dispose()


def gateway_config(workdir: Path, sources: str) -> Path:
    """The demo configuration with its upstreams pointed at this run's sources."""
    text = GATEWAY.read_text(encoding="utf-8").replace("http://127.0.0.1:8100", sources)
    path = workdir / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def sample_timing(
    port: int, path: str, headers: dict[str, str], samples: int
) -> dict[str, tuple[float, float]]:
    """p50 and p99 of each `Server-Timing` part over `samples` requests, one at a time."""
    parts: dict[str, list[float]] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(samples):
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        answer.read()
        for part in (answer.getheader("server-timing") or "").split(","):
            name, _, duration = part.strip().partition(";dur=")
            parts.setdefault(name, []).append(float(duration))
    conn.close()
    return {
        name: (statistics.median(values), statistics.quantiles(values, n=100)[98])
        for name, values in parts.items()
    }


def forwarder(sources: str, bsn: str, script: Path, args: argparse.Namespace) -> dict[str, Any]:
    """wrk through `benchmarks.passthrough` in front of the same source: the ceiling of any
    gateway built from the gateway's HTTP server and client on this machine."""
    port = free_port()
    process = start(
        [
            sys.executable,
            "-m",
            "benchmarks.passthrough",
            "--upstream",
            sources,
            "--port",
            str(port),
        ],
        {**os.environ, "PYTHONPATH": str(ROOT)},
        f"http://127.0.0.1:{port}/",
        "the pass-through proxy",
    )
    try:
        return run_wrk(
            f"http://127.0.0.1:{port}/brp/v2/personen/{bsn}", script, args.seconds, args.connections
        )
    finally:
        stop(process)


def run_database(kind: str, args: argparse.Namespace, workdir: Path, bsn: str) -> dict[str, Any]:
    database = Database.create(kind, args.postgres, workdir)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        prepare(database)
        counts = table_counts(database.url) if kind == "postgresql" else {}
        env = {
            **os.environ,
            "GLAZENSTAD_DATABASE_URL": database.url,
            "GLAZENSTAD_DATA_DIR": str(workdir),
            "GLAZENSTAD_MODE": "demo",
        }
        source_port, gateway_port = free_port(), free_port()
        sources = f"http://127.0.0.1:{source_port}"
        processes.append(
            start(
                [str(BIN / "glazenstad"), "sources", "--port", str(source_port)],
                env,
                f"{sources}/",
                "glazenstad sources",
            )
        )
        config = gateway_config(workdir, sources)
        gateway = f"http://127.0.0.1:{gateway_port}"
        processes.append(
            start(
                [
                    str(BIN / "glazenstad"),
                    "gateway",
                    "--config",
                    str(config),
                    "--port",
                    str(gateway_port),
                    "--workers",
                    str(args.gateway_workers),
                ],
                env,
                f"{gateway}/health",
                "glazenstad gateway",
            )
        )
        headers = {"Authorization": f"Bearer {TOKEN}", "Glazenstad-Purpose": PURPOSE}
        check = urllib.request.Request(f"{gateway}/brp/personen/{bsn}", headers=headers)
        with urllib.request.urlopen(check, timeout=10) as answer:
            if answer.status != 200:
                raise SystemExit(f"the benchmark request was refused: {answer.status}")
        direct_script = workdir / "direct.lua"
        direct_script.write_text(get_lua({}), encoding="utf-8")
        gateway_script = workdir / "gateway.lua"
        gateway_script.write_text(get_lua(headers), encoding="utf-8")
        engine = make_engine(database.url)
        with engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(log_record)).scalar_one()
        direct = run_wrk(
            f"{sources}/brp/v2/personen/{bsn}", direct_script, args.seconds, args.connections
        )
        through = run_wrk(
            f"{gateway}/brp/personen/{bsn}", gateway_script, args.seconds, args.connections
        )
        with engine.connect() as conn:
            logged = conn.execute(select(func.count()).select_from(log_record)).scalar_one()
        engine.dispose()
        # The floor of every request logged (the check's and wrk's, one record each), in
        # group commits of at most one request per connection.
        floor = (
            measure_floor(
                database,
                args,
                workdir,
                GATEWAY_TABLES,
                "log_record",
                args.connections,
                counts,
            )
            if kind == "postgresql"
            else None
        )
        passthrough = forwarder(sources, bsn, direct_script, args)
        timing = sample_timing(gateway_port, f"/brp/personen/{bsn}", headers, args.timing_samples)
        return {
            "database": kind,
            "direct": direct,
            "gateway": through,
            "passthrough": passthrough,
            "logged": logged - before,
            "ratio": through["calls_per_s"] / direct["calls_per_s"],
            "floor": floor,
            "timing": timing,
        }
    finally:
        for process in reversed(processes):
            stop(process)
        database.drop()


SCAN_ORG = "voorbeeldstad"
PIPELINE = [str(BIN / "glazenstad"), "pipeline", "parking"]
# Saturday 28 November 2026, noon in Voorbeeldstad: inside the hours the policy allows scanning.
SCAN_TIME = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)


class ScanSource:
    """Scan payloads made cheaply at any rate: plates sampled once, ids and times counted up."""

    def __init__(self, topic_root: str, run: str) -> None:
        rights = ParkingRights.from_seed()
        self.run = run
        self.plates = [
            (zone, plate)
            for zone in ZONE_CODES
            for plate in rights.sample_plates(zone, SCAN_TIME, 2_000, seed=7)
        ]
        self.topic = scan_topic(SCAN_ORG, "scanauto-bench", topic_root)
        self.sent = 0

    def publish_next(self, publisher: MqttPublisher) -> None:
        """Publish the next scan; when the client's queue is full, wait for room (the
        publisher then falls behind the offered rate, which the figures show)."""
        payload = self.payload(self.sent)
        while True:
            try:
                publisher.publish(self.topic, payload)
                break
            except ConnectionError:
                time.sleep(0.002)
        self.sent += 1

    def payload(self, n: int) -> bytes:
        zone, plate = self.plates[n % len(self.plates)]
        at = SCAN_TIME + timedelta(milliseconds=n)
        return (
            f'{{"scanId":"{self.run}-{n}","plate":"{plate}","zone":"{zone}",'
            f'"position":{{"lat":52.09,"lon":5.12}},"scannedAt":"{at.isoformat()}"}}'
        ).encode()


def stored_scans(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(parking_scan)).scalar_one())


def publish_at(
    publisher: MqttPublisher, source: ScanSource, rate: float, seconds: float
) -> Iterator[float]:
    """Publish at `rate` for `seconds`; yields the elapsed time about every 50 ms."""
    started = time.monotonic()
    total = int(rate * seconds)
    while source.sent < total:
        due = min(total, int((time.monotonic() - started) * rate))
        for _ in range(due - source.sent):
            source.publish_next(publisher)
        yield time.monotonic() - started
        time.sleep(0.005)


def wait_stored(engine: Engine, count: int, timeout: float) -> tuple[int, float]:
    """Poll until `count` scans are stored or `timeout` passes; (stored, seconds waited)."""
    started = time.monotonic()
    stored = stored_scans(engine)
    while stored < count and time.monotonic() - started < timeout:
        time.sleep(0.2)
        stored = stored_scans(engine)
    return stored, time.monotonic() - started


def sustained(
    engine: Engine, publisher: MqttPublisher, source: ScanSource, rate: float, seconds: float
) -> dict[str, Any]:
    """Offer `rate` scans/s for `seconds`; backlog samples every 5 s, then drain (max 60 s)."""
    source.sent = 0
    base = stored_scans(engine)
    samples: list[tuple[float, int]] = []
    next_sample = 5.0
    window_start = time.monotonic()
    for elapsed in publish_at(publisher, source, rate, seconds):
        if elapsed >= next_sample:
            samples.append((elapsed, source.sent - (stored_scans(engine) - base)))
            next_sample += 5.0
    published = source.sent
    stored_in_window = stored_scans(engine) - base
    window = time.monotonic() - window_start
    publisher.flush(timeout=120)
    stored, _ = wait_stored(engine, base + published, 60)
    # Backlog growth per second from the first to the last sample; None when too short to say.
    growth = (
        (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])
        if len(samples) > 1
        else None
    )
    return {
        "offered": rate,
        "published_per_s": published / window,
        "processed_per_s": stored_in_window / window,
        "backlog": [b for _, b in samples],
        "growth_per_s": growth,
        "left": base + published - stored,
    }


# What a scan run writes row by row; the key tables are filled by trigger, the chain heads are
# updated in place (both left to the copy's own triggers, or out of the floor).
SCAN_TABLES = ("parking_scan", "parking_case", "parking_hourly", "decision_log", "log_record")
GATEWAY_TABLES = ("decision_log", "log_record")


def measure_floor(
    database: Database,
    args: argparse.Namespace,
    workdir: Path,
    tables: tuple[str, ...],
    unit_table: str,
    per_batch: int,
    before: dict[str, int],
) -> dict[str, Any]:
    """The database floor of what a run stored since `before`, in commits of `per_batch` units
    (a unit is a row of `unit_table`: a scan, or a request's log record), with the rows each
    table gained per unit."""
    added = grown(before, table_counts(database.url))
    units = added[unit_table]
    batches = -(-units // per_batch)
    floor = copy_floor(
        database,
        tables,
        batches,
        lambda: Database.create("postgresql", args.postgres, workdir),
        checkpoint,
    )
    return {
        "per_s": units / floor.seconds,
        "rows": floor.rows,
        "per_unit": {t: n / units for t, n in added.items()},
        "copied": tables,
        "filled": floor.filled,
    }


def floor_lines(floor: dict[str, Any], unit: str) -> list[str]:
    """The floor and the rows per scan or request, for the report."""

    def how(table: str) -> str:
        if table in floor["copied"]:
            return ""
        return " (by trigger)" if table in floor["filled"] else " (not in the floor)"

    rows = ", ".join(f"{t} {n:.2f}{how(t)}" for t, n in floor["per_unit"].items())
    return [
        f"floor (raw COPY of the same rows into a fresh database, same commits): "
        f"{floor['per_s']:,.0f} {unit}/s, {floor['rows']:,} rows",
        f"rows per {unit[:-1]}: {rows}",
    ]


def run_scans(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    database = Database.create(kind, args.postgres, workdir)
    broker_dir = workdir / f"mosquitto-{kind}"
    broker_dir.mkdir()
    broker = PrivateMosquitto(broker_dir, max_queued_messages=100_000_000, save_every_change=False)
    pipeline: subprocess.Popen[bytes] | None = None
    try:
        prepare(database)
        counts = table_counts(database.url) if kind == "postgresql" else {}
        broker.start()
        run = f"bench{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "GLAZENSTAD_DATABASE_URL": database.url,
            "GLAZENSTAD_DATA_DIR": str(workdir),
            "GLAZENSTAD_MQTT_URL": broker.url,
        }
        pipeline = subprocess.Popen(
            [*PIPELINE, "--client-id", run, "--topic-root", run],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        engine = make_engine(database.url)
        source = ScanSource(run, run)
        with MqttPublisher(broker.url, max_inflight=1000) as publisher:
            # Until the pipeline's subscription stands, a scan has nowhere to go: re-send one
            # (the same id: duplicates are harmless) until it is stored.
            deadline = time.monotonic() + 60
            while stored_scans(engine) == 0:
                if time.monotonic() > deadline or pipeline.poll() is not None:
                    raise SystemExit("the scan pipeline did not start consuming")
                source.sent = 0
                source.publish_next(publisher)
                time.sleep(0.5)
            source.sent = 1
            base = stored_scans(engine)
            started = time.monotonic()
            while source.sent < args.capacity_scans + 1:
                source.publish_next(publisher)
            stored, _ = wait_stored(engine, base + args.capacity_scans, 600)
            capacity = (stored - base) / (time.monotonic() - started)
            print(f"[{kind}] capacity {capacity:,.0f} scans/s", flush=True)
            floor = (
                measure_floor(database, args, workdir, SCAN_TABLES, "parking_scan", 500, counts)
                if kind == "postgresql"
                else None
            )
            rates = [round(capacity * 0.8), args.scan_target]
            runs = [
                sustained(engine, publisher, ScanSource(run, f"{run}-{n}"), rate, args.scan_seconds)
                for n, rate in enumerate(rates)
            ]
        engine.dispose()
        return {"database": kind, "capacity": capacity, "floor": floor, "runs": runs}
    finally:
        if pipeline is not None:
            stop(pipeline)
        broker.stop()
        database.drop()


def sustains(run: dict[str, Any]) -> bool:
    """Published at the offered rate, and the backlog grew by no more than 2% of it."""
    growth = run["growth_per_s"]
    return (
        growth is not None
        and growth <= 0.02 * run["offered"]
        and run["published_per_s"] >= 0.95 * run["offered"]
    )


def verdict(run: dict[str, Any]) -> str:
    if run["growth_per_s"] is None:
        return "not judged (run shorter than two samples)"
    trend = "sustained" if sustains(run) else "not sustained"
    return f"{trend} ({run['growth_per_s']:+,.0f}/s)"


def print_scans(result: dict[str, Any], args: argparse.Namespace) -> None:
    kind = result["database"]
    print(
        f"Scans through Mosquitto (max_inflight_messages {args.broker_inflight}) into the "
        f"pipeline ({kind}): capacity "
        f"{result['capacity']:,.0f} scans/s ({args.capacity_scans:,} published at once)"
    )
    if result["floor"] is not None:
        for line in floor_lines(result["floor"], "scans"):
            print(line)
        print(f"capacity/floor {result['capacity'] / result['floor']['per_s']:.2f}")
    print(f"{'offered/s':>10}{'published/s':>13}{'processed/s':>13}  backlog every 5 s")
    for run in result["runs"]:
        backlog = " ".join(f"{b:,}" for b in run["backlog"])
        print(
            f"{run['offered']:>10,.0f}{run['published_per_s']:>13,.0f}"
            f"{run['processed_per_s']:>13,.0f}  {backlog}"
        )
        print(
            f"{'':>10}backlog {verdict(run)}; "
            f"{run['left']:,} not stored 60 s after publishing ended"
        )
    target = args.scan_target
    met = any(r["offered"] >= target and sustains(r) for r in result["runs"])
    print(f"target {target:,} scans/s sustained: {'met' if met else 'not met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--gateway-workers", type=int, default=1)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--scan-databases", default="postgresql")
    parser.add_argument("--scan-target", type=int, default=20_000)
    parser.add_argument("--scan-seconds", type=float, default=60)
    parser.add_argument("--capacity-scans", type=int, default=30_000)
    parser.add_argument(
        "--broker-inflight", type=int, default=1_000, help="Mosquitto max_inflight_messages"
    )
    parser.add_argument("--skip-gateway", action="store_true")
    parser.add_argument("--timing-samples", type=int, default=500)
    parser.add_argument("--skip-scans", action="store_true")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    if not args.skip_gateway and shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    if not args.skip_scans and mosquitto_binary() is None:
        raise SystemExit("mosquitto is not installed: apt-get install mosquitto")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_scans:
            for kind in args.scan_databases.split(","):
                print_scans(run_scans(kind, args, Path(tmp)), args)
        if not args.skip_gateway:
            bsn = next(iter(generate(DEFAULT_SEED, DEFAULT_PERSONS).persons))
            results = [run_database(k, args, Path(tmp), bsn) for k in args.databases.split(",")]
            print_gateway(results, args)


def print_gateway(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"Gateway vs direct, wrk -t2 -c{args.connections} -d{args.seconds}s, "
        f"{args.gateway_workers} gateway process(es), {os.cpu_count()} cores"
    )
    print(f"{'database':<11}{'path':<13}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for result in results:
        for path in ("direct", "gateway", "passthrough"):
            figures = result[path]
            print(
                f"{result['database']:<11}{path:<13}{figures['calls_per_s']:>9,.0f}"
                f"{figures['p50_ms']:>9.2f}{figures['p99_ms']:>9.2f}{figures['errors']:>8}"
            )
        added = result["gateway"]["p50_ms"] - result["direct"]["p50_ms"]
        added99 = result["gateway"]["p99_ms"] - result["direct"]["p99_ms"]
        print(
            f"{result['database']:<11}ratio gateway/direct {result['ratio']:.2f} (target >= 0.5); "
            f"added p50 {added:.2f} ms, p99 {added99:.2f} ms; "
            f"{result['logged']:,} log records for {result['gateway']['calls_per_s']:,.0f} req/s"
        )
        ceiling = result["passthrough"]["calls_per_s"] / result["direct"]["calls_per_s"]
        print(
            f"{result['database']:<11}ceiling: a proxy that only forwards (same server and "
            f"client, no decision, no log) reaches {ceiling:.2f} of direct"
        )
        if result["floor"] is not None:
            for line in floor_lines(result["floor"], "requests"):
                print(f"{result['database']:<11}{line}")
        timing = "; ".join(
            f"{name} p50 {p50:.2f} ms, p99 {p99:.2f} ms"
            for name, (p50, p99) in result["timing"].items()
        )
        print(f"{result['database']:<11}one at a time, Server-Timing: {timing}")


if __name__ == "__main__":
    main()
