"""Scan and sensor messages through NATS JetStream: an MQTT bridge and a feed for the pipelines.

Without NATS a pipeline consumes MQTT itself (`run_parking_pipeline`, `run_sensor_pipeline`)
and acknowledges a message to the broker after its commit. With NATS the two halves come apart:

- the **bridge** (`glazenstad pipeline bridge`, any number, stateless) is an `MqttConsumer`
  whose batch handler seals each message's payload (AES-GCM, `glazenstad.execution.sealing`)
  and publishes it to the stream `GLAZENSTAD_EXECUTION` on subject
  `<prefix>.<scans|sensors>.<organisation>`, the MQTT topic and receipt time in headers. The
  handler returns only once JetStream acknowledged every message of the batch, and the MQTT
  consumer sends its PUBACKs only after the handler returned: a PUBACK means "stored in
  JetStream" (on a majority of the stream's replicas). `Nats-Msg-Id` is a keyed digest of the
  message, so a message the broker delivers again is stored once (within the stream's duplicate
  window; after it, the pipelines' own idempotency takes over);
- the **feed** (`glazenstad pipeline parking|sensors --from-jetstream`, any number) pulls
  batches from one durable consumer per kind (explicit acknowledgement), opens the payloads,
  rebuilds `Message` objects and calls the unchanged `ScanPipeline.handle` or
  `SensorPipeline.handle`. It acknowledges the batch after the handler returned (committed),
  naks it with a delay when the handler raised, and tells JetStream "in progress" while a slow
  commit runs so the batch is not handed to another feed meanwhile. A feed that dies before
  acknowledging leaves the batch to be delivered again after `ack_wait`; the pipelines skip what
  they stored already, so every scan and measurement is stored once. The queue side is the
  logbook writers' (`glazenstad.logbook.stream_writer.PullWriter`).

The stream has work-queue retention (a message is gone once a feed acknowledged it), file
storage and `GLAZENSTAD_NATS_REPLICAS` replicas, like the logbook queue (ADR 13); bridges and
feeds create it and the consumers when missing. Nothing here logs a payload or a topic.
See docs/adr/0015-execution-on-jetstream.md.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar
from urllib.parse import quote, unquote

import nats
from nats.js.api import PubAck
from sqlalchemy import Engine

from glazenstad.db.base import utcnow
from glazenstad.execution.mqtt import ConsumerStats, Message, MqttConsumer, consume_until
from glazenstad.execution.sealing import Sealer, SealError, SealingKeyError
from glazenstad.logbook.stream import QueueConfig, StreamUnavailable, connect, ensure_stream
from glazenstad.logbook.stream_writer import PullWriter, QueueCounts, Settlement

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

    from glazenstad.execution.parking.pipeline import Checker
    from glazenstad.execution.parking.pipeline import PipelineTotals as ParkingTotals
    from glazenstad.execution.sensors import PipelineTotals as SensorTotals
    from glazenstad.logbook.pseudonym import Pseudonymizer
    from glazenstad.settings import Settings

_log = logging.getLogger("glazenstad.execution.jetstream")
T = TypeVar("T")

Kind = Literal["scans", "sensors"]
SCANS: Final = "scans"
SENSORS: Final = "sensors"
KINDS: Final[tuple[Kind, ...]] = ("scans", "sensors")
# The MQTT topic segment of each kind: `<root>/<organisation>/<segment>/<device>`.
SEGMENTS: Final[dict[str, Kind]] = {"scanauto": "scans", "sensoren": "sensors"}
INVALID_ORGANISATION: Final = "_invalid"

FORMAT: Final = "1"
HEADER_FORMAT: Final = "Glazenstad-Format"
HEADER_KIND: Final = "Glazenstad-Kind"
HEADER_TOPIC: Final = "Glazenstad-Topic"
HEADER_RECEIVED: Final = "Glazenstad-Received-At"
HEADER_KEY: Final = "Glazenstad-Key"
HEADER_MSG_ID: Final = "Nats-Msg-Id"

DEFAULT_BRIDGE_CLIENT_ID: Final = "glazenstad-jetstream-bridge"

_ORGANISATION = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


class BridgeKeyMissing(SealingKeyError):
    """No sealing key configured: the bridge refuses to put plain payloads in a stream."""


@dataclass(frozen=True)
class ExecutionStreamConfig(QueueConfig):
    """Where the execution stream is and how it is shaped; one per deployment (settings).

    Connected and shaped as the logbook queue (ADR 13), but with a consumer per kind.
    """

    stream: str = "GLAZENSTAD_EXECUTION"
    subject: str = "glazenstad.execution"
    consumer: str = ""  # none for the whole stream: see `consumer_for`
    parking_consumer: str = "parking-pipeline"
    sensor_consumer: str = "sensor-pipeline"
    # Seconds before a batch whose pipeline failed is delivered again.
    retry_delay: float = 2.0
    # A message sealed with a key this feed does not have waits this long before it is offered
    # again (an operator adds the key; the message is never dropped for it).
    unknown_key_delay: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ExecutionStreamConfig | None:
        """The configured stream, or None without NATS (the pipelines consume MQTT)."""
        if not settings.nats_url:
            return None
        return cls(
            url=settings.nats_url,
            stream=settings.nats_execution_stream,
            subject=settings.nats_execution_subject,
            parking_consumer=settings.nats_execution_parking_consumer,
            sensor_consumer=settings.nats_execution_sensor_consumer,
            replicas=settings.nats_replicas,
            ack_wait=settings.nats_ack_wait,
        )

    def filter_for(self, kind: Kind) -> str:
        return self.subject_for(kind, ">")

    def consumer_for(self, kind: Kind) -> str:
        return self.parking_consumer if kind == SCANS else self.sensor_consumer


def sealer_from_settings(settings: Settings) -> Sealer:
    """The configured sealing keys; BridgeKeyMissing when there are none."""
    if settings.nats_execution_keys is None or not settings.nats_execution_keys.get_secret_value():
        raise BridgeKeyMissing(
            "GLAZENSTAD_NATS_EXECUTION_KEYS is not set: scan payloads carry licence plates and "
            "are sealed before they enter JetStream ('k1:' + `openssl rand -base64 32`)"
        )
    return Sealer.from_config(settings.nats_execution_keys.get_secret_value())


def route(topic: str) -> tuple[Kind, str] | None:
    """(kind, organisation subject token) of an MQTT topic; None when it is neither kind.

    An organisation id that cannot be a subject token goes to `_invalid`: the pipeline still
    sees the message and refuses it with a finding, as it does without JetStream.
    """
    parts = topic.split("/")
    if len(parts) != 4 or parts[2] not in SEGMENTS:
        return None
    organisation = parts[1] if _ORGANISATION.fullmatch(parts[1]) else INVALID_ORGANISATION
    return SEGMENTS[parts[2]], organisation


@dataclass(frozen=True)
class Envelope:
    """One message as it goes into the stream: sealed body, headers, subject."""

    subject: str
    headers: dict[str, str]
    body: bytes = field(repr=False)

    @property
    def message_id(self) -> str:
        return self.headers[HEADER_MSG_ID]


def envelope(config: ExecutionStreamConfig, sealer: Sealer, message: Message) -> Envelope | None:
    """The stream message of an MQTT message; None when its topic is of neither kind."""
    routed = route(message.topic)
    if routed is None:
        return None
    kind, organisation = routed
    received_at = message.received_at.isoformat()
    return Envelope(
        subject=config.subject_for(kind, organisation),
        headers={
            HEADER_MSG_ID: sealer.message_id(kind, message.topic, message.payload),
            HEADER_FORMAT: FORMAT,
            HEADER_KIND: kind,
            # Percent-encoded: a header value must stay one line of text.
            HEADER_TOPIC: quote(message.topic, safe="/+-_.~"),
            HEADER_RECEIVED: received_at,
            HEADER_KEY: sealer.kid,
        },
        body=sealer.seal(kind, message.topic, received_at, message.payload),
    )


def unseal(sealer: Sealer, kind: Kind, msg: Msg) -> Message:
    """The MQTT message a stream message carries; SealError when it cannot be opened."""
    headers = msg.headers or {}
    if headers.get(HEADER_FORMAT) != FORMAT:
        raise SealError(f"not an execution message of format {FORMAT}")
    if headers.get(HEADER_KIND) != kind:
        raise SealError(f"not a message of kind {kind}")
    raw_topic = headers.get(HEADER_TOPIC)
    received = headers.get(HEADER_RECEIVED)
    kid = headers.get(HEADER_KEY)
    if raw_topic is None or received is None or kid is None:
        raise SealError("a header is missing (topic, receipt time or key)")
    topic = unquote(raw_topic, errors="surrogateescape")
    try:
        received_at = datetime.fromisoformat(received)
    except ValueError:
        raise SealError("the receipt time is not an ISO 8601 date-time") from None
    payload = sealer.open(kind, topic, received, kid, msg.data)
    try:
        redelivered = msg.metadata.num_delivered > 1
    except (nats.errors.Error, ValueError, AttributeError, IndexError):
        redelivered = False
    return Message(
        topic=topic,
        payload=payload,
        qos=1,
        received_at=received_at,
        duplicate=redelivered,
    )


# --- the bridge --------------------------------------------------------------------------------


@dataclass
class BridgeStats:
    """What a bridge did (read without locking, for progress output and tests)."""

    batches: int = 0
    published: int = 0
    # Already in the stream (a redelivery within the duplicate window): stored once.
    duplicates: int = 0
    # Neither a scan nor a sensor topic (a topic the broker could not decode).
    unroutable: int = 0
    failures: int = 0


class JetStreamBridge:
    """The batch handler that stores MQTT messages in JetStream before they are acknowledged.

    ```
    bridge = JetStreamBridge(config, sealer)
    bridge.start()                       # connects; creates the stream when missing
    consumer = MqttConsumer(url, client_id=..., topics=[...], handler=bridge.handle)
    ```
    `handle` runs on the MQTT consumer's worker thread; the NATS client runs on a loop thread of
    the bridge's own, so keep-alives of both connections go on during a publish.
    """

    def __init__(self, config: ExecutionStreamConfig, sealer: Sealer) -> None:
        self.config = config
        self.sealer = sealer
        self.stats = BridgeStats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Client | None = None
        self._js: JetStreamContext | None = None

    def start(self) -> None:
        """Connect and create the stream when missing; StreamUnavailable when NATS is not there."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="jetstream-bridge", daemon=True
        )
        self._thread.start()
        try:
            self._run(self._connect(), self.config.connect_timeout * 4 + 10)
        except BaseException:
            self.close()
            raise

    async def _connect(self) -> None:
        client = await connect(self.config, name="glazenstad-jetstream-bridge")
        js = client.jetstream(timeout=self.config.publish_timeout)
        try:
            await ensure_stream(js, self.config)
        except (nats.errors.Error, TimeoutError) as exc:
            await client.close()
            raise StreamUnavailable(f"JetStream stream {self.config.stream}: {exc}") from exc
        self._client, self._js = client, js

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        assert self._loop is not None, "call start() first"
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise StreamUnavailable(
                f"JetStream did not answer within {timeout:.0f}s ({self.config.stream})"
            ) from None

    def handle(self, batch: list[Message]) -> None:
        """Publish every message of the batch; return only when JetStream stored all of them.

        Raises StreamUnavailable otherwise: the MQTT consumer then retries the batch without
        acknowledging it (messages already stored are dropped as duplicates on the retry).
        """
        envelopes: list[Envelope] = []
        for message in batch:
            sealed = envelope(self.config, self.sealer, message)
            if sealed is None:
                self.stats.unroutable += 1
                _log.error("an MQTT message on a topic of neither kind was not bridged")
                continue
            envelopes.append(sealed)
        if envelopes:
            stored, duplicates = self._run(
                self._publish(envelopes), self.config.publish_timeout * 2 + 5
            )
            self.stats.published += stored
            self.stats.duplicates += duplicates
        self.stats.batches += 1

    async def _publish(self, envelopes: Sequence[Envelope]) -> tuple[int, int]:
        js = self._js
        assert js is not None, "call start() first"
        # Asynchronous publishes share one reply subscription: about half again as fast as a
        # request per message. Each acknowledgement still comes from JetStream itself.
        pending: list[asyncio.Future[PubAck]] = []
        try:
            for item in envelopes:
                pending.append(
                    await js.publish_async(
                        item.subject,
                        item.body,
                        stream=self.config.stream,
                        headers=dict(item.headers),
                    )
                )
            results: list[PubAck | BaseException] = await asyncio.wait_for(
                asyncio.gather(*pending, return_exceptions=True), self.config.publish_timeout
            )
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            for future in pending:
                future.cancel()
            self.stats.failures += 1
            raise StreamUnavailable(
                f"JetStream did not confirm {len(envelopes)} messages in {self.config.stream} "
                f"({type(exc).__name__})"
            ) from None
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            self.stats.failures += 1
            raise StreamUnavailable(
                f"JetStream stored {len(results) - len(failed)} of {len(results)} messages in "
                f"{self.config.stream} ({type(failed[0]).__name__})"
            )
        duplicates = sum(1 for r in results if isinstance(r, PubAck) and r.duplicate)
        return len(results) - duplicates, duplicates

    def close(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            try:
                asyncio.run_coroutine_threadsafe(client.close(), loop).result(10)
            except Exception as exc:  # closing: nothing is lost, the next start connects anew
                _log.warning("closing the NATS connection: %s", type(exc).__name__)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)
            if not self._thread.is_alive():
                loop.close()
        self._thread = None


