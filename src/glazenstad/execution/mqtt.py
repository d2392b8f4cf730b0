"""MQTT for the execution pipelines: a batching consumer that acknowledges only what is stored.

Sensors and scan cars publish over MQTT v5 with QoS 1. The consumer keeps a persistent session
(fixed client id, `clean_start=False`, a session expiry interval), so the broker queues what is
published while the pipeline is away and delivers it on return. Acknowledgement is manual: a
message is acknowledged (PUBACK) only after the handler has returned for the batch that holds it,
i.e. after the handler committed it. A crash before that leaves the message unacknowledged, and
the broker delivers it again on the next connection. Delivery is therefore at least once, and a
handler must store idempotently (see docs/adr/0010-mqtt-consumer.md).

Messages go to the handler in batches (up to `batch_size`, or what arrived within `batch_wait`
seconds), because one database commit per batch is what makes a pipeline fast. The handler runs
on a worker thread of its own, never on the network thread, so a slow commit does not stop
keep-alives. Acknowledgements are sent in the order the messages arrived, as MQTT requires.

A handler that raises is called again with the same batch after a growing pause (the messages
stay unacknowledged meanwhile, so the broker holds back new ones once its in-flight window is
full). A handler should therefore reject bad input itself and raise only when storing fails.

A handler given as `Stages` works in two steps: `prepare` (parse, decide, build rows: mostly
computing) and `commit` (write: mostly waiting on the database). The consumer then prepares the
next batch while the previous one commits, on a thread of its own. Commits run one at a time
and in arrival order, and each batch is acknowledged only after its commit returned, so
acknowledgements keep their order and their meaning.

Packet ids belong to one connection. After a reconnect the broker sends unacknowledged messages
again, possibly under other ids, so a message received on an earlier connection is still handled
but never acknowledged on the new one (its redelivery is; the handler sees it twice).

Nothing here logs a payload or a topic: scan payloads carry licence plates.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from glazenstad.db.base import utcnow

log = logging.getLogger(__name__)

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
# How long the broker keeps our session (subscriptions and queued QoS 1 messages) while the
# pipeline is away: a week covers a long weekend of maintenance.
DEFAULT_SESSION_EXPIRY = 7 * 24 * 3600
MAX_RECEIVE = 65_535


class MqttUrlError(ValueError):
    """A broker URL that cannot be used; the message never repeats a password."""


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is, parsed from `mqtt://[user[:password]@]host[:port]` (or mqtts://)."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_mqtt_url(url: str) -> BrokerAddress:
    """Parse a broker URL as `GLAZENSTAD_MQTT_URL` holds it, e.g. `mqtt://127.0.0.1:1883`."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise MqttUrlError("the MQTT URL has an invalid port") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts"):
        raise MqttUrlError(
            f"the MQTT URL must start with mqtt:// or mqtts:// (got {scheme or 'no scheme'!r})"
        )
    if not parts.hostname:
        raise MqttUrlError("the MQTT URL names no host, e.g. mqtt://127.0.0.1:1883")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise MqttUrlError("the MQTT URL of a broker has no path, query or fragment")
    tls = scheme == "mqtts"
    return BrokerAddress(
        host=parts.hostname,
        port=port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


@dataclass(frozen=True, slots=True)
class Message:
    """One received message. `generation` is the connection it came in on (0: in process)."""

    topic: str
    payload: bytes = field(repr=False)
    qos: int = 0
    retain: bool = False
    received_at: datetime = field(default_factory=utcnow)
    mid: int = 0
    generation: int = 0
    duplicate: bool = False


BatchHandler = Callable[[list[Message]], object]
# Put in the consumer's queue when a commit ends, so that a worker waiting for messages wakes
# to acknowledge it; never handed to a handler.
_COMMITTED = Message(topic="", payload=b"")


@dataclass(frozen=True)
class Stages:
    """A batch handler in two steps, so that preparing one batch overlaps committing the last.

    `prepare(messages)` returns what `commit` writes. Either may raise to be called again after
    a pause; `commit` is then called again with the same prepared value, so it must skip what
    an earlier attempt stored.
    """

    prepare: Callable[[list[Message]], Any]
    commit: Callable[[Any], object]


@dataclass
class ConsumerStats:
    """Counters of a consumer, for progress output and tests (read without locking)."""

    received: int = 0
    handled: int = 0
    acknowledged: int = 0
    # Handled on an earlier connection: left to the broker's redelivery.
    not_acknowledged: int = 0
    batches: int = 0
    handler_failures: int = 0
    connections: int = 0
    session_present: bool = False


def _where(exc: BaseException) -> str:
    """The frames an exception passed, without its message (which may hold payload data)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return " < ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in reversed(frames[-6:]))


def _client(address: BrokerAddress, client_id: str) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=True,
    )
    if address.tls:
        client.tls_set()
    if address.username is not None:
        client.username_pw_set(address.username, address.password)
    return client


class MqttConsumer:
    """Subscribe with a persistent session and hand messages to `handler` in batches.

    ```
    with MqttConsumer(url, client_id="glazenstad-sensors", topics=["glazenstad/+/sensoren/+"],
                      handler=pipeline.handle) as consumer:
        consumer.wait_ready(10)
        stop_event.wait()
    ```
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        topics: Sequence[str],
        handler: BatchHandler | Stages,
        qos: int = 1,
        batch_size: int = 500,
        batch_wait: float = 0.2,
        batch_idle: float = 0.01,
        session_expiry: int = DEFAULT_SESSION_EXPIRY,
        keepalive: int = 30,
        reconnect_min: int = 1,
        reconnect_max: int = 30,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
    ) -> None:
        if not client_id:
            raise ValueError("a persistent session needs a fixed, non-empty client id")
        if not topics:
            raise ValueError("subscribe to at least one topic")
        if qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        if batch_size < 1 or batch_wait <= 0 or batch_idle <= 0:
            raise ValueError("batch_size must be at least 1, batch_wait and batch_idle positive")
        self.address = parse_mqtt_url(url)
        self.client_id = client_id
        self.topics = list(topics)
        self.qos = qos
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.batch_idle = batch_idle
        self.session_expiry = session_expiry
        self.keepalive = keepalive
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.stats = ConsumerStats()
        self._handler = handler
        self._queue: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._generation = 0
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._client = _client(self.address, client_id)
        self._client.reconnect_delay_set(reconnect_min, reconnect_max)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_connect_fail = self._on_connect_fail

    # --- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers) and start handling."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.session_expiry
        # Let the broker send the next batch while this one commits, and no more than that.
        properties.ReceiveMaximum = min(MAX_RECEIVE, 2 * self.batch_size)
        self._client.connect_async(
            self.address.host,
            self.address.port,
            keepalive=self.keepalive,
            clean_start=False,
            properties=properties,
        )
        self._worker = threading.Thread(
            target=self._work, name=f"mqtt-handler-{self.client_id}", daemon=True
        )
        self._worker.start()
        self._client.loop_start()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until connected and subscribed; False when that did not happen within `timeout`."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def stop(self, timeout: float = 10.0) -> None:
        """Handle and acknowledge what has arrived, then disconnect; the session stays.

        A batch whose handler keeps failing is left unacknowledged for the next run.
        """
        self._stopping.set()
        if self._worker is not None:
            self._worker.join(timeout)
            if self._worker.is_alive():
                log.warning("MQTT handler of %s did not finish within %ss", self.client_id, timeout)
        self._client.disconnect()
        self._client.loop_stop()
        self._ready.clear()

    def __enter__(self) -> MqttConsumer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- network thread callbacks ------------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.warning(
                "MQTT broker %s:%s refused %s: %s",
                self.address.host,
                self.address.port,
                self.client_id,
                reason_code,
            )
            return
        with self._lock:
            self._generation += 1
        self.stats.connections += 1
        self.stats.session_present = bool(flags.session_present)
        log.info(
            "MQTT %s connected to %s:%s (session %s)",
            self.client_id,
            self.address.host,
            self.address.port,
            "resumed" if flags.session_present else "new",
        )
        # Subscribe on every connect: a resumed session has the subscriptions already (this is
        # then a no-op), an expired or lost one needs them again.
        options = SubscribeOptions(
            qos=self.qos, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB
        )
        client.subscribe([(topic, options) for topic in self.topics])

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _mid: int,
        reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        refused = [code for code in reason_codes if code.is_failure]
        if refused:
            log.error("MQTT broker refused a subscription of %s: %s", self.client_id, refused)
            return
        self._ready.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        # From here on, packet ids of the old connection mean nothing: nothing received on it
        # is acknowledged any more.
        with self._lock:
            self._generation += 1
        self._ready.clear()
        if not self._stopping.is_set():
            log.warning(
                "MQTT %s lost the connection (%s); reconnecting", self.client_id, reason_code
            )

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        log.warning(
            "MQTT broker %s:%s not reachable for %s; retrying",
            self.address.host,
            self.address.port,
            self.client_id,
        )

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # the broker should have refused it; the handler rejects it
            topic = "\ufffd"
        self.stats.received += 1
        self._queue.put(
            Message(
                topic=topic,
                payload=bytes(message.payload),
                qos=message.qos,
                retain=bool(message.retain),
                mid=message.mid,
                generation=self._generation,
                duplicate=bool(message.dup),
            )
        )

    # --- worker thread -----------------------------------------------------------------------

    def _work(self) -> None:
        if isinstance(self._handler, Stages):
            self._work_in_stages(self._handler)
            return
        handler = self._handler
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if not batch:
                continue
            if not self._until_done(partial(handler, batch), len(batch))[0]:
                return
            self._handled(batch)
            self._acknowledge(batch)

    def _work_in_stages(self, stages: Stages) -> None:
        """Prepare batch N+1 here while batch N commits on the committer thread."""
        committer = ThreadPoolExecutor(1, thread_name_prefix=f"mqtt-commit-{self.client_id}")
        # The batch being committed, and whether its commit succeeded (False: stopped first).
        pending: tuple[list[Message], Future[bool]] | None = None
        try:
            while True:
                batch = self._next_batch(wake=pending[1] if pending else None)
                if batch is None:
                    break
                prepared: Any = None
                if batch:
                    ok, prepared = self._until_done(partial(stages.prepare, batch), len(batch))
                    if not ok:
                        break
                if pending is not None and (batch or pending[1].done()):
                    done, committed = pending
                    pending = None
                    if not committed.result():
                        break
                    self._acknowledge(done)
                if batch:
                    committing = committer.submit(self._commit_stage, stages, prepared, batch)
                    committing.add_done_callback(lambda _: self._queue.put(_COMMITTED))
                    pending = (batch, committing)
            if pending is not None and pending[1].result():
                self._acknowledge(pending[0])
        finally:
            committer.shutdown(wait=True)

    def _commit_stage(self, stages: Stages, prepared: Any, batch: list[Message]) -> bool:
        ok, _ = self._until_done(partial(stages.commit, prepared), len(batch))
        if ok:
            self._handled(batch)
        return ok

    def _next_batch(self, wake: Future[bool] | None = None) -> list[Message] | None:
        """Up to `batch_size` messages, waiting at most `batch_wait` after the first and at most
        `batch_idle` for each next one; None once stopping with nothing left. While no message
        has come, an empty batch as soon as `wake` is done (a commit to acknowledge).

        The idle gap matters: a broker sends only so many unacknowledged messages (Mosquitto's
        `max_inflight_messages`, 20 by default), and these are acknowledged only after their
        batch commits, so waiting for a fuller batch would wait for messages that cannot come.
        """
        first = self._first(wake)
        if first is None:
            return None if self._stopping.is_set() and wake is None else []
        batch = [first]
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                message = self._queue.get(timeout=min(remaining, self.batch_idle))
            except queue.Empty:
                break
            if message is not _COMMITTED:
                batch.append(message)
        return batch

    def _first(self, wake: Future[bool] | None) -> Message | None:
        """The next message within 0.1 s; None sooner once `wake` is done."""
        deadline = time.monotonic() + 0.1
        while True:
            remaining = deadline - time.monotonic()
            if (wake is not None and wake.done()) or remaining <= 0:
                return None
            try:
                message = self._queue.get(timeout=remaining)
            except queue.Empty:
                return None
            if message is not _COMMITTED:
                return message

    def _until_done(self, action: Callable[[], Any], size: int) -> tuple[bool, Any]:
        """Call `action` until it succeeds: (True, its result); (False, None) when stopping
        first (nothing of the batch is acknowledged then)."""
        delay = self.retry_min
        while True:
            try:
                return True, action()
            except Exception as exc:
                self.stats.handler_failures += 1
                log.error(
                    "MQTT handler of %s failed on a batch of %d (%s at %s); retrying in %.1fs",
                    self.client_id,
                    size,
                    type(exc).__name__,
                    _where(exc),
                    delay,
                )
                if self._stopping.wait(delay):
                    return False, None
                delay = min(delay * 2, self.retry_max)

    def _handled(self, batch: list[Message]) -> None:
        self.stats.handled += len(batch)
        self.stats.batches += 1

    def _acknowledge(self, batch: list[Message]) -> None:
        # Under the lock, so a reconnect cannot come between the generation check and the ack.
        with self._lock:
            current = self._generation
            for message in batch:
                if message.qos == 0:
                    continue
                if message.generation == current:
                    self._client.ack(message.mid, message.qos)
                    self.stats.acknowledged += 1
                else:
                    self.stats.not_acknowledged += 1


