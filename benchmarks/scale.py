"""Acknowledged ingest through the JetStream queue, and writing it with 1 and 2 writers.

    .venv/bin/python -m benchmarks.scale [--batches 200] [--size 500]
        [--nats nats://127.0.0.1:4222] [--postgres postgresql+psycopg://postgres@127.0.0.1/test]
        [--smoke]

1. *Front*: a front node (the application in process, with GLAZENSTAD_NATS_URL) receives
   `--batches` JSON batches of `--size` records; a batch counts once it is answered 202, that
   is once JetStream stored it. Records per second acknowledged.
2. *Writers*: the queued batches are written by 1, then (queued again) 2 `glazenstad logbook
   writer --until-idle` processes; records per second from their start to the last commit.

Each run uses a stream and a database of its own (a fresh PostgreSQL database when `--postgres`
is given, created and dropped here; otherwise a SQLite file), removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import nats
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, select, text

from glazenstad.db.engine import make_engine
from glazenstad.logbook.tables import log_record
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
REGISTER = ROOT / "tests" / "fixtures" / "register"
SYSTEMS = ROOT / "tests" / "fixtures" / "systems.yaml"
ORG = "teststad"
ACTIVITY = "https://register.teststad.example/processing-activities/parkeren-scanauto"
KEYS = "k2026:MjAyNi1zZWNyZXQtZm9yLXRlc3RzLW9ubHktMDEyMzQ1Njc4OQ=="
CLI = [sys.executable, "-c", "from glazenstad.cli import app; app()"]


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


def front(settings: Settings, batches: list[dict[str, Any]]) -> float:
    """Seconds to have every batch acknowledged (202) by a front node."""
    app = create_app(settings)
    with TestClient(app, headers={"Authorization": "Bearer test-system-teststad"}) as client:
        client.post(
            "/api/v1/logboek/records", json=batch(10**9, 1, batches[0]["records"][0]["start_time"])
        )
        started = time.perf_counter()
        for body in batches:
            response = client.post("/api/v1/logboek/records", json=body)
            assert response.status_code == 202, response.text
        return time.perf_counter() - started


def writers(env: dict[str, str], count: int, engine: Engine, total: int) -> float:
    """Records per second `count` writer processes write, from their first commit to the last.

    Start-up (imports, connecting) is left out: the clock starts when the first queued record
    is in the database, and the records already there then are not counted.
    """
    processes = [
        subprocess.Popen(
            [*CLI, "logbook", "writer", "--until-idle"], env=env, stdout=subprocess.DEVNULL
        )
        for _ in range(count)
    ]
    first: tuple[float, int] | None = None
    while True:
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(log_record)).scalar_one()
        now = time.perf_counter()
        if first is None and stored > 1:  # one record came from the warm-up request
            first = (now, stored)
        if stored >= total or all(p.poll() is not None for p in processes):
            break
        time.sleep(0.01)
    for process in processes:
        assert process.wait(timeout=3600) == 0, "a writer failed"
    assert first is not None and stored == total, f"{stored} stored of {total}"
    return (stored - first[1]) / max(now - first[0], 1e-3)


async def delete_stream(url: str, name: str) -> None:
    client = await nats.connect(url)
    try:
        await client.jetstream().delete_stream(name)
    finally:
        await client.close()


def run(args: argparse.Namespace, workers: int, workdir: Path) -> dict[str, float]:
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
        "GLAZENSTAD_NATS_URL": args.nats,
        "GLAZENSTAD_NATS_LOGBOOK_STREAM": f"GS_BENCH_{tag}",
        "GLAZENSTAD_NATS_LOGBOOK_SUBJECT": f"gs-bench-{tag}.logbook",
        "GLAZENSTAD_NATS_LOGBOOK_CONSUMER": f"writer-{tag}",
    }
    settings = Settings(
        database_url=url,
        data_dir=workdir,
        pseudonym_keys=KEYS,  # type: ignore[arg-type]
        system_clients=SYSTEMS,
        nats_url=args.nats,
        nats_logbook_stream=env["GLAZENSTAD_NATS_LOGBOOK_STREAM"],
        nats_logbook_subject=env["GLAZENSTAD_NATS_LOGBOOK_SUBJECT"],
        nats_logbook_consumer=env["GLAZENSTAD_NATS_LOGBOOK_CONSUMER"],
    )
    engine = make_engine(url)
    try:
        create_app(settings)  # migrates
        load_register(engine, REGISTER, approved_by="bench")
        start_ms = int(time.time() * 1000) + 10
        time.sleep(0.02)
        bodies = [batch(n, args.size, start_ms) for n in range(args.batches)]
        seconds_front = front(settings, bodies)
        records = args.batches * args.size
        written = writers(env, workers, engine, records + 1)
        return {"front": records / seconds_front, "write": written}
    finally:
        engine.dispose()
        asyncio.run(delete_stream(args.nats, env["GLAZENSTAD_NATS_LOGBOOK_STREAM"]))
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "gs_bench_{tag}" WITH (FORCE)'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--smoke", action="store_true", help="A few small batches.")
    args = parser.parse_args()
    if args.smoke:
        args.batches, args.size = 4, 50
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            figures = run(args, workers, Path(tmp))
            print(
                f"writers={workers}  front acknowledged {figures['front']:,.0f} records/s  "
                f"written {figures['write']:,.0f} records/s"
            )


if __name__ == "__main__":
    main()
