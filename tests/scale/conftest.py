"""Scale-out fixtures: a queue of its own on the real NATS server, an app that publishes to it.

Every test gets a stream, subject prefix and consumer with a unique name, deleted afterwards,
so runs never see each other's messages. Without a NATS server with JetStream at
GLAZENSTAD_TEST_NATS_URL the tests are skipped (failed with CI=true).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import nats
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from glazenstad.db.engine import make_engine
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.store import LogStore
from glazenstad.logbook.stream import QueueConfig
from glazenstad.logbook.stream_writer import LogWriter
from glazenstad.logbook.tables import log_record
from glazenstad.register.loader import load_register
from glazenstad.register.store import RegisterStore
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.conftest import TEST_REGISTER, TEST_SYSTEMS, missing_tool, system_token
from tests.logbook.conftest import KEY_2026

NATS_URL = os.environ.get("GLAZENSTAD_TEST_NATS_URL", "nats://127.0.0.1:4222")
ACK_WAIT = 2.0  # seconds before an unacknowledged batch is delivered again


def require_nats() -> None:
    parts = urlsplit(NATS_URL)
    try:
        with socket.create_connection((parts.hostname, parts.port or 4222), timeout=3):
            return
    except OSError as exc:
        missing_tool(f"NATS not reachable at {NATS_URL}: {exc.__class__.__name__}")


async def _delete_stream(name: str) -> None:
    client = await nats.connect(NATS_URL)
    try:
        await client.jetstream().delete_stream(name)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await client.close()


@contextmanager
def unique_queue(kind: str) -> Iterator[QueueConfig]:
    """A stream, subject and consumer of `kind` with names of their own, deleted afterwards."""
    require_nats()
    tag = uuid.uuid4().hex[:12]
    config = QueueConfig(
        url=NATS_URL,
        stream=f"GS_TEST_{kind.upper()}_{tag}",
        subject=f"gs-test-{tag}.{kind}",
        consumer=f"{kind}-writer-{tag}",
        ack_wait=ACK_WAIT,
    )
    try:
        yield config
    finally:
        asyncio.run(_delete_stream(config.stream))


@pytest.fixture
def queue() -> Iterator[QueueConfig]:
    """A log record queue of this test's own on the real server, deleted afterwards."""
    with unique_queue("logbook") as config:
        yield config


def settings_for(database_url: str, tmp_path: Path, queue: QueueConfig) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        pseudonym_keys=KEY_2026,  # type: ignore[arg-type]
        system_clients=TEST_SYSTEMS,
        nats_url=queue.url,
        nats_logbook_stream=queue.stream,
        nats_logbook_subject=queue.subject,
        nats_logbook_consumer=queue.consumer,
        nats_ack_wait=queue.ack_wait,
    )


@pytest.fixture
def front(database_url: str, tmp_path: Path, queue: QueueConfig) -> Iterator[TestClient]:
    """A front node that queues log records (the register of the test organisation loaded)."""
    app = create_app(settings_for(database_url, tmp_path, queue))
    engine = make_engine(database_url)
    load_register(engine, TEST_REGISTER, approved_by="test-approver")
    engine.dispose()
    time.sleep(0.002)  # records start after the register versions were recorded
    with TestClient(app, headers=system_token()) as client:
        yield client


def log_store(engine: Engine) -> LogStore:
    return LogStore(engine, RegisterStore(engine), Pseudonymizer.from_config(KEY_2026))


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(log_record)).scalar_one())


class QueueWorker(Protocol):
    async def start(self) -> None: ...
    async def run_once(self, wait: float = 1.0) -> int: ...
    async def close(self) -> None: ...


W = TypeVar("W", bound=QueueWorker)


async def run_until(
    worker: W, done: Callable[[W], bool], what: Callable[[W], str], deadline: float = 60.0
) -> W:
    """Start `worker` and fetch until `done` (fails with `what` after `deadline`); closed after."""
    await worker.start()
    give_up = time.monotonic() + deadline
    try:
        while not done(worker):
            assert time.monotonic() < give_up, what(worker)
            await worker.run_once(wait=0.5)
    finally:
        await worker.close()
    return worker


async def drain(
    queue: QueueConfig, engine: Engine, *, messages: int, deadline: float = 60.0
) -> LogWriter:
    """A writer that runs until it has acknowledged `messages` batches (fails after `deadline`)."""
    return await run_until(
        LogWriter(queue, log_store(engine), fetch=8),
        lambda w: w.counts.messages >= messages,
        lambda w: f"only {w.counts} of {messages} batches",
        deadline,
    )


async def stream_messages(queue: QueueConfig) -> list[bytes]:
    """Every message the stream holds now, read back directly (not consumed)."""
    client = await nats.connect(queue.url)
    try:
        js = client.jetstream()
        info = await js.stream_info(queue.stream)
        bodies: list[bytes] = []
        for sequence in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                message: Any = await js.get_msg(queue.stream, sequence)
            except nats.js.errors.NotFoundError:
                continue
            bodies.append(message.data or b"")
        return bodies
    finally:
        await client.close()


# A decision request the test policy permits (tests/fixtures/policies).
DECISION: dict[str, Any] = {
    "actor": {"role": "parkeerhandhaver", "department": "Parkeren", "organisation": "teststad"},
    "action": "read",
    "resource": {"dataCategory": "kenteken"},
    "purpose": "parkeren-scanauto",
    "context": {"time": "2026-03-02T10:00:00+01:00"},
}