def bridge_topics(root: str, kinds: Sequence[Kind] = KINDS) -> list[str]:
    """The MQTT subscriptions of a bridge for `kinds` under topic root `root`."""
    segment = {kind: name for name, kind in SEGMENTS.items()}
    return [f"{root}/+/{segment[kind]}/+" for kind in kinds]


def run_bridge(
    mqtt_url: str,
    config: ExecutionStreamConfig,
    sealer: Sealer,
    *,
    stop: threading.Event,
    client_id: str = DEFAULT_BRIDGE_CLIENT_ID,
    topic_root: str = "glazenstad",
    kinds: Sequence[Kind] = KINDS,
    progress: Callable[[ConsumerStats, BridgeStats], None] | None = None,
    progress_every: float = 1.0,
    batch_size: int = 500,
) -> BridgeStats:
    """Bridge MQTT to JetStream until `stop` is set (for `glazenstad pipeline bridge`).

    The MQTT session is persistent, as for the pipelines: what is published while the bridge is
    away (or while JetStream refuses) waits at the broker.
    """
    if not kinds:
        raise ValueError("bridge at least one kind of message")
    bridge = JetStreamBridge(config, sealer)
    bridge.start()
    try:
        consumer = MqttConsumer(
            mqtt_url,
            client_id=client_id,
            topics=bridge_topics(topic_root, kinds),
            handler=bridge.handle,
            batch_size=batch_size,
        )

        def report(stats: ConsumerStats) -> None:
            if progress is not None:
                progress(stats, bridge.stats)

        consume_until(consumer, stop, report, progress_every)
    finally:
        bridge.close()
    return bridge.stats


