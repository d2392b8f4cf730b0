"""The front node's side of the queue: screen a batch, pseudonymise it, publish, await the ack.

A front node answers each record at once: a rejected record with its index and reason (the same
`screen` the single-process path uses), the valid ones as queued. It answers only after
JetStream has acknowledged storing the batch (on every replica the stream has, by JetStream's
own quorum rule), so that what a client was told is queued survives a front node, a writer, or
the database going away. Records are pseudonymised before publishing: no plain identifier is
ever in the queue. Anything short of a publish acknowledgement raises StreamUnavailable, and the
client is told to retry; a retry of the same batch is harmless (batch id and record ids).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import nats
from fastapi.concurrency import run_in_threadpool
from nats.js.errors import NoStreamResponseError

from glazenstad.db.base import utcnow
from glazenstad.logbook.record import Rejected
from glazenstad.logbook.store import LogStore, screen
from glazenstad.logbook.stream import QueueConfig, StreamUnavailable, connect, ensure_stream
from glazenstad.logbook.stream_message import encode_batch

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext


@dataclass
class QueuedResult:
    """What a front node can say about a batch: rejected now, queued, repeated in the batch."""

    batch_id: str | None = None
    queued_indexes: list[int] = field(default_factory=list)
    duplicate_indexes: list[int] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


@dataclass
class _Link:
    loop: asyncio.AbstractEventLoop
    client: Client
    js: JetStreamContext


# While a cluster elects a new stream leader (a node died), JetStream answers "no responders" at
# once; asking again within the publish timeout turns most of those into a slower success.
_ELECTION_PAUSE_SECONDS = 0.25


class JetStreamPublisher:
    """Publishes to one stream and waits for its acknowledgement; shared by an app's requests.

    The connection belongs to the event loop it was made on (a test client may run several in
    turn), so it is made on first use in each loop, and the stream is created if missing.
    Anything short of an acknowledgement within `publish_timeout` raises StreamUnavailable.
    """

    def __init__(self, config: QueueConfig) -> None:
        self.config = config
        self._link: _Link | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def _jetstream(self) -> JetStreamContext:
        loop = asyncio.get_running_loop()
        link = self._link
        if link is not None and link.loop is loop and not link.client.is_closed:
            return link.js
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:
            link = self._link
            if link is not None and link.loop is loop and not link.client.is_closed:
                return link.js
            client = await connect(self.config, name="glazenstad-front")
            js = client.jetstream(timeout=self.config.publish_timeout)
            try:
                await ensure_stream(js, self.config)
            except (nats.errors.Error, TimeoutError) as exc:
                await client.close()
                raise StreamUnavailable(f"JetStream stream {self.config.stream}: {exc}") from exc
            self._link = _Link(loop, client, js)
            return js

    async def store(self, subject: str, body: bytes, message_id: str, what: str) -> None:
        """Store `body` under `subject`; returns once JetStream acknowledged it.

        `message_id` is JetStream's Nats-Msg-Id: the same message published again within the
        duplicate window (a retry) is stored once. `what` names the message in errors.
        """
        js = await self._jetstream()
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.config.publish_timeout
        while True:
            try:
                await js.publish(
                    subject,
                    body,
                    timeout=max(0.1, give_up - loop.time()),
                    stream=self.config.stream,
                    headers={"Nats-Msg-Id": message_id},
                )
                return
            except NoStreamResponseError as exc:
                if loop.time() + _ELECTION_PAUSE_SECONDS < give_up:
                    await asyncio.sleep(_ELECTION_PAUSE_SECONDS)
                    continue
                failure: Exception = exc
            except (nats.errors.Error, TimeoutError, OSError) as exc:
                failure = exc
            raise StreamUnavailable(
                f"JetStream did not confirm storing {what} in {self.config.stream}: "
                f"{type(failure).__name__}"
            ) from failure

    async def close(self) -> None:
        link, self._link = self._link, None
        if link is not None and link.loop is asyncio.get_running_loop():
            await link.client.close()


class StreamPublisher(JetStreamPublisher):
    """Publishes log record batches to JetStream; one per application, shared by requests."""

    def __init__(self, config: QueueConfig, logbook: LogStore) -> None:
        super().__init__(config)
        self.logbook = logbook

    def _prepare(self, organisation_id: str, records: Sequence[Any]) -> tuple[QueuedResult, bytes]:
        """Screening and pseudonyms: CPU work, run off the event loop."""
        candidates, screened = screen(records)
        result = QueuedResult(
            duplicate_indexes=screened.duplicate_indexes, rejected=screened.rejected
        )
        if not candidates:
            return result, b""
        pseudonymised = self.logbook.pseudonymise(organisation_id, [r for _, r in candidates])
        result.batch_id, body = encode_batch(organisation_id, pseudonymised, utcnow())
        result.queued_indexes = [index for index, _ in candidates]
        return result, body

    async def publish(self, organisation_id: str, records: Sequence[Any]) -> QueuedResult:
        """Screen and queue a batch; returns once JetStream has stored it (or nothing was valid).

        Records are raw dicts, LogRecords, or RecordErrors from a decoder (as for `ingest`).
        """
        result, body = await run_in_threadpool(self._prepare, organisation_id, records)
        if not body:
            return result
        await self.store(
            self.config.subject_for(organisation_id), body, result.batch_id or "", "the batch"
        )
        return result
