"""The logbook at volume: acknowledged ingest, the raw-insert floor, resident reads, verify.

    .venv/bin/python -m benchmarks.logbook [--records 400000] [--batch 1000] [--clients 4]
        [--workers 2] [--read-levels 1000000,10000000] [--databases sqlite,postgresql]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--smoke]

For each database (a fresh SQLite file, a fresh PostgreSQL database created and dropped here):

1. *Ingest*: starts `glazenstad serve --workers N` with the demo municipality's register and
   sends pre-built batches of LDV records from several client threads, first as JSON to
   `POST /api/v1/logboek/records`, then as OTLP protobuf to `POST /v1/traces`. Pseudonyms and
   hash chaining are on, as always; a record counts only when the server acknowledged it (its
   answer is sent after the commit). Random trace and span ids and 100,000 residents, as in life.
2. *Floor*: the rows the server stored, read back, bulk-inserted with the same batch size into a
   fresh database with the same schema on one connection (PostgreSQL `COPY`, SQLite
   `executemany`), each batch committed: what the database alone can take. Ratio = ingest/floor.
3. *Verify*: `glazenstad logbook verify`'s work over everything stored; seconds per million.
   Then *retention* with the clock two days on: the paid half of the scans (24 hours) is
   deleted with receipts, records examined per second, and verify must still pass.
4. *Resident reads* (PostgreSQL; SQLite at the first level only): the table is filled to each
   level with generated chained rows (about 20 records per resident), then one resident at a
   time asks `POST /api/v1/logboek/processing-activities` for their records; p50/p99 latency.
   Each read is itself logged (a write), as in production.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url

from glazenstad.db.engine import make_engine, migrate
from glazenstad.logbook.chain import content_digest, json_text, link, timestamp_text
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.retention import apply_retention
from glazenstad.logbook.store import COLUMNS, COPY_SQL, INSERT_SQL, sqlite_timestamp
from glazenstad.logbook.tables import DEFAULT_PARTITION, GENESIS_HASH, log_chain_head, log_record
from glazenstad.logbook.verify import verify
from glazenstad.register.loader import load_register
from glazenstad.register.model import KIND_ACTIVITY, entry_uri
from glazenstad.register.store import RegisterStore

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REGISTER = ROOT / "demo" / "register"
ORG = "voorbeeldstad"
AUTHORIZATION = "Bearer demo-system-voorbeeldstad"  # demo/systems.yaml: scope logbook:write
ACTIVITY_ID = "parkeerhandhaving-scanauto"
# A benchmark-only key (random per run), so the run also works where the demo key is refused.
KEY = "bench:" + __import__("base64").b64encode(os.urandom(32)).decode()
RESIDENTS = 100_000
RESOURCE = {"service.name": "scanauto", "service.version": "2.4.1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bsn(n: int) -> str:
    """A nine-digit number passing the BSN eleven-test, from the resident's number."""
    base = f"{10_000_000 + n % 89_999_999:08d}"
    total = sum(int(d) * w for d, w in zip(base, range(9, 1, -1), strict=True))
    for last in range(10):
        if (total - last) % 11 == 0:
            return base + str(last)
    return bsn(n + 90_000_000)  # no check digit fits: take the next number