# --- the feed ----------------------------------------------------------------------------------


@dataclass
class FeedStats(QueueCounts):
    """What a feed did; `received` and `acknowledged` as the MQTT consumer counts them."""

    received: int = 0
    redelivered: int = 0
    batches: int = 0
    handler_failures: int = 0
    # Could not be opened and never can: terminated (logged with their stream sequence).
    terminated: int = 0
    # Sealed with a key this feed lacks: offered again later.
    waiting_for_key: int = 0

    @property
    def acknowledged(self) -> int:
        """The MQTT consumer's name for `messages`: progress lines read alike for both."""
        return self.messages


@dataclass
class Opened:
    """A fetched batch, opened: what goes to the handler, and what cannot."""

    messages: list[Message] = field(default_factory=list)
    carriers: list[Msg] = field(default_factory=list)
    terminate: list[Msg] = field(default_factory=list)
    later: list[Msg] = field(default_factory=list)


class ExecutionFeed(PullWriter[FeedStats]):
    """Pulls one kind from its shared durable consumer and hands batches to a pipeline."""

    config: ExecutionStreamConfig
    pending_fetches = 4
    log = _log

    def __init__(
        self,
        config: ExecutionStreamConfig,
        sealer: Sealer,
        kind: Kind,
        handler: Callable[[list[Message]], object],
        *,
        fetch: int = 200,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        super().__init__(
            config,
            FeedStats(),
            fetch=fetch,
            consumer=config.consumer_for(kind),
            filter_subject=config.filter_for(kind),
            retry_delay=config.retry_delay,
        )
        self.name = f"{kind}-feed"
        self.sealer = sealer
        self.kind: Kind = kind
        self.handler = handler

    @property
    def stats(self) -> FeedStats:
        """`counts` under the name the MQTT consumer uses (progress output, tests)."""
        return self.counts

    def open(self, fetched: Sequence[Msg]) -> Opened:
        """Unseal the fetched messages (CPU work: run it off the event loop)."""
        opened = Opened()
        for msg in fetched:
            try:
                message = unseal(self.sealer, self.kind, msg)
            except SealError as exc:
                _log.error(
                    "stream message %s of %s: %s", _sequence(msg), self.config.stream, exc.reason
                )
                (opened.later if exc.retry else opened.terminate).append(msg)
                continue
            opened.messages.append(message)
            opened.carriers.append(msg)
        return opened

    def write(self, messages: list[Msg]) -> Settlement:
        """Open the batch and hand it to the pipeline; acknowledged once the handler returned
        (committed), delivered again when it raised. Runs in a thread."""
        self.stats.received += len(messages)
        opened = self.open(messages)
        self.stats.redelivered += sum(1 for m in opened.messages if m.duplicate)
        self.stats.terminated += len(opened.terminate)
        self.stats.waiting_for_key += len(opened.later)
        settlement = Settlement(
            terminate=opened.terminate,
            later=[(msg, self.config.unknown_key_delay) for msg in opened.later],
        )
        if opened.messages:
            try:
                self.handler(opened.messages)
            except Exception as exc:
                self.stats.handler_failures += 1
                _log.error(
                    "%s pipeline failed on a batch of %d (%s); delivered again in %.0fs",
                    self.kind,
                    len(opened.messages),
                    type(exc).__name__,
                    self.retry_delay,
                )
                settlement.retry = opened.carriers
                return settlement
        settlement.ack = opened.carriers
        self.stats.batches += 1
        return settlement


def _sequence(msg: Msg) -> str:
    try:
        return str(msg.metadata.sequence.stream)
    except (nats.errors.Error, ValueError, AttributeError, IndexError):
        return "?"


def run_feed(
    config: ExecutionStreamConfig,
    sealer: Sealer,
    kind: Kind,
    handler: Callable[[list[Message]], object],
    *,
    stop: threading.Event,
    report: Callable[[FeedStats], None] | None = None,
    every: float = 1.0,
    fetch: int = 200,
) -> FeedStats:
    """Run a feed on an event loop of its own until `stop` is set (a threading.Event, set by
    the command's signal handler)."""

    async def main() -> FeedStats:
        feed = ExecutionFeed(config, sealer, kind, handler, fetch=fetch)
        await feed.start()
        try:
            return await feed.run(stop, report=report, every=every)
        finally:
            await feed.close()

    return asyncio.run(main())


def run_parking_feed(
    config: ExecutionStreamConfig,
    sealer: Sealer,
    engine: Engine,
    pseudonymizer: Pseudonymizer,
    *,
    stop: threading.Event,
    checker: Checker | None = None,
    topic_root: str = "glazenstad",
    progress: Callable[[FeedStats, ParkingTotals], None] | None = None,
    progress_every: float = 1.0,
    fetch: int = 200,
    clock: Callable[[], datetime] = utcnow,
) -> ParkingTotals:
    """`glazenstad pipeline parking --from-jetstream`: the scan pipeline fed from the stream."""
    from glazenstad.execution.parking.pipeline import ScanPipeline, in_process_checker

    pipeline = ScanPipeline(
        engine, pseudonymizer, checker or in_process_checker(), topic_root=topic_root, clock=clock
    )

    def report(stats: FeedStats) -> None:
        if progress is not None:
            progress(stats, pipeline.totals)

    run_feed(
        config,
        sealer,
        SCANS,
        pipeline.handle,
        stop=stop,
        report=report,
        every=progress_every,
        fetch=fetch,
    )
    return pipeline.totals


def run_sensor_feed(
    config: ExecutionStreamConfig,
    sealer: Sealer,
    engine: Engine,
    *,
    stop: threading.Event,
    topic_root: str = "glazenstad",
    progress: Callable[[FeedStats, SensorTotals], None] | None = None,
    progress_every: float = 1.0,
    fetch: int = 200,
) -> SensorTotals:
    """`glazenstad pipeline sensors --from-jetstream`: the sensor pipeline fed from the stream."""
    from glazenstad.execution.sensors import SensorPipeline
    from glazenstad.register.store import RegisterStore

    pipeline = SensorPipeline(engine, RegisterStore(engine), topic_root=topic_root)

    def report(stats: FeedStats) -> None:
        if progress is not None:
            progress(stats, pipeline.totals)

    run_feed(
        config,
        sealer,
        SENSORS,
        pipeline.handle,
        stop=stop,
        report=report,
        every=progress_every,
        fetch=fetch,
    )
    return pipeline.totals
