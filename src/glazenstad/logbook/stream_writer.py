"""A logbook writer: pulls queued batches from JetStream, writes them, acks after the commit.

Any number of writers share one durable pull consumer; JetStream hands each batch to one of
them. A writer fetches up to `fetch` messages at a time and writes the records of each
organisation among them with one `LogStore.ingest` (one transaction, chained in the order of
the stream), then acknowledges those messages. A writer that dies before acknowledging leaves
the messages to be delivered again after the consumer's ack_wait; the records that were
committed already are then counted as duplicates (idempotent on trace_id and span_id), so every
record is stored exactly once. A database error leaves the messages unacknowledged (negatively,
with a delay) for a later attempt; a message that is not a batch is terminated, never retried.

`PullWriter` is the queue side of every JetStream consumer here: the logbook and decision
writers and the execution feeds (`glazenstad.execution.jetstream`) differ only in `write`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

import nats
from nats.js.errors import NotFoundError

from glazenstad.logbook.store import LogStore
from glazenstad.logbook.stream import (
    QueueConfig,
    StreamUnavailable,
    connect,
    consumer_config,
    ensure_stream,
)
from glazenstad.logbook.stream_message import MessageError, QueuedBatch, decode_batch, log_records

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

_log = logging.getLogger("glazenstad.logbook.writer")
RETRY_DELAY_SECONDS = 2.0


@dataclass
class QueueCounts:
    """What a writer did so far (for its log line and for tests)."""

    messages: int = 0  # acknowledged


CountsT = TypeVar("CountsT", bound=QueueCounts)


@dataclass
class WriteCounts(QueueCounts):
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    unknown_activity: int = 0
    failed: int = 0


@dataclass
class Settlement:
    """What to tell JetStream about fetched messages once the writing is over."""

    ack: list[Msg] = field(default_factory=list)  # committed (or duplicates of committed)
    retry: list[Msg] = field(default_factory=list)  # the write failed: deliver again later
    terminate: list[Msg] = field(default_factory=list)  # unreadable: never deliver again
    # Not to be written yet (a key the writer lacks): offered again after the given seconds.
    later: list[tuple[Msg, float]] = field(default_factory=list)


class PullWriter(ABC, Generic[CountsT]):
    """Pulls messages of one stream from a durable consumer shared with other writers, has
    `write` store them (in a thread), then settles each: ack, nak with a delay, or terminate.

    Subclasses say how a fetched list is written; everything about the queue is here. A
    writer takes the whole stream as `config.consumer` unless given a consumer and a filter
    subject of its own (one kind of message in a stream that holds several).
    """

    name = "writer"
    # At most this many fetches' worth of messages are handed out unacknowledged at once.
    pending_fetches: ClassVar[int] = 16
    # Queue warnings go where the subclass logs the rest of its work.
    log: ClassVar[logging.Logger] = _log

    def __init__(
        self,
        config: QueueConfig,
        counts: CountsT,
        *,
        fetch: int = 64,
        consumer: str | None = None,
        filter_subject: str | None = None,
        retry_delay: float = RETRY_DELAY_SECONDS,
    ) -> None:
        if fetch < 1:
            raise ValueError("fetch must be at least 1")
        self.config = config
        self.counts = counts
        self.fetch = fetch
        self.consumer = consumer or config.consumer
        self.filter_subject = filter_subject or f"{config.subject}.>"
        self.retry_delay = retry_delay
        self._client: Client | None = None
        self._subscription: JetStreamContext.PullSubscription | None = None

    async def start(self, attempts: int = 5) -> None:
        """Connect, and create the stream and the consumer when missing.

        No server at all fails at once (StreamUnavailable). A cluster that answers but cannot
        create the stream or the consumer yet (a leader election, a node starting) is asked
        again, `attempts` times in all.
        """
        self._client = await connect(self.config, name=f"glazenstad-{self.name}")
        # Creating a replicated consumer takes a round of Raft: more than a publish.
        js = self._client.jetstream(timeout=max(10.0, self.config.publish_timeout))
        wanted = consumer_config(
            self.config,
            max_ack_pending=max(1000, self.fetch * self.pending_fetches),
            durable=self.consumer,
            filter_subject=self.filter_subject,
        )
        for attempt in range(1, attempts + 1):
            try:
                await ensure_stream(js, self.config)
                try:
                    await js.consumer_info(self.config.stream, self.consumer)
                except NotFoundError:
                    await js.add_consumer(self.config.stream, wanted)
                self._subscription = await js.pull_subscribe(
                    self.filter_subject, durable=self.consumer, stream=self.config.stream
                )
                return
            except (nats.errors.Error, TimeoutError) as exc:
                if attempt == attempts:
                    await self.close()
                    raise StreamUnavailable(
                        f"JetStream stream {self.config.stream}, consumer {self.consumer}: {exc}"
                    ) from exc
                self.log.warning(
                    "JetStream stream %s, consumer %s not ready (%s); asking again",
                    self.config.stream,
                    self.consumer,
                    type(exc).__name__,
                )
                await asyncio.sleep(max(1.0, self.retry_delay))

    async def pull(self, wait: float = 1.0) -> list[Msg]:
        """Up to `fetch` messages; none when nothing arrives within `wait` seconds."""
        assert self._subscription is not None, "call start() first"
        try:
            return await self._subscription.fetch(self.fetch, timeout=wait)
        except TimeoutError:
            return []

    @abstractmethod
    def write(self, messages: list[Msg]) -> Settlement:
        """Store what the messages hold; runs in a worker thread."""

    async def written(self, messages: list[Msg]) -> Settlement:
        """`write` on a thread; meanwhile the messages are reported in progress every third of
        `ack_wait`, so a slow commit does not make JetStream hand them to another writer."""
        work = asyncio.ensure_future(asyncio.to_thread(self.write, messages))
        beat = max(0.5, self.config.ack_wait / 3)
        while True:
            done, _pending = await asyncio.wait({work}, timeout=beat)
            if done:
                return work.result()
            for message in messages:
                try:
                    await message.in_progress()
                except nats.errors.Error:  # the connection is away: redelivery covers it
                    break

    async def settle(self, settlement: Settlement) -> None:
        """Acknowledge what is committed, ask again later for what failed or waits, drop the
        unreadable."""
        for message in settlement.ack:
            await message.ack()
        for message in settlement.retry:
            await message.nak(delay=self.retry_delay)
        for message in settlement.terminate:
            await message.term()
        for message, delay in settlement.later:
            await message.nak(delay=delay)
        self.counts.messages += len(settlement.ack)

    async def run_once(self, wait: float = 1.0) -> int:
        """One fetch, written and settled; the number of messages fetched."""
        messages = await self.pull(wait)
        if messages:
            await self.settle(await self.written(messages))
        return len(messages)

    async def run(
        self,
        stop: asyncio.Event | threading.Event,
        *,
        report: Callable[[CountsT], None] | None = None,
        every: float = 1.0,
        until_idle: bool = False,
    ) -> CountsT:
        """Write until `stop` is set (or, with `until_idle`, until a fetch finds nothing).

        `report` gets the counts every `every` seconds and once at the end (progress output).
        """
        last = time.monotonic()
        while not stop.is_set():
            try:
                fetched = await self.run_once()
            except (nats.errors.Error, OSError) as exc:  # NATS away: the client reconnects
                self.log.warning("fetching from %s failed: %s", self.config.stream, exc)
                await asyncio.sleep(self.retry_delay)
                continue
            if report is not None and time.monotonic() - last >= every:
                report(self.counts)
                last = time.monotonic()
            if not fetched and until_idle:
                break
        if report is not None:
            report(self.counts)
        return self.counts

    async def close(self) -> None:
        """Close the connection; unacknowledged messages go to other writers after ack_wait."""
        if self._client is not None:
            await self._client.close()
            self._client = None


class LogWriter(PullWriter[WriteCounts]):
    name = "logbook-writer"

    def __init__(self, config: QueueConfig, logbook: LogStore, *, fetch: int = 64) -> None:
        super().__init__(config, WriteCounts(), fetch=fetch)
        self.logbook = logbook

    def write(self, messages: list[Msg]) -> Settlement:
        """Store the messages' records, one transaction per organisation. Runs in a thread."""
        groups: dict[str, list[tuple[Msg, QueuedBatch]]] = defaultdict(list)
        settlement = Settlement()
        for message in messages:
            try:
                batch = decode_batch(message.data)
            except MessageError as exc:
                _log.error("terminated message %s: %s", _sequence(message), exc)
                settlement.terminate.append(message)
                continue
            groups[batch.organisation_id].append((message, batch))
        for organisation_id, items in groups.items():
            records = [record for _, batch in items for record in log_records(batch)]
            try:
                result = self.logbook.ingest(
                    organisation_id,
                    records,
                    received_at=items[0][1].accepted_at,
                    pseudonymised=True,
                )
            except Exception:  # the database: left to a later delivery, logged with its cause
                _log.exception(
                    "writing %d queued records of %s failed; they will be delivered again",
                    len(records),
                    organisation_id,
                )
                settlement.retry.extend(message for message, _ in items)
                self.counts.failed += len(items)
                continue
            for rejected in result.rejected:  # only a conflict with a stored record gets here
                _log.warning(
                    "queued record of %s refused at writing: %s", organisation_id, rejected.reason
                )
            self.counts.accepted += result.accepted
            self.counts.duplicates += result.duplicates
            self.counts.rejected += len(result.rejected)
            self.counts.unknown_activity += result.unknown_activity
            settlement.ack.extend(message for message, _ in items)
        return settlement


def _sequence(message: Msg) -> str:
    try:
        return str(message.metadata.sequence.stream)
    except (ValueError, AttributeError):
        return "?"