@dataclass
class Database:
    kind: str
    url: str
    admin: str | None = None
    name: str | None = None

    @classmethod
    def create(cls, kind: str, postgres: str, workdir: Path) -> Database:
        if kind == "sqlite":
            return cls(kind, f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.sqlite3'}")
        name = f"glazenstad_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = make_url(postgres).set(drivername="postgresql+psycopg", database=name)
        return cls(kind, url.render_as_string(hide_password=False), postgres, name)

    def drop(self) -> None:
        if self.admin and self.name:
            with psycopg.connect(self.admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Server:
    """`glazenstad serve` in its own process(es), on a free loopback port."""

    def __init__(self, database: Database, workdir: Path, workers: int) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "GLAZENSTAD_DATABASE_URL": database.url,
            "GLAZENSTAD_DATA_DIR": str(workdir),
            "GLAZENSTAD_PSEUDONYM_KEYS": KEY,
        }
        self.process = subprocess.Popen(
            [BIN / "glazenstad", "serve", "--port", str(self.port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url("/api/v1/organisations"), timeout=1)
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    err = self.process.stderr.read().decode() if self.process.stderr else ""
                    raise SystemExit(f"the server did not start:\n{err}") from None
                time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def activity_uri() -> str:
    return entry_uri(f"https://register.{ORG}.example", KIND_ACTIVITY, ACTIVITY_ID)


def record_batches(count: int, batch: int, rng: random.Random) -> Iterator[list[dict[str, Any]]]:
    uri = activity_uri()
    now = int(time.time() * 1000)
    for start in range(0, count, batch):
        records = []
        for i in range(start, min(start + batch, count)):
            begin = now + rng.randrange(60_000)  # after the register was loaded
            records.append(
                {
                    "trace_id": rng.randbytes(16).hex(),
                    "span_id": rng.randbytes(8).hex(),
                    "name": "Scanauto controleert parkeerrecht",
                    "start_time": begin,
                    "end_time": begin + 3,
                    "status": "Ok",
                    "resource": {"attributes": RESOURCE},
                    "attributes": {
                        "dpl.core.processing_activity_id": uri,
                        "dpl.core.data_subject_id": bsn(rng.randrange(RESIDENTS)),
                        "dpl.core.data_subject_id_type": "BSN",
                        "scan.zone": f"zone-{i % 12}",
                        # Half the scans were paid for: kept 24 hours (the register's rule).
                        **({"glazenstad.retention_outcome": "betaald"} if i % 2 else {}),
                    },
                }
            )
        yield records


def json_bodies(count: int, batch: int, rng: random.Random) -> list[bytes]:
    return [
        json.dumps({"organisationId": ORG, "records": records}).encode()
        for records in record_batches(count, batch, rng)
    ]


def _value(value: Any) -> AnyValue:
    return AnyValue(string_value=value)


def otlp_bodies(count: int, batch: int, rng: random.Random) -> list[bytes]:
    bodies = []
    for records in record_batches(count, batch, rng):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        for key, value in RESOURCE.items():
            resource_spans.resource.attributes.append(KeyValue(key=key, value=_value(value)))
        scope = resource_spans.scope_spans.add()
        for record in records:
            span = scope.spans.add()
            span.trace_id = bytes.fromhex(record["trace_id"])
            span.span_id = bytes.fromhex(record["span_id"])
            span.name = record["name"]
            span.start_time_unix_nano = record["start_time"] * 1_000_000
            span.end_time_unix_nano = record["end_time"] * 1_000_000
            span.status.code = 1
            for key, value in record["attributes"].items():
                span.attributes.append(KeyValue(key=key, value=_value(value)))
        bodies.append(request.SerializeToString())
    return bodies


def send_all(
    server: Server, path: str, bodies: list[bytes], clients: int, content_type: str
) -> tuple[float, int]:
    """Post every body from `clients` threads; (seconds, records acknowledged)."""
    queue = list(reversed(bodies))
    lock = threading.Lock()
    acknowledged = [0]
    failures: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        headers = {
            "Content-Type": content_type,
            "Glazenstad-Organisation": ORG,
            "Authorization": AUTHORIZATION,
        }
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            if response.status != 200:
                failures.append(f"{response.status}: {answer[:300]!r}")
                continue
            # OTLP answers only what it rejected: its stored count is taken from the database.
            count = int(json.loads(answer)["accepted"]) if content_type == "application/json" else 0
            with lock:
                acknowledged[0] += count
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} batches failed, first: {failures[0]}")
    return elapsed, acknowledged[0]


def checkpoint(database: Database) -> None:
    """Start each timed phase on PostgreSQL with its dirty pages written and a fresh checkpoint.

    Otherwise a checkpoint forced by the previous phase's WAL lands in the next one and makes it
    write every page it first touches in full: the phases would not be comparable.
    """
    if database.kind == "postgresql":
        with psycopg.connect(database.admin or "", autocommit=True) as conn:
            conn.execute("CHECKPOINT")


def stored_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM log_record")).scalar_one())


def bulk_insert(raw: Any, kind: str, rows: list[Any]) -> None:
    """The raw bulk insert the floor measures: the writer's COPY, or one executemany."""
    if kind == "postgresql":
        with raw.driver_connection.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        cursor = raw.cursor()
        cursor.executemany(INSERT_SQL, rows)
        cursor.close()


def floor(source: Engine, target: Database, batch: int, before: Callable[[], None]) -> float:
    """Rows/s of a raw bulk insert of the stored rows into a fresh database, batch by batch."""
    target_engine = make_engine(target.url)
    migrate(target_engine)
    query = select(*[log_record.c[name] for name in COLUMNS]).order_by(log_record.c.id)
    with source.connect() as conn:
        rows = [list(r) for r in conn.execute(query)]
    for row in rows:  # as the writer hands them to the driver
        row[16] = json_text(row[16])
        row[17] = json_text(row[17])
        if target.kind == "sqlite":
            row[11] = int(row[11])
            row[18] = sqlite_timestamp(row[18])
    batches = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    raw: Any = target_engine.raw_connection()
    before()
    try:
        started = time.perf_counter()
        for chunk in batches:
            bulk_insert(raw, target.kind, chunk)
            raw.commit()
        elapsed = time.perf_counter() - started
    finally:
        raw.close()
        target_engine.dispose()
    return len(rows) / elapsed


def fill(engine: Engine, kind: str, up_to: int, rng: random.Random) -> dict[int, str]:
    """Generated chained rows up to `up_to` records; returns resident number → BSN of some."""
    pseudonymizer = Pseudonymizer.from_config(KEY)
    uri = activity_uri()
    version = RegisterStore(engine).by_uri_as_of(uri, datetime.now(UTC))
    assert version is not None
    with engine.connect() as conn:
        head = conn.execute(
            select(log_chain_head.c.last_sequence, log_chain_head.c.last_hash).where(
                log_chain_head.c.organisation_id == ORG,
                log_chain_head.c.chain_partition == DEFAULT_PARTITION,
            )
        ).first()
    sequence, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS_HASH)
    have = stored_count(engine)
    residents = max(RESIDENTS, up_to // 20)
    received = datetime.now(UTC)
    received_text = timestamp_text(received)
    stamp: Any = sqlite_timestamp(received) if kind == "sqlite" else received
    resource_json = json_text({"attributes": RESOURCE})
    attributes_json = "{}"
    pseudonyms: dict[int, str] = {}
    sample: dict[int, str] = {}
    raw: Any = engine.raw_connection()
    now = int(time.time() * 1000)
    # Filling millions of rows key by key into the random-key indexes takes PostgreSQL hours at
    # its default buffer size; building those indexes once afterwards takes minutes. (Only the
    # fill does this: the ingest figures above are measured with every index in place.) On
    # PostgreSQL the idempotency key lives in log_record_key (migration 0014, ADR 14), with a
    # plain index of the same columns on the partitioned log_record.
    rebuild = kind == "postgresql" and up_to - have > 1_000_000
    if rebuild:
        with raw.driver_connection.cursor() as cursor:
            cursor.execute("ALTER TABLE log_record_key DROP CONSTRAINT uq_log_record_trace")
            cursor.execute("DROP INDEX ix_log_record_trace")
            cursor.execute("DROP INDEX ix_log_record_subject")
        raw.commit()
    try:
        while have < up_to:
            rows = []
            for _ in range(min(50_000, up_to - have)):
                resident = rng.randrange(residents)
                pseudonym = pseudonyms.get(resident)
                if pseudonym is None:
                    subject = bsn(resident)
                    pseudonym = pseudonyms[resident] = pseudonymizer.pseudonym(ORG, "BSN", subject)
                    if len(sample) < 1000:
                        sample[resident] = subject
                start = now - rng.randrange(365 * 86_400_000)
                trace, span = rng.randbytes(16).hex(), rng.randbytes(8).hex()
                digest = content_digest(
                    True,
                    version.version,
                    attributes_json,
                    "BSN",
                    pseudonym,
                    start + 3,
                    "Scanauto controleert parkeerrecht",
                    ORG,
                    None,
                    uri,
                    None,
                    received_text,
                    resource_json,
                    span,
                    start,
                    "Ok",
                    trace,
                )
                sequence += 1
                record = link(digest, DEFAULT_PARTITION, sequence, prev)
                rows.append(
                    (
                        ORG,
                        DEFAULT_PARTITION,
                        sequence,
                        trace,
                        span,
                        None,
                        "Scanauto controleert parkeerrecht",
                        start,
                        start + 3,
                        "Ok",
                        uri,
                        1 if kind == "sqlite" else True,
                        version.version,
                        pseudonym,
                        "BSN",
                        None,
                        resource_json,
                        attributes_json,
                        stamp,
                        prev,
                        record,
                    )
                )
                prev = record
            bulk_insert(raw, kind, rows)
            raw.commit()
            have += len(rows)
            print(f"    filled {have:,} records", end="\r", flush=True)
        with engine.begin() as conn:
            moved = conn.execute(
                log_chain_head.update()
                .where(
                    log_chain_head.c.organisation_id == ORG,
                    log_chain_head.c.chain_partition == DEFAULT_PARTITION,
                )
                .values(last_sequence=sequence, last_hash=prev, updated_at=received)
            )
            if moved.rowcount == 0:  # a fresh logbook: its chain starts here
                conn.execute(
                    log_chain_head.insert().values(
                        organisation_id=ORG,
                        chain_partition=DEFAULT_PARTITION,
                        last_sequence=sequence,
                        last_hash=prev,
                        updated_at=received,
                    )
                )
        if rebuild:
            print(f"\n    building the trace and subject indexes over {have:,} records")
            with raw.driver_connection.cursor() as cursor:
                cursor.execute("SET maintenance_work_mem = '512MB'")
                cursor.execute(
                    "ALTER TABLE log_record_key ADD CONSTRAINT uq_log_record_trace "
                    "PRIMARY KEY (organisation_id, trace_id, span_id)"
                )
                cursor.execute(
                    "CREATE INDEX ix_log_record_trace "
                    "ON log_record (organisation_id, trace_id, span_id)"
                )
                cursor.execute(
                    "CREATE INDEX ix_log_record_subject "
                    "ON log_record (data_subject_pseudonym, start_time_ms)"
                )
            raw.commit()
        if kind == "postgresql":
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("ANALYZE log_record")
                )
    finally:
        raw.close()
    print()
    return sample


def read_latency(server: Server, subjects: list[str], reads: int) -> tuple[float, float]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    path = f"/api/v1/logboek/processing-activities?organisationId={ORG}&pageSize=100"
    timings = []
    for i in range(reads):
        body = json.dumps({"dpl.core.data_subject_id": subjects[i % len(subjects)]})
        started = time.perf_counter()
        conn.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", "Authorization": AUTHORIZATION},
        )
        response = conn.getresponse()
        answer = response.read()
        timings.append(time.perf_counter() - started)
        if response.status != 200 or not json.loads(answer)["processingActivities"]:
            raise SystemExit(f"read failed: {response.status} {answer[:300]!r}")
    conn.close()
    timings.sort()
    return statistics.median(timings) * 1000, timings[int(len(timings) * 0.99) - 1] * 1000


