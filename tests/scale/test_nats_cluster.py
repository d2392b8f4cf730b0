"""A three-node JetStream cluster loses a node and a writer under load: nothing acknowledged lost.

The test starts its own three nats-server processes (tests/scale/nats_cluster.py) and queues
log records with three stream replicas, the front node given all three servers. Two client
threads send batches through the front node's HTTP ingest; two `glazenstad logbook writer`
processes write them to a PostgreSQL primary of this test's own, which streams to a replica of
its own (tests/scale/pg_pair.py). During the load one writer process and then the NATS node that
leads the stream get SIGKILL; the load goes on with two nodes and one writer, then the node is
started again.

A client does what a real one should: a 202 is an acknowledgement, a 503 (no quorum while a new
leader is elected) means "send the same batch again", which it does. Afterwards every record
of an acknowledged batch must be in the logbook exactly once, nothing stored twice, the chain
must verify, and the restarted node must have caught up: its own copy of the stream ends where
the leader's does, and the cluster reports its stream and consumer replicas current. The
replica, which residents' reads use, holds the same records and its copy of the chain verifies.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import nats
import pytest
from fastapi.testclient import TestClient
from nats.js import JetStreamContext
from nats.js.api import ClusterInfo
from sqlalchemy import Engine, func, select

from glazenstad.db.engine import make_engine
from glazenstad.logbook.stream import QueueConfig
from glazenstad.logbook.tables import log_record
from glazenstad.logbook.verify import verify
from glazenstad.register.loader import load_register
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS, system_token
from tests.faults.load import wait_until
from tests.faults.support import Service, cli_env
from tests.logbook.conftest import KEY_2026, ORG, make_record
from tests.scale.nats_cluster import NatsCluster, NatsNode, nats_cluster
from tests.scale.pg_pair import primary_and_replica, wait_replayed

pytestmark = [pytest.mark.heavy, pytest.mark.postgres]

RECORDS = "/api/v1/logboek/records"
BATCH = 20  # records per batch
CLIENTS = 2  # client threads sending batches at once
STEP = 15  # batches acknowledged between one event of the test and the next
ACK_WAIT = 2.0  # seconds before a batch the killed writer held is delivered again
PROGRESS_S = 45.0  # a step that makes no progress for this long fails the test
RETRY_PAUSE_S = 0.1  # shorter than Retry-After, to keep the test short
T = TypeVar("T")
Key = tuple[str, str]


@dataclass
class Load:
    """Client threads sending new batches; a refused batch is sent again, unchanged."""

    front: TestClient
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: list[list[dict[str, Any]]] = field(default_factory=list)
    acknowledged: list[list[dict[str, Any]]] = field(default_factory=list)
    unavailable: int = 0  # 503 answers (each followed by a retry of the same batch)
    unavailable_at: list[float] = field(default_factory=list)  # when (for the report only)
    unexpected: list[str] = field(default_factory=list)

    def client(self) -> None:
        try:
            while not self.stop.is_set() and not self.unexpected:
                self._send_until_acknowledged([make_record() for _ in range(BATCH)])
        except Exception as exc:  # the test fails with it instead of waiting for this thread
            with self.lock:
                self.unexpected.append(repr(exc))

    def _send_until_acknowledged(self, records: list[dict[str, Any]]) -> None:
        with self.lock:
            self.sent.append(records)
        while not self.stop.is_set():
            response = self.front.post(RECORDS, json={"organisationId": ORG, "records": records})
            if response.status_code == 503:  # nothing queued: the same batch again, shortly
                with self.lock:
                    self.unavailable += 1
                    self.unavailable_at.append(time.monotonic())
                    if response.headers.get("content-type") != "application/problem+json" or (
                        int(response.headers.get("retry-after", "0")) <= 0
                    ):
                        self.unexpected.append(f"503 without Retry-After: {response.headers}")
                time.sleep(RETRY_PAUSE_S)
                continue
            body = response.json()
            with self.lock:
                if response.status_code != 202 or body["queued"] != BATCH or body["rejected"]:
                    self.unexpected.append(f"HTTP {response.status_code}: {response.text}")
                else:
                    self.acknowledged.append(records)
            return

    def count(self) -> int:
        with self.lock:
            if self.unexpected:
                raise AssertionError(f"the front answered unexpectedly: {self.unexpected}")
            return len(self.acknowledged)

    def keys(self, batches: list[list[dict[str, Any]]]) -> set[Key]:
        with self.lock:
            return {(r["trace_id"], r["span_id"]) for batch in batches for r in batch}


class Cluster:
    """The cluster as a client sees it, through a fresh connection to the running nodes."""

    def __init__(self, nodes: NatsCluster, queue: QueueConfig) -> None:
        self.nodes = nodes
        self.queue = queue

    def ask(self, call: Callable[[JetStreamContext], Awaitable[T]]) -> T:
        async def run() -> T:
            running = [node.url for node in self.nodes.nodes if node.running()]
            client = await nats.connect(running, connect_timeout=2, max_reconnect_attempts=1)
            try:
                return await call(client.jetstream(timeout=5))
            finally:
                await client.close()

        return asyncio.run(run())

    def stream_cluster(self) -> ClusterInfo:
        info = self.ask(lambda js: js.stream_info(self.queue.stream))
        assert info.cluster is not None
        return info.cluster

    def stream_leader(self) -> NatsNode:
        leader = self.stream_cluster().leader
        assert leader is not None, "the stream has no leader"
        return self.nodes.node(leader)

    def last_sequence(self) -> int:
        return int(self.ask(lambda js: js.stream_info(self.queue.stream)).state.last_seq)

    def consumer_idle(self) -> bool:
        """Nothing waiting for a writer and nothing delivered but unacknowledged."""
        info = self.ask(lambda js: js.consumer_info(self.queue.stream, self.queue.consumer))
        return (info.num_pending, info.num_ack_pending) == (0, 0)

    def replica_current(self, name: str) -> bool:
        """The stream's and the consumer's leaders both report `name` as a current replica."""

        async def both(js: JetStreamContext) -> list[ClusterInfo | None]:
            stream = await js.stream_info(self.queue.stream)
            consumer = await js.consumer_info(self.queue.stream, self.queue.consumer)
            return [stream.cluster, consumer.cluster]

        for cluster in self.ask(both):
            assert cluster is not None
            if cluster.leader == name:
                continue
            peers = [p for p in cluster.replicas or [] if p.name == name]
            if not peers or not peers[0].current or peers[0].offline:
                return False
        return True


def stored_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(log_record)).scalar_one())


def wait_writing(writer: Service) -> None:
    """Until the writer process is connected and pulling (it says so on its output)."""
    wait_until(
        lambda: not writer.alive() or "writing from" in writer.output(),
        PROGRESS_S,
        writer.output,
    )
    assert writer.alive(), writer.output()


def stored_keys(engine: Engine) -> list[Key]:
    with engine.connect() as conn:
        rows = conn.execute(select(log_record.c.trace_id, log_record.c.span_id)).all()
    return [(str(trace), str(span)) for trace, span in rows]


def test_a_node_and_a_writer_killed_under_load_lose_and_double_nothing(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:12]
    with primary_and_replica() as (primary, replica), nats_cluster() as nodes:
        postgres_url = primary.url
        queue = QueueConfig(
            url=nodes.url,
            stream=f"GS_CLUSTER_{tag}",
            subject=f"gs-cluster-{tag}.logbook",
            consumer=f"writer-{tag}",
            replicas=3,
            ack_wait=ACK_WAIT,
        )
        settings = Settings(
            database_url=postgres_url,
            database_read_url=replica.url,
            data_dir=tmp_path,
            pseudonym_keys=KEY_2026,
            system_clients=TEST_SYSTEMS,
            nats_url=queue.url,
            nats_logbook_stream=queue.stream,
            nats_logbook_subject=queue.subject,
            nats_logbook_consumer=queue.consumer,
            nats_replicas=queue.replicas,
            nats_ack_wait=queue.ack_wait,
        )
        app = create_app(settings)  # migrates the database
        engine = make_engine(postgres_url)
        load_register(engine, TEST_REGISTER, approved_by="test-approver")
        time.sleep(0.002)  # records start after the register versions were recorded
        env = cli_env(postgres_url, tmp_path) | {
            "GLAZENSTAD_NATS_URL": queue.url,
            "GLAZENSTAD_NATS_REPLICAS": str(queue.replicas),
            "GLAZENSTAD_NATS_LOGBOOK_STREAM": queue.stream,
            "GLAZENSTAD_NATS_LOGBOOK_SUBJECT": queue.subject,
            "GLAZENSTAD_NATS_LOGBOOK_CONSUMER": queue.consumer,
            "GLAZENSTAD_NATS_ACK_WAIT": str(queue.ack_wait),
        }
        writers = [
            Service(["logbook", "writer", "--fetch", "4"], env, tmp_path, f"writer-{i}")
            for i in (1, 2)
        ]
        cluster = Cluster(nodes, queue)
        threads: list[threading.Thread] = []
        try:
            for writer in writers:
                wait_writing(writer)
            with TestClient(app, headers=system_token()) as front:
                load = Load(front)
                threads = [
                    threading.Thread(target=load.client, daemon=True) for _ in range(CLIENTS)
                ]
                for thread in threads:
                    thread.start()

                # 1. A writer process dies while it writes.
                wait_until(
                    lambda: load.count() >= STEP and stored_count(engine) > 0,
                    PROGRESS_S,
                    lambda: f"load under way ({load.count()} batches)",
                )
                writers[0].kill()
                # 2. The node that leads the stream dies while batches keep coming.
                mark = load.count()
                wait_until(lambda: load.count() >= mark + STEP, PROGRESS_S, lambda: "more load")
                victim = cluster.stream_leader()
                local = victim.local_stream(queue.stream)
                assert local is not None, f"{victim.name} holds no copy of the stream"
                sequence_at_kill = int(local["state"]["last_seq"])
                nodes.kill(victim)
                # 3. Two nodes and one writer carry on: batches are acknowledged and written.
                mark, written = load.count(), stored_count(engine)
                wait_until(
                    lambda: load.count() >= mark + STEP and stored_count(engine) > written,
                    PROGRESS_S,
                    lambda: f"progress without {victim.name} ({load.count() - mark} batches)",
                )
                assert cluster.stream_leader() is not victim
                # 4. The node comes back under load.
                nodes.start(victim)
                mark = load.count()
                wait_until(lambda: load.count() >= mark + STEP, PROGRESS_S, lambda: "more load")
                load.stop.set()
                for thread in threads:
                    thread.join(timeout=30)
                    assert not thread.is_alive(), "a client thread hung"

            # Everything queued is written by the surviving writer (including what the killed
            # one held unacknowledged, delivered again after ack_wait).
            assert writers[1].alive(), writers[1].output()
            wait_until(cluster.consumer_idle, PROGRESS_S, lambda: "the writer to drain the queue")

            # The restarted node caught up: its own copy ends where the leader's does, past
            # where it was killed, and the leaders count it current.
            def caught_up() -> bool:
                mine = victim.local_stream(queue.stream)
                return (
                    victim.healthy()
                    and mine is not None
                    and int(mine["state"]["last_seq"]) == cluster.last_sequence()
                    and cluster.replica_current(victim.name)
                )

            wait_until(
                caught_up,
                PROGRESS_S,
                lambda: (
                    f"{victim.name} to catch up: {victim.local_stream(queue.stream)}"
                    f" {nodes.log(victim)}"
                ),
            )
            assert cluster.last_sequence() > sequence_at_kill  # there was something to catch up

            # The surviving writer came through the node loss and stops cleanly when told to.
            writers[1].stop()
            assert writers[1].process.returncode == 0, writers[1].output()

            stored = stored_keys(engine)
            doubles = [key for key, n in Counter(stored).items() if n > 1]
            assert not doubles, f"{len(doubles)} records stored more than once"
            acknowledged = load.keys(load.acknowledged)
            missing = acknowledged - set(stored)
            assert not missing, f"{len(missing)} acknowledged records were lost"
            assert set(stored) <= load.keys(load.sent)
            result = verify(engine, ORG)
            assert result.ok and result.records == len(stored)

            # The streaming replica holds exactly what the primary does, chain included.
            replica_engine = make_engine(replica.url)
            try:
                wait_replayed(engine, replica_engine)
                assert sorted(stored_keys(replica_engine)) == sorted(stored)
                assert verify(replica_engine, ORG).ok
            finally:
                replica_engine.dispose()
            window = load.unavailable_at[-1] - load.unavailable_at[0] if load.unavailable else 0
            print(  # the figures of the run (pytest -s shows them)
                f"\n{len(load.acknowledged)} batches ({len(acknowledged)} records) acknowledged;"
                f" {load.unavailable} answers 503 within {window:.1f} s of the node loss;"
                f" {len(stored)} records stored once; stream sequence {sequence_at_kill} on"
                f" {victim.name} at the kill, {cluster.last_sequence()} at the end;"
                f" surviving writer: {writers[1].stdout_path.read_text().strip().splitlines()[-1]}"
            )
        finally:
            if threads:
                load.stop.set()
            for writer in writers:
                writer.kill()
            engine.dispose()
