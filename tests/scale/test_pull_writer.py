"""The queue side every JetStream consumer shares (`PullWriter`), against the real NATS server.

The logbook and decision writers and the execution feeds differ only in how they write what they
fetched; starting while a cluster cannot create the stream yet, consumers of their own on part
of a stream, and messages left for later with a delay of their own are shown here once for all.
Slow writes reporting progress: tests/scale/test_queued_ingest.py (and, for a feed,
tests/execution/test_jetstream_bridge.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import create_engine

from glazenstad.logbook.stream import QueueConfig, StreamUnavailable
from glazenstad.logbook.stream_publish import JetStreamPublisher
from glazenstad.logbook.stream_writer import PullWriter, QueueCounts, Settlement
from glazenstad.rules.decision_queue import DecisionWriter
from tests.conftest import free_port
from tests.scale.conftest import NATS_URL

pytestmark = pytest.mark.heavy

WRITER_LOG = "glazenstad.logbook.writer"


class Collector(PullWriter[QueueCounts]):
    """Acknowledges what it fetches, or offers it again after `later` seconds."""

    name = "test-collector"

    def __init__(self, config: QueueConfig, *, later: float | None = None, **kwargs: Any) -> None:
        super().__init__(config, QueueCounts(), fetch=8, **kwargs)
        self.later = later
        self.seen: list[Msg] = []

    def write(self, messages: list[Msg]) -> Settlement:
        self.seen.extend(messages)
        if self.later is not None:
            return Settlement(later=[(message, self.later) for message in messages])
        return Settlement(ack=list(messages))


async def _publish(queue: QueueConfig, *subjects: str) -> None:
    publisher = JetStreamPublisher(queue)
    try:
        for n, subject in enumerate(subjects):
            await publisher.store(subject, b"{}", f"message-{n}", "a test message")
    finally:
        await publisher.close()


@contextlib.asynccontextmanager
async def _subjects_taken(queue: QueueConfig) -> AsyncIterator[tuple[JetStreamContext, str]]:
    """Another stream holds the queue's subjects, so the queue's own stream cannot be made
    (JetStream answers, but refuses, as while a cluster elects a leader). Yields it by name."""
    blocker = f"{queue.stream}_BLOCKER"
    client = await nats.connect(NATS_URL)
    js = client.jetstream()
    await js.add_stream(name=blocker, subjects=[f"{queue.subject}.>"])
    try:
        yield js, blocker
    finally:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(blocker)
        await client.close()


async def _collect(writer: Collector, *, wait: float = 0.5) -> Collector:
    await writer.start()
    try:
        while await writer.run_once(wait=wait):
            pass
    finally:
        await writer.close()
    return writer


def test_start_asks_again_while_the_stream_cannot_be_created(
    queue: QueueConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """As while a cluster elects a leader: JetStream answers, but refuses for a while."""

    async def scenario() -> QueueCounts:
        async with _subjects_taken(queue) as (js, blocker):
            writer = DecisionWriter(queue, create_engine("sqlite://"))
            try:
                starting = asyncio.create_task(writer.start())
                while not any(r.name == WRITER_LOG for r in caplog.records):
                    assert not starting.done(), "start gave up or succeeded at the first refusal"
                    await asyncio.sleep(0.05)
                await js.delete_stream(blocker)
                await asyncio.wait_for(starting, 30)
                consumer = await js.consumer_info(queue.stream, queue.consumer)
                assert consumer.config.filter_subject == f"{queue.subject}.>"
                return await writer.run(asyncio.Event(), until_idle=True)
            finally:
                await writer.close()

    with caplog.at_level(logging.WARNING, logger=WRITER_LOG):
        counts = asyncio.run(scenario())
    assert counts.messages == 0
    [warning] = [r for r in caplog.records if r.name == WRITER_LOG]
    assert warning.getMessage() == (
        f"JetStream stream {queue.stream}, consumer {queue.consumer} not ready "
        "(BadRequestError); asking again"
    )


def test_start_gives_up_after_its_attempts(queue: QueueConfig) -> None:
    async def scenario() -> DecisionWriter:
        async with _subjects_taken(queue):
            writer = DecisionWriter(queue, create_engine("sqlite://"))
            with pytest.raises(StreamUnavailable, match=f"consumer {queue.consumer}"):
                await writer.start(attempts=2)
        return writer

    writer = asyncio.run(scenario())
    assert writer._client is None  # closed, not left reconnecting


def test_no_server_fails_at_once_without_asking_again() -> None:
    nowhere = QueueConfig(url=f"nats://127.0.0.1:{free_port()}", connect_timeout=1)
    writer = DecisionWriter(nowhere, create_engine("sqlite://"))
    began = time.monotonic()
    with pytest.raises(StreamUnavailable, match="no NATS server answers"):
        asyncio.run(writer.start(attempts=5))
    assert time.monotonic() - began < 5  # no pauses between attempts


def test_writers_with_consumers_of_their_own_take_their_part_of_the_stream(
    queue: QueueConfig,
) -> None:
    a, b = queue.subject_for("a"), queue.subject_for("b")
    asyncio.run(_publish(queue, a, b, a))
    only_a = asyncio.run(
        _collect(Collector(queue, consumer=f"{queue.consumer}-a", filter_subject=a))
    )
    only_b = asyncio.run(
        _collect(Collector(queue, consumer=f"{queue.consumer}-b", filter_subject=b))
    )
    assert [m.subject for m in only_a.seen] == [a, a]
    assert [m.subject for m in only_b.seen] == [b]
    assert (only_a.counts.messages, only_b.counts.messages) == (2, 1)


def test_a_message_left_for_later_comes_again_after_its_own_delay(queue: QueueConfig) -> None:
    asyncio.run(_publish(queue, queue.subject_for("x")))

    async def scenario() -> tuple[int, int, float, Collector]:
        writer = Collector(queue, later=1.5, retry_delay=0.1)
        await writer.start()
        try:
            assert await writer.run_once(wait=5) == 1
            settled = time.monotonic()
            early = await writer.run_once(wait=0.5)  # the writer's own retry delay is shorter
            writer.later = None
            again = await writer.run_once(wait=5)
            return early, again, time.monotonic() - settled, writer
        finally:
            await writer.close()

    early, again, after, writer = asyncio.run(scenario())
    assert (early, again) == (0, 1)
    assert after >= 1.4
    assert [m.metadata.num_delivered for m in writer.seen] == [1, 2]
    assert writer.counts.messages == 1
