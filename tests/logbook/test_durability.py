"""An acknowledged write survives a crash: the logbook answers 200 only after the commit.

The real server runs as its own OS process (`glazenstad serve`). Client threads send batches
without pause; once enough batches are acknowledged the process is killed with SIGKILL while
other batches are in flight, so nothing gets the chance to flush or roll back in an orderly way.
After a restart on the same database every acknowledged record must be there exactly once, the
hash chain must verify, and re-sending everything (as a client that did not get an answer would)
must only add what was lost, never refuse a record or store one twice.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from glazenstad.db.engine import make_engine, migrate
from glazenstad.logbook.tables import log_record
from glazenstad.logbook.verify import verify
from glazenstad.register.loader import load_register
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS, system_token
from tests.logbook.conftest import KEY_2026, ORG, make_record, span_id, trace_id

CLIENTS = 4
BATCH_SIZE = 400
ACKNOWLEDGED_BEFORE_KILL = 12
MAX_BATCHES_PER_CLIENT = 200  # bounds the send loop should the kill never come
START_DEADLINE_S = 30.0
ACK_DEADLINE_S = 60.0
RECORDS_URL = "/api/v1/logboek/records"
READY_URL = f"/api/v1/organisations/{ORG}"

Record = dict[str, Any]
Key = tuple[str, str]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`glazenstad serve` in a child process, configured only through GLAZENSTAD_* variables."""

    def __init__(self, database_url: str, data_dir: Path, name: str) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.stdout_path = data_dir / f"{name}.stdout"
        self.stderr_path = data_dir / f"{name}.stderr"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLAZENSTAD_")}
        env.update(
            GLAZENSTAD_DATABASE_URL=database_url,
            GLAZENSTAD_DATA_DIR=str(data_dir),
            GLAZENSTAD_PSEUDONYM_KEYS=KEY_2026,
            GLAZENSTAD_SYSTEM_CLIENTS=str(TEST_SYSTEMS),
        )
        command = [sys.executable, "-c", "from glazenstad.cli import app; app()", "serve"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            # cwd is the test's own directory so that no stray .env file is read.
            self.process = subprocess.Popen(command, cwd=data_dir, env=env, stdout=out, stderr=err)

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self) -> None:
        """Poll until the API answers with the test organisation, or fail with the server's say."""
        deadline = time.monotonic() + START_DEADLINE_S
        last_error = "no answer yet"
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while True:
                code = self.process.poll()
                if code is not None:
                    pytest.fail(f"the server exited with {code} at start-up:\n{self.stderr()}")
                try:
                    response = client.get(READY_URL)
                    if response.status_code == 200:
                        return
                    last_error = f"HTTP {response.status_code}: {response.text[:500]}"
                except httpx.TransportError as exc:
                    last_error = repr(exc)
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"the server did not answer {READY_URL} within {START_DEADLINE_S:.0f} s "
                        f"({last_error}); its stderr:\n{self.stderr()}"
                    )
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no orderly rollback, open transactions just stop."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


@pytest.fixture
def start_server(database_url: str, tmp_path: Path) -> Iterator[Callable[[], ServerProcess]]:
    """Starts servers on the test's database; every one is killed at teardown, whatever happens."""
    started: list[ServerProcess] = []

    def start() -> ServerProcess:
        server = ServerProcess(database_url, tmp_path, f"server{len(started) + 1}")
        started.append(server)
        server.wait_ready()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.kill()


@dataclass
class Batch:
    number: int
    records: list[Record]

    @property
    def keys(self) -> list[Key]:
        return [(r["trace_id"], r["span_id"]) for r in self.records]


@dataclass
class Acknowledged:
    batch: Batch
    answer: dict[str, Any]


@dataclass
class Traffic:
    """What the clients sent and what the server acknowledged, shared between client threads."""

    acknowledged_target: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    enough: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(0))
    sent: list[Batch] = field(default_factory=list)
    acknowledged: list[Acknowledged] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    crashes: list[BaseException] = field(default_factory=list)

    def new_batch(self) -> Batch:
        with self.lock:
            number = next(self.numbers)
            records = [
                make_record(
                    trace_id=trace_id(number + 1),
                    span_id=span_id(number * BATCH_SIZE + i + 1),
                )
                for i in range(BATCH_SIZE)
            ]
            batch = Batch(number, records)
            self.sent.append(batch)
            return batch

    def client(self, base_url: str) -> None:
        """Send batches until told to stop or the server is gone; an error ends this client."""
        try:
            with httpx.Client(base_url=base_url, timeout=60.0, headers=system_token()) as http:
                for _ in range(MAX_BATCHES_PER_CLIENT):
                    if self.stop.is_set():
                        return
                    batch = self.new_batch()
                    body = {"organisationId": ORG, "records": batch.records}
                    try:
                        response = http.post(RECORDS_URL, json=body)
                    except httpx.TransportError as exc:
                        with self.lock:
                            self.transport_errors.append(f"batch {batch.number}: {exc!r}")
                        return
                    with self.lock:
                        if response.status_code != 200:
                            self.refused.append(
                                f"batch {batch.number}: HTTP {response.status_code} "
                                f"{response.text[:500]}"
                            )
                            return
                        self.acknowledged.append(Acknowledged(batch, response.json()))
                        if len(self.acknowledged) >= self.acknowledged_target:
                            self.enough.set()
        except BaseException as exc:  # surfaced by the test; a thread cannot fail it
            with self.lock:
                self.crashes.append(exc)


