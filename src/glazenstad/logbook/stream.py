"""The JetStream ingest queue: where queued log record batches live, and connecting to it.

With `GLAZENSTAD_NATS_URL` set, front nodes publish validated, pseudonymised batches to one
stream (subjects `<prefix>.<organisation>`), and logbook writers pull them from one shared
durable consumer. The stream has work-queue retention: a batch is removed once a writer has
acknowledged it, which it does only after the database commit. Both sides create the stream
and the consumer when they are missing, so start-up order does not matter. See ADR 13.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import nats
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

    from glazenstad.settings import Settings

_log = logging.getLogger("glazenstad.logbook.stream")

# JetStream drops a second message with the same Nats-Msg-Id within this window: a batch
# published again (a retry after a lost publish acknowledgement) is stored once.
DUPLICATE_WINDOW_SECONDS = 120.0


class StreamUnavailable(Exception):
    """JetStream did not store a batch (no server, no quorum, no answer in time)."""


@dataclass(frozen=True)
class QueueConfig:
    """Where the queue is and how it is shaped; one per deployment (settings)."""

    url: str
    stream: str = "GLAZENSTAD_LOGBOOK"
    subject: str = "glazenstad.logbook"
    consumer: str = "logbook-writer"
    replicas: int = 1
    ack_wait: float = 30.0
    publish_timeout: float = 5.0
    connect_timeout: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> QueueConfig | None:
        """The configured queue, or None for the single-process path."""
        if not settings.nats_url:
            return None
        return cls(
            url=settings.nats_url,
            stream=settings.nats_logbook_stream,
            subject=settings.nats_logbook_subject,
            consumer=settings.nats_logbook_consumer,
            replicas=settings.nats_replicas,
            ack_wait=settings.nats_ack_wait,
        )

    @property
    def servers(self) -> list[str]:
        return [part.strip() for part in self.url.split(",") if part.strip()]

    def subject_for(self, *tokens: str) -> str:
        """A subject under the stream's prefix; the logbook has one per organisation, the
        execution stream one per kind and organisation (slugs hold no dots or wildcards)."""
        return ".".join((self.subject, *tokens))


async def _report(error: Exception) -> None:
    # The client's default prints a traceback per failed reconnect; a log line is enough.
    _log.warning("NATS: %s: %s", type(error).__name__, error)


async def connect(config: QueueConfig, *, name: str) -> Client:
    """A connection that keeps reconnecting once made; fails fast when no server answers now."""
    try:
        client = await nats.connect(
            config.servers,
            name=name,
            connect_timeout=int(max(1, config.connect_timeout)),
            reconnect_time_wait=1,
            # Each server is tried twice at first: a request must not wait for a server that
            # is not there (with -1 the first connect would never give up).
            max_reconnect_attempts=1,
            allow_reconnect=True,
            error_cb=_report,
        )
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        raise StreamUnavailable(f"no NATS server answers at {config.url}: {exc}") from exc
    # Once connected, a lost connection is retried for as long as the process lives; publishes
    # meanwhile time out, and their requests are answered 503.
    client.options["max_reconnect_attempts"] = -1
    return client


async def ensure_stream(js: JetStreamContext, config: QueueConfig) -> None:
    """Create the stream when it does not exist (an existing one is left as it is)."""
    try:
        await js.stream_info(config.stream)
        return
    except NotFoundError:
        pass
    await js.add_stream(
        StreamConfig(
            name=config.stream,
            subjects=[f"{config.subject}.>"],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            num_replicas=config.replicas,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )
    )
    _log.info("created JetStream stream %s (%d replicas)", config.stream, config.replicas)


def consumer_config(
    config: QueueConfig, max_ack_pending: int, *, durable: str, filter_subject: str
) -> ConsumerConfig:
    """A writers' shared durable pull consumer: explicit acks, redelivery after ack_wait.

    `PullWriter` names it and its subjects: the whole stream as `config.consumer`, or, for a
    stream that holds several kinds of message (the execution stream), one kind each.
    """
    return ConsumerConfig(
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=config.ack_wait,
        max_ack_pending=max_ack_pending,
        filter_subject=filter_subject,
    )
