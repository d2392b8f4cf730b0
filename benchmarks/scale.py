"""Acknowledged ingest through JetStream with 1 and 2 front nodes; writing with 1, 2, 4 writers.

    .venv/bin/python -m benchmarks.scale [--batches 200] [--size 500] [--clients 4]
        [--fronts 1,2] [--writers 1,2,4]
        [--nats nats://127.0.0.1:4222] [--postgres postgresql+psycopg://postgres@127.0.0.1/test]
        [--smoke]

For every configuration (front nodes × writers), on a stream and a database of its own (a fresh
PostgreSQL database when `--postgres` is given, created and dropped here; otherwise a SQLite
file), all removed afterwards:

1. *Front*: `--fronts` independent `glazenstad serve` processes (each on its own port, with
   GLAZENSTAD_NATS_URL set) receive `--batches` JSON batches of `--size` records from `--clients`
   client threads, the clients spread evenly over the nodes. A batch counts once it is answered
   202, that is once JetStream stored it. Records per second acknowledged, from the first batch
   sent to the last answer.
2. *Writers*: the queued batches are then written by `--writers` `glazenstad logbook writer
   --until-idle` processes; records per second from the first commit to the last (process
   start-up left out).

The table at the end gives both figures per configuration and the ratios of 2 front nodes to 1
and of 2 and 4 writers to 1. Everything runs on one machine: front nodes, writers, NATS and the
database share its cores, so the ratios show what more processes gain on that machine, not what
they gain on machines of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import nats
from nats.js.errors import NotFoundError
from sqlalchemy import Engine, create_engine, func, select, text

from glazenstad.db.engine import make_engine, migrate
from glazenstad.logbook.tables import log_chain_head
from glazenstad.register.loader import load_register

ROOT = Path(__file__).resolve().parents[1]
REGISTER = ROOT / "tests" / "fixtures" / "register"
SYSTEMS = ROOT / "tests" / "fixtures" / "systems.yaml"
ORG = "teststad"
ACTIVITY = "https://register.teststad.example/processing-activities/parkeren-scanauto"
KEYS = "k2026:MjAyNi1zZWNyZXQtZm9yLXRlc3RzLW9ubHktMDEyMzQ1Njc4OQ=="
AUTHORIZATION = "Bearer test-system-teststad"
CLI = [sys.executable, "-c", "from glazenstad.cli import app; app()"]
PATH = "/api/v1/logboek/records"


def batch(number: int, size: int, start_ms: int) -> dict[str, Any]:
    trace = f"{number + 1:032x}"
    return {
        "organisationId": ORG,
        "records": [
            {
                "trace_id": trace,
                "span_id": f"{i + 1:016x}",
                "name": "Scanauto controleert kenteken",
                "start_time": start_ms,
                "end_time": start_ms + 5,
                "status": "Ok",
                "resource": {"attributes": {"service.name": "scanauto"}},
                "attributes": {
                    "dpl.core.processing_activity_id": ACTIVITY,
                    "dpl.core.data_subject_id": f"{100000000 + (number * size + i) % 99991}",
                    "dpl.core.data_subject_id_type": "BSN",
                },
            }
            for i in range(size)
        ],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FrontNode:
    """One `glazenstad serve` process on a port of its own: an independent front node."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [*CLI, "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/api/v1/organisations", timeout=1
                )
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    err = self.process.stderr.read().decode() if self.process.stderr else ""
                    raise SystemExit(f"a front node did not start:\n{err[-3000:]}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def post(conn: http.client.HTTPConnection, body: bytes) -> None:
    conn.request(
        "POST",
        PATH,
        body=body,
        headers={"Content-Type": "application/json", "Authorization": AUTHORIZATION},
    )
    response = conn.getresponse()
    answer = response.read()
    if response.status != 202:
        raise RuntimeError(f"{response.status}: {answer[:300]!r}")


def front(nodes: list[FrontNode], bodies: list[bytes], clients: int) -> float:
    """Seconds until every batch is acknowledged (202), sent by `clients` threads over the nodes.

    Client i sends every `clients`-th batch, from batch i, to node i mod nodes, on one kept-alive
    connection; the clock runs from when all clients start to the last answer.
    """
    failures: list[BaseException] = []
    start = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        node = nodes[index % len(nodes)]
        conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=120)
        try:
            start.wait()
            for body in bodies[index::clients]:
                post(conn, body)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"a batch was not acknowledged: {failures[0]}")
    return elapsed


