"""Execution: the gateway's cost, measured against calling the same source directly.

    .venv/bin/python -m benchmarks.execution [--seconds 10] [--connections 32]
        [--databases sqlite,postgresql] [--gateway-workers 1]

Starts Voorbeeldstad's demo sources (`glazenstad sources`, one process) and the gateway
(`glazenstad gateway`) with the demo register and policy on a fresh database, checks that the
benchmark request is permitted, then drives with wrk (Debian package `wrk`, `-t2`, loopback):

- *direct*: `GET /brp/v2/personen/{bsn}` at the source;
- *gateway*: the same person through the gateway (`/brp/personen/{bsn}`, a demo token, purpose
  brp-bijhouding): decision, decision log, one LDV log record committed before each answer.

It prints requests/s, p50 and p99 of both, the ratio gateway/direct (target >= 0.5) and the
latency the gateway adds. Everything runs on the same machine: the source, the gateway, the
database and wrk share its cores, as they would on a single small server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.http import free_port, run_wrk
from benchmarks.logbook import BIN, Database
from glazenstad.db.engine import make_engine, migrate
from glazenstad.logbook.tables import log_record
from glazenstad.register.loader import load_register
from glazenstad.rules.loader import parse_policies
from glazenstad.rules.store import PolicyStore
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
    load_register(engine, REGISTER, loaded_by="benchmark")
    store = PolicyStore(engine)
    for loaded in parse_policies(POLICIES).policies:
        version, _ = store.save(loaded.policy, by="benchmark")
        if version.status != "active":
            store.activate(version.organisation_id, version.content_hash, by="benchmark")
    engine.dispose()


def gateway_config(workdir: Path, sources: str) -> Path:
    """The demo configuration with its upstreams pointed at this run's sources."""
    text = GATEWAY.read_text(encoding="utf-8").replace("http://127.0.0.1:8100", sources)
    path = workdir / "gateway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run_database(kind: str, args: argparse.Namespace, workdir: Path, bsn: str) -> dict[str, Any]:
    database = Database.create(kind, args.postgres, workdir)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        prepare(database)
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
        return {
            "database": kind,
            "direct": direct,
            "gateway": through,
            "logged": logged - before,
            "ratio": through["calls_per_s"] / direct["calls_per_s"],
        }
    finally:
        for process in reversed(processes):
            stop(process)
        database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--gateway-workers", type=int, default=1)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    bsn = next(iter(generate(DEFAULT_SEED, DEFAULT_PERSONS).persons))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.databases.split(","):
            results.append(run_database(kind, args, Path(tmp), bsn))
    print(
        f"Gateway vs direct, wrk -t2 -c{args.connections} -d{args.seconds}s, "
        f"{args.gateway_workers} gateway process(es), {os.cpu_count()} cores"
    )
    print(f"{'database':<11}{'path':<9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for result in results:
        for path in ("direct", "gateway"):
            figures = result[path]
            print(
                f"{result['database']:<11}{path:<9}{figures['calls_per_s']:>9,.0f}"
                f"{figures['p50_ms']:>9.2f}{figures['p99_ms']:>9.2f}{figures['errors']:>8}"
            )
        added = result["gateway"]["p50_ms"] - result["direct"]["p50_ms"]
        added99 = result["gateway"]["p99_ms"] - result["direct"]["p99_ms"]
        print(
            f"{result['database']:<11}ratio gateway/direct {result['ratio']:.2f} (target >= 0.5); "
            f"added p50 {added:.2f} ms, p99 {added99:.2f} ms; "
            f"{result['logged']:,} log records for {result['gateway']['calls_per_s']:,.0f} req/s"
        )


if __name__ == "__main__":
    main()