def run_database(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    rng = random.Random(7)
    figures: dict[str, Any] = {"database": kind}
    database = Database.create(kind, args.postgres, workdir)
    floor_db = Database.create(kind, args.postgres, workdir)
    try:
        engine = make_engine(database.url)
        migrate(engine)
        load_register(engine, REGISTER, loaded_by="benchmark", approved_by="benchmark-approver")
        time.sleep(0.01)
        print(f"[{kind}] building {args.records:,} records twice (JSON, OTLP) …")
        bodies = json_bodies(args.records, args.batch, rng)
        spans = otlp_bodies(args.records, args.batch, rng)
        server = Server(database, workdir, args.workers)
        try:
            checkpoint(database)
            seconds, acknowledged = send_all(
                server, "/api/v1/logboek/records", bodies, args.clients, "application/json"
            )
            if acknowledged != args.records:
                raise SystemExit(f"only {acknowledged:,} of {args.records:,} were accepted")
            figures["http_per_s"] = acknowledged / seconds
            print(f"[{kind}] HTTP JSON: {figures['http_per_s']:,.0f} records/s acknowledged")
            before = stored_count(engine)
            checkpoint(database)
            seconds, _ = send_all(
                server, "/v1/traces", spans, args.clients, "application/x-protobuf"
            )
            stored = stored_count(engine) - before
            if stored != args.records:
                raise SystemExit(f"OTLP stored {stored:,} of {args.records:,}")
            figures["otlp_per_s"] = stored / seconds
            print(f"[{kind}] OTLP protobuf: {figures['otlp_per_s']:,.0f} records/s")
        finally:
            server.stop()
        figures["floor_per_s"] = floor(engine, floor_db, args.batch, lambda: checkpoint(floor_db))
        print(f"[{kind}] floor (raw bulk insert): {figures['floor_per_s']:,.0f} rows/s")
        started = time.perf_counter()
        result = verify(engine)
        elapsed = time.perf_counter() - started
        if not result.ok:
            raise SystemExit(f"verify failed: {result.first_break}")
        figures["verify_s_per_million"] = elapsed / result.records * 1_000_000
        print(f"[{kind}] verify: {figures['verify_s_per_million']:.1f} s per million records")
        started = time.perf_counter()
        report = apply_retention(engine, now=datetime.now(UTC) + timedelta(days=2))
        elapsed = time.perf_counter() - started
        if report.deleted != args.records:  # the paid half of each path
            raise SystemExit(f"retention deleted {report.deleted:,}, expected {args.records:,}")
        figures["retention_per_s"] = report.examined / elapsed
        started = time.perf_counter()
        result = verify(engine)
        if not result.ok:
            raise SystemExit(f"verify after retention failed: {result.first_break}")
        figures["verify_pruned_s"] = time.perf_counter() - started
        print(
            f"[{kind}] retention: examined {report.examined:,} and deleted {report.deleted:,} "
            f"with {len(report.receipts)} receipts in {elapsed:.1f} s "
            f"({figures['retention_per_s']:,.0f} records examined/s); verify after pruning "
            f"{figures['verify_pruned_s']:.1f} s"
        )
        levels = args.read_levels if kind == "postgresql" else args.read_levels[:1]
        figures["reads"] = {}
        for level in levels:
            sample = fill(engine, kind, level, rng)
            server = Server(database, workdir, 1)
            try:
                p50, p99 = read_latency(server, list(sample.values()), args.reads)
            finally:
                server.stop()
            figures["reads"][level] = (p50, p99)
            print(
                f"[{kind}] resident read at {level:,} records: p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            )
        engine.dispose()
    finally:
        database.drop()
        floor_db.drop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument(
        "--read-levels", default="1000000,10000000", help="Stored records; empty for none."
    )
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--smoke", action="store_true", help="A tiny run that checks it works.")
    args = parser.parse_args()
    # Stopped with SIGTERM, still drop the databases made here (the `finally` clauses run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.smoke:
        args.records, args.batch, args.reads, args.read_levels = 2000, 500, 20, "5000"
    args.read_levels = [int(level) for level in args.read_levels.split(",") if level]
    workdir = Path(tempfile.mkdtemp(prefix="glazenstad-logbook-"))
    results = []
    try:
        for kind in args.databases.split(","):
            results.append(run_database(kind, args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(
        f"{args.records:,} records per path, batches of {args.batch}, {args.clients} clients, "
        f"{args.workers} server processes, {os.cpu_count()} cores"
    )
    for f in results:
        ratio = f["http_per_s"] / f["floor_per_s"]
        print(
            f"{f['database']:<10} HTTP {f['http_per_s']:>9,.0f}/s  OTLP {f['otlp_per_s']:>9,.0f}/s"
            f"  floor {f['floor_per_s']:>9,.0f}/s  HTTP/floor {ratio:.2f}"
            f"  OTLP/floor {f['otlp_per_s'] / f['floor_per_s']:.2f}"
            f"  verify {f['verify_s_per_million']:.1f} s/M"
            f"  retention {f['retention_per_s']:,.0f} examined/s"
        )
        for level, (p50, p99) in f["reads"].items():
            print(f"{'':<10} read at {level:>12,}: p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")


if __name__ == "__main__":
    main()
