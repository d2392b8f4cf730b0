"""Decisions over HTTP: decisions/s and p99 latency for single and batch calls, measured by wrk.

    .venv/bin/python -m benchmarks.http [--seconds 10] [--connections 16] [--batch 100]
                                         [--database-url postgresql+psycopg://...]

Starts `glazenstad serve` (one uvicorn process) on a free loopback port with the demo
municipality loaded and its policy active, then drives `POST /api/v1/decisions` and
`POST /api/v1/decisions/batch` with wrk (Debian package `wrk`). Every answer is sent only after
its decisions are committed to the decision log, so these figures include durable logging.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

REQUEST = {
    "actor": {
        "role": "parkeerhandhaver",
        "department": "Parkeren",
        "organisation": "voorbeeldstad",
    },
    "action": "read",
    "resource": {"dataCategory": "kenteken"},
    "purpose": "parkeerhandhaving-scanauto",
    "context": {"time": "2026-03-02T10:00:00+01:00"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SYSTEM_TOKEN = "demo-system-voorbeeldstad"  # demo/systems.yaml: scope decisions:request


def lua(body: Mapping[str, object]) -> str:
    payload = json.dumps(json.dumps(body))
    return (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {SYSTEM_TOKEN}"\n'
        f"wrk.body = {payload}\n"
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("P99_US %d\\n", latency:percentile(99)))\n'
        '  io.write(string.format("P50_US %d\\n", latency:percentile(50)))\n'
        '  io.write(string.format("ERRORS %d\\n", summary.errors.status + summary.errors.connect'
        " + summary.errors.read + summary.errors.write + summary.errors.timeout))\n"
        "end\n"
    )


def run_wrk(url: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"P99_US (\d+)", out)
    p50 = re.search(r"P50_US (\d+)", out)
    errors = re.search(r"ERRORS (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert rate and p99 and p50 and errors, out
    return {
        "calls_per_s": float(rate.group(1)),
        "p50_ms": int(p50.group(1)) / 1000,
        "p99_ms": int(p99.group(1)) / 1000,
        "errors": int(errors.group(1)) + (int(non2xx.group(1)) if non2xx else 0),
    }


def check_answer(base: str) -> None:
    """One real call first: the demo must permit this request (else the figures mean nothing)."""
    request = urllib.request.Request(
        f"{base}/api/v1/decisions",
        data=json.dumps(REQUEST).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SYSTEM_TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.load(response)
    if answer["effect"] != "permit":
        raise SystemExit(f"the benchmark request was not permitted: {answer['explanation']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    data = Path(tempfile.mkdtemp(prefix="glazenstad-http-"))
    env = {**os.environ, "GLAZENSTAD_DATA_DIR": str(data)}
    if args.database_url:
        env["GLAZENSTAD_DATABASE_URL"] = args.database_url
    subprocess.run(
        [BIN / "glazenstad", "demo", "--no-serve"], env=env, check=True, capture_output=True
    )
    port = free_port()
    server = subprocess.Popen(
        [BIN / "glazenstad", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Start-up (imports, migrations) takes seconds, more on a busy machine.
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/v1/organisations", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit(f"glazenstad serve exited with {server.returncode}") from None
                if time.monotonic() > deadline:
                    raise SystemExit("glazenstad serve did not answer within 120 s") from None
                time.sleep(0.1)
        check_answer(base)
        single_script = data / "single.lua"
        single_script.write_text(lua(REQUEST))
        batch_script = data / "batch.lua"
        batch_script.write_text(lua({"requests": [REQUEST] * args.batch}))
        single = run_wrk(f"{base}/api/v1/decisions", single_script, args.seconds, args.connections)
        batch = run_wrk(
            f"{base}/api/v1/decisions/batch", batch_script, args.seconds, args.connections
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"HTTP decisions, one uvicorn process, {backend} decision log, wrk -t2 "
        f"-c{args.connections} -d{args.seconds}s"
    )
    print(f"{'call':<22}{'calls/s':>10}{'decisions/s':>14}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, figures, per_call in (
        ("single", single, 1),
        (f"batch of {args.batch}", batch, args.batch),
    ):
        print(
            f"{name:<22}{figures['calls_per_s']:>10.0f}"
            f"{figures['calls_per_s'] * per_call:>14.0f}{figures['p50_ms']:>9.2f}"
            f"{figures['p99_ms']:>9.2f}{figures['errors']:>8.0f}"
        )


if __name__ == "__main__":
    main()