def _stored(engine: Engine) -> list[tuple[Key, tuple[str, int]]]:
    """Every stored record of the test organisation as ((trace_id, span_id), (chain, sequence))."""
    t = log_record
    query = select(t.c.trace_id, t.c.span_id, t.c.chain_partition, t.c.sequence).where(
        t.c.organisation_id == ORG
    )
    with engine.connect() as conn:
        return [
            ((r.trace_id, r.span_id), (r.chain_partition, int(r.sequence)))
            for r in conn.execute(query)
        ]


def _keys(stored: list[tuple[Key, tuple[str, int]]]) -> list[Key]:
    return [key for key, _ in stored]


def _assert_chain_verifies(engine: Engine, expected_records: int) -> None:
    result = verify(engine)
    assert result.ok, f"the hash chain is broken: {result.first_break}"
    assert result.records == expected_records


def test_acknowledged_records_survive_sigkill(
    database_url: str, start_server: Callable[[], ServerProcess]
) -> None:
    engine = make_engine(database_url)
    try:
        migrate(engine)
        load_register(engine, TEST_REGISTER, approved_by="test-approver")
        time.sleep(0.002)  # records made "now" start after the register versions were recorded
        _run(engine, start_server)
    finally:
        engine.dispose()


def _run(engine: Engine, start_server: Callable[[], ServerProcess]) -> None:
    first = start_server()
    traffic = Traffic(acknowledged_target=ACKNOWLEDGED_BEFORE_KILL)
    clients = [
        threading.Thread(target=traffic.client, args=(first.base_url,), daemon=True)
        for _ in range(CLIENTS)
    ]
    for thread in clients:
        thread.start()
    reached = traffic.enough.wait(timeout=ACK_DEADLINE_S)
    # No new batch after this point (after the kill another test's server may get the port);
    # the batches already sent are cut off by the kill.
    traffic.stop.set()
    first.kill()
    for thread in clients:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in clients), "a client thread did not finish"
    assert not traffic.crashes, traffic.crashes
    assert not traffic.refused, (
        f"the server refused batches before the kill: {traffic.refused}; "
        f"its stderr:\n{first.stderr()[-5000:]}"
    )
    assert reached, (
        f"only {len(traffic.acknowledged)} batch(es) acknowledged within {ACK_DEADLINE_S:.0f} s "
        f"(client errors: {traffic.transport_errors}); server stderr:\n{first.stderr()}"
    )

    # Fresh, unique records: a 200 means every one of them was committed, in one run of sequences.
    acknowledged: dict[Key, tuple[str, int]] = {}
    for ack in traffic.acknowledged:
        answer = ack.answer
        assert answer["rejected"] == [], (ack.batch.number, answer["rejected"])
        assert answer["accepted"] == BATCH_SIZE and answer["duplicates"] == 0, answer
        assert answer["lastSequence"] - answer["firstSequence"] + 1 == BATCH_SIZE, answer
        for offset, key in enumerate(ack.batch.keys):
            acknowledged[key] = (answer["chainPartition"], answer["firstSequence"] + offset)

    second = start_server()

    rows = _stored(engine)
    stored = _keys(rows)
    assert len(stored) == len(set(stored)), "a record is stored more than once"
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged record(s) lost, e.g. {sorted(missing)[:3]}"
    sequences = dict(rows)
    moved = {k: (s, sequences[k]) for k, s in acknowledged.items() if sequences[k] != s}
    assert not moved, f"acknowledged chain positions changed: {list(moved.items())[:3]}"
    _assert_chain_verifies(engine, len(stored))

    # Re-send everything, as clients without an answer would: only what was lost is added.
    acknowledged_batches = {ack.batch.number for ack in traffic.acknowledged}
    with httpx.Client(base_url=second.base_url, timeout=60.0, headers=system_token()) as http:
        for batch in traffic.sent:
            response = http.post(
                RECORDS_URL, json={"organisationId": ORG, "records": batch.records}
            )
            assert response.status_code == 200, (batch.number, response.text, second.stderr())
            answer = response.json()
            assert answer["rejected"] == [], (batch.number, answer["rejected"])
            assert answer["accepted"] + answer["duplicates"] == BATCH_SIZE, answer
            if batch.number in acknowledged_batches:
                assert answer["duplicates"] == BATCH_SIZE, answer

    sent = {key for batch in traffic.sent for key in batch.keys}
    stored = _keys(_stored(engine))
    assert len(stored) == len(set(stored)), "a re-sent record was stored twice"
    assert set(stored) == sent
    assert len(stored) == len(traffic.sent) * BATCH_SIZE
    _assert_chain_verifies(engine, len(sent))
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(log_record)).scalar_one()
    assert total == len(sent)
