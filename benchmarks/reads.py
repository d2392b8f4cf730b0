"""Resident reads at volume: p50/p99 of the read endpoint at 1, 10 and 50 million stored records.

    .venv/bin/python -m benchmarks.reads [--read-levels 1000000,10000000,50000000]
        [--reads 500] [--postgres postgresql://postgres@127.0.0.1:5432/test]
        [--spare-gb 15] [--smoke]

What grows with a municipality's logbook is what every resident read must search through. This
benchmark fills one fresh PostgreSQL database (created and dropped here, also when the run fails
or is stopped with SIGTERM) with the demo municipality's register and generated log records, level
by level, and at each level starts `glazenstad serve` and asks `POST
/api/v1/logboek/processing-activities` for one resident's records at a time, through HTTP as a
client would (each read is itself logged, a write, as in production).

The fill runs inside PostgreSQL (`INSERT … SELECT` over `generate_series`), because generating
tens of millions of rows in Python takes hours. The rows look like what the writers store:

- six processing activities of the demo register (parking enforcement by scan car most often,
  then permits, taxes, the civil register, waste collection and social support), each with its
  register version, name, resource and application attributes (`scan.zone`, an outcome, ...);
- start times spread over the past year (so over thirteen monthly partitions), random trace and
  span ids, the key table `log_record_key` filled by its trigger as for every insert;
- about twenty records per resident: the rows added for a level go to `level / 20` residents
  at random. The residents asked for at a level are a thousand drawn from those that first
  appear at that level (so each has 16 to 20 records: `20 × (1 - before / level)`) and carry
  their real keyed-hash pseudonym (of a generated BSN), so the read finds them as it would find
  a resident; every other resident gets a pseudonym of the same form from a plain hash of its
  number;
- `prev_hash`/`record_hash` link row to row, but the hashes are not over the rows' content, so
  `glazenstad logbook verify` would report the chain broken. Verification is measured in
  `benchmarks.logbook`; here only the read path counts.

The indexes of log_record and the keys of log_record_key are dropped for the fill (the key
trigger is off; the new rows' keys are copied in one statement afterwards) and built again before
each read phase, as a restore would; the tables are analysed and a checkpoint is taken before
the reads.

Before each level the disk is checked: a level whose estimated size (from the size per record so
far) would leave less than `--spare-gb` free is measured at the largest whole million that fits
instead, and the run says so and stops there.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import Engine

from benchmarks.logbook import (
    KEY,
    ORG,
    REGISTER,
    Database,
    Server,
    bsn,
    checkpoint,
    read_latency,
)
from glazenstad.db.engine import make_engine, migrate
from glazenstad.logbook import partitions
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.tables import DEFAULT_PARTITION
from glazenstad.register.loader import load_register
from glazenstad.register.model import KIND_ACTIVITY, entry_uri
from glazenstad.register.store import RegisterStore

RECORDS_PER_RESIDENT = 20
SAMPLE = 1000
CHUNK = 500_000
FILLERS = 2
DAY_MS = 86_400_000
# (activity id in the demo register, record name, share in ‰, application attributes as SQL over
# the series number g). Shares after parking: what a municipality's systems log most.
ACTIVITIES: list[tuple[str, str, int, str]] = [
    (
        "parkeerhandhaving-scanauto",
        "Scanauto controleert parkeerrecht",
        550,
        "json_build_object('scan.zone', 'zone-' || mod(g, 12), "
        "'glazenstad.retention_outcome', "
        "CASE WHEN mod(g, 2) = 0 THEN 'betaald' ELSE 'naheffing' END)",
    ),
    (
        "parkeervergunningen",
        "Parkeervergunning beoordelen",
        100,
        "json_build_object('zaak.type', 'parkeervergunning', 'zaak.status', 'afgehandeld')",
    ),
    (
        "gemeentelijke-belastingen",
        "Aanslag gemeentelijke belastingen opleggen",
        120,
        "json_build_object('belasting.soort', CASE WHEN mod(g, 3) = 0 THEN 'afvalstoffenheffing' "
        "ELSE 'ozb' END, 'belasting.jaar', 2026)",
    ),
    (
        "brp-bijhouding",
        "Persoonslijst raadplegen",
        130,
        "json_build_object('brp.handeling', CASE WHEN mod(g, 4) = 0 THEN 'verhuizing' "
        "ELSE 'raadpleging' END)",
    ),
    (
        "afvalinzameling",
        "Containerpas registreren",
        60,
        "json_build_object('container.fractie', "
        "CASE WHEN mod(g, 2) = 0 THEN 'rest' ELSE 'gft' END)",
    ),
    (
        "wmo-maatwerkvoorziening",
        "Wmo-aanvraag behandelen",
        40,
        "json_build_object('zaak.type', 'wmo-maatwerk', 'zaak.fase', 'onderzoek')",
    ),
]
# Dropped while filling and built again before reading (as a restore does): every index of
# log_record and both keys of log_record_key, whose trigger is off while filling; the keys of the
# new rows are copied in one statement afterwards.
INDEXES: list[tuple[str, str]] = [
    (
        "ALTER TABLE log_record DROP CONSTRAINT pk_log_record",
        "ALTER TABLE log_record ADD CONSTRAINT pk_log_record PRIMARY KEY (id, start_time_ms)",
    ),
    (
        "DROP INDEX ix_log_record_chain",
        "CREATE INDEX ix_log_record_chain ON log_record "
        "(organisation_id, chain_partition, sequence)",
    ),
    (
        "DROP INDEX ix_log_record_trace",
        "CREATE INDEX ix_log_record_trace ON log_record (organisation_id, trace_id, span_id)",
    ),
    (
        "DROP INDEX ix_log_record_subject",
        "CREATE INDEX ix_log_record_subject ON log_record (data_subject_pseudonym, start_time_ms)",
    ),
    (
        "DROP INDEX ix_log_record_activity",
        "CREATE INDEX ix_log_record_activity "
        "ON log_record (organisation_id, processing_activity_id, start_time_ms)",
    ),
    (
        "ALTER TABLE log_record_key DROP CONSTRAINT uq_log_record_trace",
        "ALTER TABLE log_record_key ADD CONSTRAINT uq_log_record_trace "
        "PRIMARY KEY (organisation_id, trace_id, span_id)",
    ),
    (
        "ALTER TABLE log_record_key DROP CONSTRAINT uq_log_record_chain",
        "ALTER TABLE log_record_key ADD CONSTRAINT uq_log_record_chain "
        "UNIQUE (organisation_id, chain_partition, sequence)",
    ),
    (
        "ALTER TABLE log_record DISABLE TRIGGER log_record_key_insert",
        "ALTER TABLE log_record ENABLE TRIGGER log_record_key_insert",
    ),
]


def fake_pseudonym_sql(number: str) -> str:
    """A pseudonym of the stored form (`kid:` and 64 hex) for residents nobody asks for."""
    kid = KEY.split(":", 1)[0]
    return f"'{kid}:' || encode(sha256(('resident-' || {number})::bytea), 'hex')"


def record_hash_sql(sequence: str) -> str:
    return f"encode(sha256(('record-' || {sequence})::bytea), 'hex')"


def activity_rows(engine: Engine) -> list[tuple[int, str, int, str, int, str]]:
    """(index, uri, version, name, share, attributes SQL) of the activities the fill uses."""
    store = RegisterStore(engine)
    rows = []
    for index, (activity, name, share, attributes) in enumerate(ACTIVITIES):
        uri = entry_uri(f"https://register.{ORG}.example", KIND_ACTIVITY, activity)
        version = store.by_uri_as_of(uri, datetime.now(UTC))
        if version is None:
            raise SystemExit(f"the demo register has no activity {activity}")
        rows.append((index, uri, version.version, name, share, attributes))
    return rows


def prepare(engine: Engine, database: Database) -> None:
    """Monthly partitions for the past year and the fill's helper tables."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        existing = {p.name for p in partitions.partitions(conn)}
        year, month = now.year - 1, now.month
        for _ in range(13):
            if partitions.partition_name(year, month) not in existing:
                partitions.create_month(conn, year, month)
            year, month = partitions.next_month(year, month)
    with psycopg.connect(admin_url(database), autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_sample (resident bigint PRIMARY KEY, pseudonym text)")
        conn.execute(
            "CREATE TABLE bench_activity (k int PRIMARY KEY, uri text, version int, "
            "name text, lower_share int, upper_share int)"
        )


def build_indexes(database: Database, after: int) -> float:
    """Copies the keys of the records after sequence `after`, builds every index; seconds."""
    started = time.perf_counter()
    with psycopg.connect(admin_url(database), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute(
            "INSERT INTO log_record_key "
            "SELECT organisation_id, trace_id, span_id, chain_partition, sequence "
            "FROM log_record WHERE sequence > %s",
            (after,),
        )
        for _, create in INDEXES:
            conn.execute(create)
        conn.execute("ANALYZE log_record")
        conn.execute("ANALYZE log_record_key")
    return time.perf_counter() - started


def drop_indexes(database: Database) -> None:
    with psycopg.connect(admin_url(database), autocommit=True) as conn:
        for drop, _ in INDEXES:
            conn.execute(drop)


def admin_url(database: Database) -> str:
    """A libpq URL of the benchmark database itself."""
    assert database.admin is not None and database.name is not None
    return database.admin.rsplit("/", 1)[0] + f"/{database.name}"


def sample_residents(lower: int, upper: int, rng: random.Random) -> dict[int, str]:
    """A thousand residents of [lower, upper): number → generated BSN (kept in memory only)."""
    numbers = rng.sample(range(lower, upper), min(SAMPLE, upper - lower))
    return {n: bsn(n) for n in numbers}


def fill(
    database: Database,
    activities: list[tuple[int, str, int, str, int, str]],
    level: int,
    sample: dict[int, str],
) -> tuple[int, float]:
    """Adds records up to `level` stored, continuing the chain; its sequence before, seconds.

    The series number is the chain sequence; the reads of the level before logged records of
    their own, so the chain goes on from its head. Chunks are inserted by `FILLERS` connections
    at once.
    """
    pseudonymizer = Pseudonymizer.from_config(KEY)
    residents = max(level // RECORDS_PER_RESIDENT, 1)
    now_ms = int(time.time() * 1000)
    started = time.perf_counter()
    with psycopg.connect(admin_url(database), autocommit=True) as conn:
        head = conn.execute(
            "SELECT last_sequence, last_hash FROM log_chain_head "
            "WHERE organisation_id = %s AND chain_partition = %s",
            (ORG, DEFAULT_PARTITION),
        ).fetchone()
        sequence, prev = (int(head[0]), str(head[1])) if head else (0, "0" * 64)
        stored = conn.execute("SELECT count(*) FROM log_record").fetchone()
        assert stored is not None
        end = sequence + level - int(stored[0])
        with conn.cursor() as cursor, cursor.copy("COPY bench_sample FROM STDIN") as copy:
            for number, subject in sample.items():
                copy.write_row((number, pseudonymizer.pseudonym(ORG, "BSN", subject)))
        conn.execute("TRUNCATE bench_activity")
        share = 0
        for index, uri, version, name, part, _ in activities:
            conn.execute(
                "INSERT INTO bench_activity VALUES (%s, %s, %s, %s, %s, %s)",
                (index, uri, version, name, share, share + part),
            )
            share += part
        attributes = "CASE a.k " + " ".join(
            f"WHEN {index} THEN ({sql})::text" for index, *_, sql in activities
        )
        attributes += " END"
        statement = f"""
            INSERT INTO log_record (
              organisation_id, chain_partition, sequence, trace_id, span_id, parent_span_id,
              name, start_time_ms, end_time_ms, status, processing_activity_id,
              activity_known, activity_version, data_subject_pseudonym, data_subject_id_type,
              processor, resource, attributes, received_at, prev_hash, record_hash)
            SELECT %(org)s, %(chain)s, g, md5(random()::text || g),
              substr(md5(g || random()::text), 1, 16), NULL,
              a.name, s.start, s.start + 3 + mod(g, 40), 'Ok', a.uri,
              true, a.version, coalesce(b.pseudonym, {fake_pseudonym_sql("s.resident")}),
              'BSN', NULL,
              json_build_object('attributes', json_build_object(
                'service.name', split_part(a.uri, '/', 5), 'service.version', '2.4.1')),
              ({attributes})::json,
              to_timestamp((s.start + 400 + mod(g, 900)) / 1000.0),
              CASE WHEN g = %(after)s + 1 THEN %(prev)s ELSE {record_hash_sql("g - 1")} END,
              {record_hash_sql("g")}
            FROM generate_series(%(first)s::bigint, %(last)s::bigint) g
            CROSS JOIN LATERAL (SELECT
              %(now)s::bigint - (random() * %(year)s)::bigint AS start,
              (random() * %(residents)s)::bigint %% %(residents)s AS resident,
              (hashint8(g) & 2147483647) %% 1000 AS permille
            ) s
            JOIN bench_activity a ON s.permille >= a.lower_share AND s.permille < a.upper_share
            LEFT JOIN bench_sample b ON b.resident = s.resident
            """
        params = {
            "org": ORG,
            "chain": DEFAULT_PARTITION,
            "now": now_ms,
            "year": 365 * DAY_MS,
            "residents": residents,
            "after": sequence,
            "prev": prev,
        }
        url = admin_url(database)

        def insert(first: int) -> int:
            last = min(first + CHUNK - 1, end)
            with psycopg.connect(url, autocommit=True) as filler:
                filler.execute(statement, {**params, "first": first, "last": last})
            return last - first + 1

        done = 0
        pool = ThreadPoolExecutor(FILLERS)
        try:
            for rows in pool.map(insert, range(sequence + 1, end + 1, CHUNK)):
                done += rows
                print(f"    filled {done:,} records", end="\r", flush=True)
        finally:
            # Stopped or failed: no further chunks (the database drop ends the running ones).
            pool.shutdown(wait=False, cancel_futures=True)
        conn.execute(
            """
            INSERT INTO log_chain_head (organisation_id, chain_partition, last_sequence,
              last_hash, updated_at)
            VALUES (%s, %s, %s, """
            + record_hash_sql("%s::bigint")
            + """, now())
            ON CONFLICT (organisation_id, chain_partition) DO UPDATE
              SET last_sequence = excluded.last_sequence, last_hash = excluded.last_hash,
                  updated_at = excluded.updated_at
            """,
            (ORG, DEFAULT_PARTITION, end, end),
        )
    print()
    return sequence, time.perf_counter() - started


def database_bytes(database: Database) -> int:
    with psycopg.connect(admin_url(database)) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        assert row is not None
        return int(row[0])


def records_of_sample(database: Database) -> float:
    """Mean records per asked-for resident (about twenty by construction; measured, not assumed)."""
    with psycopg.connect(admin_url(database)) as conn:
        row = conn.execute(
            "SELECT count(*)::float / greatest((SELECT count(*) FROM bench_sample), 1) "
            "FROM log_record r JOIN bench_sample b ON b.pseudonym = r.data_subject_pseudonym"
        ).fetchone()
        assert row is not None
        return float(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--read-levels", default="1000000,10000000,50000000")
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--spare-gb", type=float, default=15.0)
    parser.add_argument("--smoke", action="store_true", help="Two tiny levels.")
    args = parser.parse_args()
    if args.smoke:
        args.read_levels, args.reads = "20000,60000", 20
    levels = sorted(int(level) for level in args.read_levels.split(",") if level)
    # Stopped with SIGTERM, still drop the database made here (the `finally` clauses run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rng = random.Random(11)
    workdir = Path(tempfile.mkdtemp(prefix="glazenstad-reads-"))
    database = Database.create("postgresql", args.postgres, workdir)
    results: list[tuple[int, float, float, float, int, float, float]] = []
    stopped = ""
    try:
        engine = make_engine(database.url)
        migrate(engine)
        load_register(engine, REGISTER, loaded_by="benchmark", approved_by="benchmark-approver")
        activities = activity_rows(engine)
        prepare(engine, database)
        engine.dispose()
        have, per_record = 0, 0.0
        for level in levels:
            free = shutil.disk_usage("/").free
            if per_record:
                # The indexes are dropped and built again, so the whole level at the size per
                # record so far must fit in what is free plus what is stored, with a margin for
                # the WAL and the sorts of the index builds (per partition, so small).
                room = free - args.spare_gb * 1e9 - 2e9
                fits = int((room / per_record + have) * 0.95)
                if fits < level:
                    fits = fits // 1_000_000 * 1_000_000
                    stopped = (
                        f"{level:,} records do not fit ({per_record:.0f} bytes per record, "
                        f"{free / 1e9:.0f} GB free, {args.spare_gb:.0f} GB kept free): "
                        + (f"measured at {fits:,} instead" if fits > have else "not measured")
                    )
                    print(stopped)
                    if fits <= have:
                        break
                    level = fits
            drop_indexes(database)
            sample = sample_residents(
                have // RECORDS_PER_RESIDENT if have else 0,
                level // RECORDS_PER_RESIDENT,
                rng,
            )
            print(f"filling to {level:,} records …")
            with psycopg.connect(admin_url(database), autocommit=True) as conn:
                conn.execute("TRUNCATE bench_sample")
            after, fill_s = fill(database, activities, level, sample)
            print(f"    {level - have:,} records in {fill_s:.0f} s; building indexes …")
            index_s = build_indexes(database, after)
            have = level
            size = database_bytes(database)
            per_record = size / level
            per_resident = records_of_sample(database)
            checkpoint(database)
            server = Server(database, workdir, 1)
            try:
                read_latency(server, list(sample.values())[:20], 20)  # warm the process up
                p50, p99 = read_latency(server, list(sample.values()), args.reads)
            finally:
                server.stop()
            load = os.getloadavg()[0]
            results.append((level, p50, p99, per_resident, size, index_s, load))
            print(
                f"at {level:,} records ({size / 1e9:.1f} GB, {per_record:.0f} bytes/record, "
                f"{per_resident:.1f} records per resident asked): p50 {p50:.1f} ms, "
                f"p99 {p99:.1f} ms (indexes built in {index_s:.0f} s, load {load:.2f})"
            )
            if stopped:
                break
    finally:
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(f"{args.reads} resident reads per level, one server process, {os.cpu_count()} cores")
    print("records        size GB  recs/resident  p50 ms  p99 ms  p99/first  load")
    for level, p50, p99, per_resident, size, _, load in results:
        ratio = p99 / results[0][2]
        print(
            f"{level:>12,}  {size / 1e9:7.1f}  {per_resident:13.1f}  {p50:6.1f}  {p99:6.1f}"
            f"  {ratio:9.2f}  {load:4.2f}"
        )
    if stopped:
        print(stopped)


if __name__ == "__main__":
    main()