def consume_until(
    consumer: MqttConsumer,
    stop: threading.Event,
    report: Callable[[ConsumerStats], None] | None = None,
    every: float = 1.0,
) -> None:
    """Run `consumer` until `stop` is set; `report` its figures every `every` s and at the end.

    How the pipelines' commands run: the command sets `stop` on Ctrl-C or SIGTERM.
    """
    consumer.start()
    try:
        while not stop.wait(every):
            if report is not None:
                report(consumer.stats)
    finally:
        consumer.stop()
    if report is not None:
        report(consumer.stats)


class MqttPublisher:
    """A small publisher for simulators and tests: connect, publish (QoS 1 by default), flush.

    ```
    with MqttPublisher("mqtt://127.0.0.1:1883") as publisher:
        publisher.publish("glazenstad/voorbeeldstad/sensoren/x", b"{...}")
    ```
    Leaving the block waits until the broker has acknowledged every QoS 1 message.
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str | None = None,
        qos: int = 1,
        timeout: float = 10.0,
        max_inflight: int = 100,
    ) -> None:
        self.address = parse_mqtt_url(url)
        self.client_id = client_id or f"glazenstad-publisher-{uuid.uuid4().hex[:12]}"
        self.qos = qos
        self.timeout = timeout
        self._pending: deque[mqtt.MQTTMessageInfo] = deque()
        self._connected = threading.Event()
        self._client = _client(self.address, self.client_id)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect

    def _on_connect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if not reason_code.is_failure:
            self._connected.set()

    def _on_disconnect(self, *_args: Any) -> None:
        self._connected.clear()

    def connect(self) -> None:
        """Connect and wait for the broker's answer; ConnectionError when it does not come."""
        try:
            self._client.connect(self.address.host, self.address.port, keepalive=30)
        except OSError as exc:
            raise ConnectionError(
                f"MQTT broker {self.address.host}:{self.address.port} not reachable "
                f"({type(exc).__name__})"
            ) from exc
        self._client.loop_start()
        if not self._connected.wait(self.timeout):
            self._client.loop_stop()
            raise ConnectionError(
                f"MQTT broker {self.address.host}:{self.address.port} did not accept the "
                f"connection within {self.timeout}s"
            )

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int | None = None, retain: bool = False
    ) -> None:
        """Queue one message; paho sends it (and resends it after a reconnect, for QoS 1)."""
        info = self._client.publish(
            topic, payload, qos=self.qos if qos is None else qos, retain=retain
        )
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"MQTT publish failed: {mqtt.error_string(info.rc)}")
        self._pending.append(info)
        while self._pending and self._pending[0].is_published():
            self._pending.popleft()

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every message published so far has been acknowledged by the broker."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self._pending)} MQTT messages not acknowledged in time")
            info = self._pending[0]
            info.wait_for_publish(remaining)
            if info.is_published():
                self._pending.popleft()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._client.disconnect()
            self._client.loop_stop()

    def __enter__(self) -> MqttPublisher:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._client.disconnect()
            self._client.loop_stop()