def chained(engine: Engine) -> int:
    """Records written: the chain heads' last sequence numbers (no count over the table)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.coalesce(func.sum(log_chain_head.c.last_sequence), 0))
            ).scalar_one()
        )


def writers(env: dict[str, str], count: int, engine: Engine, total: int) -> float:
    """Records per second `count` writer processes write, from their first commit to the last.

    Start-up (imports, connecting) is left out: the clock starts when the first queued record
    is in the database, and the records already there then are not counted.
    """
    before = chained(engine)  # the front nodes' warm-up records, written in process
    processes = [
        subprocess.Popen(
            [*CLI, "logbook", "writer", "--until-idle"], env=env, stdout=subprocess.DEVNULL
        )
        for _ in range(count)
    ]
    first: tuple[float, int] | None = None
    while True:
        stored = chained(engine)
        now = time.perf_counter()
        if first is None and stored > before:
            first = (now, stored)
        if stored >= total or all(p.poll() is not None for p in processes):
            break
        time.sleep(0.02)
    for process in processes:
        assert process.wait(timeout=3600) == 0, "a writer failed"
    assert first is not None and stored == total, f"{stored} stored of {total}"
    return (stored - first[1]) / max(now - first[0], 1e-3)


async def delete_stream(url: str, name: str) -> None:
    client = await nats.connect(url)
    try:
        await client.jetstream().delete_stream(name)
    except NotFoundError:
        pass
    finally:
        await client.close()


def run(args: argparse.Namespace, fronts: int, workers: int, workdir: Path) -> dict[str, float]:
    tag = uuid.uuid4().hex[:10]
    admin = None
    if args.postgres:
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "gs_bench_{tag}"'))
        url = args.postgres.rsplit("/", 1)[0] + f"/gs_bench_{tag}"
    else:
        url = f"sqlite:///{workdir / f'{tag}.sqlite3'}"
    env = {
        **os.environ,
        "GLAZENSTAD_DATABASE_URL": url,
        "GLAZENSTAD_DATA_DIR": str(workdir),
        "GLAZENSTAD_PSEUDONYM_KEYS": KEYS,
        "GLAZENSTAD_SYSTEM_CLIENTS": str(SYSTEMS),
        "GLAZENSTAD_NATS_URL": args.nats,
        "GLAZENSTAD_NATS_LOGBOOK_STREAM": f"GS_BENCH_{tag}",
        "GLAZENSTAD_NATS_LOGBOOK_SUBJECT": f"gs-bench-{tag}.logbook",
        "GLAZENSTAD_NATS_LOGBOOK_CONSUMER": f"writer-{tag}",
    }
    engine = make_engine(url)
    nodes: list[FrontNode] = []
    try:
        migrate(engine)
        load_register(engine, REGISTER, approved_by="bench")
        start_ms = int(time.time() * 1000) + 10
        time.sleep(0.02)
        bodies = [json.dumps(batch(n, args.size, start_ms)).encode() for n in range(args.batches)]
        nodes = [FrontNode(env) for _ in range(fronts)]
        for number, node in enumerate(nodes):
            node.wait_ready()
            # Warm-up (first request, stream created): one record per node, not timed.
            warm = http.client.HTTPConnection("127.0.0.1", node.port, timeout=120)
            post(warm, json.dumps(batch(10**9 + number, 1, start_ms)).encode())
            warm.close()
        seconds_front = front(nodes, bodies, args.clients)
        for node in nodes:
            node.stop()
        records = args.batches * args.size
        written = writers(env, workers, engine, records + fronts)
        return {"front": records / seconds_front, "write": written}
    finally:
        for node in nodes:
            if node.process.poll() is None:
                node.stop()
        engine.dispose()
        asyncio.run(delete_stream(args.nats, env["GLAZENSTAD_NATS_LOGBOOK_STREAM"]))
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "gs_bench_{tag}" WITH (FORCE)'))
            admin.dispose()


def numbers(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--fronts", type=numbers, default=[1, 2])
    parser.add_argument("--writers", type=numbers, default=[1, 2, 4])
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--postgres", default=None)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="A few small batches, 1 front node with 1 writer and 2 with 2.",
    )
    args = parser.parse_args()
    # Stopped with SIGTERM, still stop the nodes and drop what was made (`finally` clauses).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    configurations = [(f, w) for f in args.fronts for w in args.writers]
    if args.smoke:
        args.batches, args.size, args.clients = 4, 50, 2
        configurations = [(1, 1), (2, 2)]
    results: dict[tuple[int, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fronts, workers in configurations:
            figures = run(args, fronts, workers, Path(tmp))
            results[fronts, workers] = figures
            print(
                f"fronts={fronts} writers={workers}  front acknowledged "
                f"{figures['front']:,.0f} records/s  written {figures['write']:,.0f} records/s"
                f"  (load {os.getloadavg()[0]:.2f})",
                flush=True,
            )
    print()
    print(
        f"{args.batches * args.size:,} records per configuration in batches of {args.size}, "
        f"{args.clients} clients, {os.cpu_count()} cores, "
        f"{'PostgreSQL' if args.postgres else 'SQLite'}"
    )
    print("front nodes  writers  acknowledged/s  written/s")
    for (fronts, workers), figures in results.items():
        print(f"{fronts:>11}  {workers:>7}  {figures['front']:>14,.0f}  {figures['write']:>9,.0f}")
    fronts_seen = sorted({f for f, _ in results})
    writers_seen = sorted({w for _, w in results})
    for more in (f for f in fronts_seen if f > 1):
        pairs = [
            (results[more, w], results[1, w])
            for w in writers_seen
            if (1, w) in results and (more, w) in results
        ]
        if pairs:
            mean = sum(a["front"] / b["front"] for a, b in pairs) / len(pairs)
            print(f"acknowledged, {more} front nodes / 1: {mean:.2f}")
    for more in (w for w in writers_seen if w > 1):
        pairs = [
            (results[f, more], results[f, 1])
            for f in fronts_seen
            if (f, 1) in results and (f, more) in results
        ]
        if pairs:
            mean = sum(a["write"] / b["write"] for a, b in pairs) / len(pairs)
            print(f"written, {more} writers / 1: {mean:.2f}")


if __name__ == "__main__":
    main()
