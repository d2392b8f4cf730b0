"""A logbook writer: pulls queued batches from JetStream, writes them, acks after the commit.

Any number of writers share one durable pull consumer; JetStream hands each batch to one of
them. A writer fetches up to `fetch` messages at a time and writes the records of each
organisation among them with one `LogStore.ingest` (one transaction, chained in the order of
the stream), then acknowledges those messages. A writer that dies before acknowledging leaves
the messages to be delivered again after the consumer's ack_wait; the records that were
committed already are then counted as duplicates (idempotent on trace_id and span_id), so every
record is stored exactly once. A database error leaves the messages unacknowledged (negatively,
with a delay) for a later attempt; a message that is not a batch is terminated, never retried.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import nats
from nats.js.errors import NotFoundError

from glazenstad.logbook.store import LogStore
from glazenstad.logbook.stream import (
    QueueConfig,
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
    retry: list[Msg] = field(default_factory=list)  # the database failed: deliver again later
    terminate: list[Msg] = field(default_factory=list)  # not a batch: never deliver again


class PullWriter(ABC):
    """Pulls messages of one stream from a durable consumer shared with other writers, has
    `write` store them (in a thread), then settles each: ack, nak with a delay, or terminate.

    Subclasses say how a fetched list is written; everything about the queue is here.
    """

    name = "writer"

    def __init__(self, config: QueueConfig, *, fetch: int = 64) -> None:
        self.config = config
        self.fetch = fetch
        self.counts = QueueCounts()
        self._client: Client | None = None
        self._subscription: JetStreamContext.PullSubscription | None = None

    async def start(self) -> None:
        """Connect, and create the stream and the shared consumer when missing."""
        self._client = await connect(self.config, name=f"glazenstad-{self.name}")
        js = self._client.jetstream()
        await ensure_stream(js, self.config)
        wanted = consumer_config(self.config, max_ack_pending=max(1000, self.fetch * 16))
        try:
            await js.consumer_info(self.config.stream, self.config.consumer)
        except NotFoundError:
            await js.add_consumer(self.config.stream, wanted)
        self._subscription = await js.pull_subscribe(
            wanted.filter_subject or "",
            durable=self.config.consumer,
            stream=self.config.stream,
        )

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

    async def settle(self, settlement: Settlement) -> None:
        """Acknowledge what is committed, ask again later for what failed, drop the unreadable."""
        for message in settlement.ack:
            await message.ack()
        for message in settlement.retry:
            await message.nak(delay=RETRY_DELAY_SECONDS)
        for message in settlement.terminate:
            await message.term()
        self.counts.messages += len(settlement.ack)

    async def run_once(self, wait: float = 1.0) -> int:
        """One fetch, written and settled; the number of messages fetched."""
        messages = await self.pull(wait)
        if messages:
            await self.settle(await asyncio.to_thread(self.write, messages))
        return len(messages)

    async def run(self, stop: asyncio.Event, *, until_idle: bool = False) -> QueueCounts:
        """Write until `stop` is set (or, with `until_idle`, until a fetch finds nothing)."""
        while not stop.is_set():
            try:
                fetched = await self.run_once()
            except (nats.errors.Error, OSError) as exc:  # NATS away: the client reconnects
                _log.warning("fetching from %s failed: %s", self.config.stream, exc)
                await asyncio.sleep(RETRY_DELAY_SECONDS)
                continue
            if not fetched and until_idle:
                break
        return self.counts

    async def close(self) -> None:
        """Close the connection; unacknowledged messages go to other writers after ack_wait."""
        if self._client is not None:
            await self._client.close()
            self._client = None


class LogWriter(PullWriter):
    name = "logbook-writer"
    counts: WriteCounts

    def __init__(self, config: QueueConfig, logbook: LogStore, *, fetch: int = 64) -> None:
        super().__init__(config, fetch=fetch)
        self.logbook = logbook
        self.counts = WriteCounts()

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
