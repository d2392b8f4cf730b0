"""The MQTT consumer against the real Mosquitto: batches, acknowledgement after commit, the
persistent session, reconnecting, and the sensor pipeline end to end into the database.

Every test has its own topic root and client ids, and sessions that expire a minute after the
test, so runs never see each other's messages and the broker keeps nothing for long.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from glazenstad.execution.findings import list_findings
from glazenstad.execution.mqtt import (
    BrokerAddress,
    Message,
    MqttConsumer,
    MqttPublisher,
    MqttUrlError,
    Stages,
    parse_mqtt_url,
)
from glazenstad.execution.sensors import (
    FINDING_UNREGISTERED_SENSOR,
    SensorPipeline,
    sensor_subscription,
)
from glazenstad.execution.simulate_sensors import UNREGISTERED_SENSOR_ID, simulate_sensors
from glazenstad.execution.tables import sensor_measurement
from glazenstad.register.store import RegisterStore
from tests.execution.sensorutil import AIR, ORG, load_sensor_register, wait_for

SESSION_EXPIRY = 60


def _client_id(name: str) -> str:
    return f"gs-test-{name}-{uuid.uuid4().hex[:8]}"


class Recorder:
    """A handler that keeps what it was given (and can be made to wait or fail)."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[Message]] = []
        self.fail = fail
        self.calls = 0
        self.release = threading.Event()
        self.release.set()
        self._lock = threading.Lock()

    def __call__(self, batch: list[Message]) -> None:
        self.release.wait(30)
        with self._lock:
            self.calls += 1
            if self.fail:
                raise RuntimeError("the database is away")
            self.batches.append(list(batch))

    @property
    def payloads(self) -> list[bytes]:
        with self._lock:
            return [m.payload for batch in self.batches for m in batch]


@contextmanager
def consuming(
    url: str,
    client_id: str,
    topic: str,
    handler: Callable[[list[Message]], object] | Stages,
    **kw: int,
) -> Iterator[MqttConsumer]:
    consumer = MqttConsumer(
        url,
        client_id=client_id,
        topics=[topic],
        handler=handler,
        session_expiry=SESSION_EXPIRY,
        **kw,
    )
    consumer.start()
    try:
        assert consumer.wait_ready(15), "the consumer did not connect and subscribe"
        yield consumer
    finally:
        consumer.stop()


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("mqtt://127.0.0.1:1883", BrokerAddress("127.0.0.1", 1883)),
        ("mqtt://broker.example", BrokerAddress("broker.example", 1883)),
        ("mqtts://broker.example", BrokerAddress("broker.example", 8883, tls=True)),
        (
            "mqtt://sensor%40gs:geheim@broker.example:1884/",
            BrokerAddress("broker.example", 1884, username="sensor@gs", password="geheim"),
        ),
    ],
)
def test_broker_urls_are_parsed(url: str, address: BrokerAddress) -> None:
    assert parse_mqtt_url(url) == address


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://broker.example", "must start with mqtt:// or mqtts://"),
        ("127.0.0.1:1883", "must start with mqtt://"),
        ("mqtt://", "names no host"),
        ("mqtt://user:geheim@broker.example:port", "invalid port"),
        ("mqtt://user:geheim@broker.example/sensoren", "has no path"),
    ],
)
def test_bad_broker_urls_say_why_without_the_password(url: str, reason: str) -> None:
    with pytest.raises(MqttUrlError) as caught:
        parse_mqtt_url(url)
    assert reason in str(caught.value)
    assert "geheim" not in str(caught.value)


def test_messages_arrive_in_order_in_batches(mqtt_url: str, mqtt_topic_root: str) -> None:
    recorder = Recorder()
    topic = f"{mqtt_topic_root}/batch"
    with consuming(
        mqtt_url, _client_id("batch"), topic, recorder, batch_size=20, batch_wait=2
    ) as consumer:
        with MqttPublisher(mqtt_url) as publisher:
            for n in range(50):
                publisher.publish(topic, f"{n}".encode())
        wait_for(lambda: len(recorder.payloads) == 50, what="50 messages")
        wait_for(lambda: consumer.stats.acknowledged == 50, what="50 acknowledgements")
    assert recorder.payloads == [f"{n}".encode() for n in range(50)]
    sizes = [len(batch) for batch in recorder.batches]
    assert max(sizes) <= 20
    assert len(sizes) < 50


def test_a_message_is_acknowledged_only_after_the_handler_returns(
    mqtt_url: str, mqtt_topic_root: str
) -> None:
    recorder = Recorder()
    recorder.release.clear()
    topic = f"{mqtt_topic_root}/ack"
    with consuming(mqtt_url, _client_id("ack"), topic, recorder) as consumer:
        with MqttPublisher(mqtt_url) as publisher:
            publisher.publish(topic, b"one")
        wait_for(lambda: consumer.stats.received == 1, what="the message to arrive")
        assert consumer.stats.acknowledged == 0
        recorder.release.set()
        wait_for(lambda: consumer.stats.acknowledged == 1, what="the acknowledgement")
    assert recorder.payloads == [b"one"]


def test_a_failed_batch_is_delivered_again_after_reconnecting(
    mqtt_url: str, mqtt_topic_root: str
) -> None:
    client_id = _client_id("redeliver")
    topic = f"{mqtt_topic_root}/redeliver"
    failing = Recorder(fail=True)
    with consuming(mqtt_url, client_id, topic, failing) as consumer:
        with MqttPublisher(mqtt_url) as publisher:
            publisher.publish(topic, b"keep me")
        wait_for(lambda: failing.calls >= 1, what="the failing handler to be called")
        assert consumer.stats.acknowledged == 0
    assert failing.payloads == []

    working = Recorder()
    with consuming(mqtt_url, client_id, topic, working) as consumer:
        wait_for(lambda: working.payloads == [b"keep me"], what="the redelivery")
        wait_for(lambda: consumer.stats.acknowledged == 1, what="the acknowledgement")
        assert consumer.stats.session_present

    # Acknowledged now: a third run gets only what is new.
    third = Recorder()
    with consuming(mqtt_url, client_id, topic, third):
        with MqttPublisher(mqtt_url) as publisher:
            publisher.publish(topic, b"new")
        wait_for(lambda: len(third.payloads) >= 1, what="the new message")
    assert third.payloads == [b"new"]


class TwoSteps:
    """A staged handler that records the order of its steps; its commits can be held back
    (`release`) or made to fail a number of times."""

    def __init__(self, failures: int = 0) -> None:
        self.steps: list[tuple[str, bytes]] = []
        self.failures = failures
        self.release = threading.Event()
        self.release.set()
        self._lock = threading.Lock()

    def prepare(self, batch: list[Message]) -> bytes:
        with self._lock:
            self.steps.append(("prepare", batch[0].payload))
        return batch[0].payload

    def commit(self, prepared: bytes) -> None:
        self.release.wait(30)
        with self._lock:
            if self.failures:
                self.failures -= 1
                self.steps.append(("failed", prepared))
                raise RuntimeError("the database is away")
            self.steps.append(("commit", prepared))

    @property
    def stages(self) -> Stages:
        return Stages(self.prepare, self.commit)


def test_in_stages_the_next_batch_is_prepared_while_one_commits(
    mqtt_url: str, mqtt_topic_root: str
) -> None:
    handler = TwoSteps()
    handler.release.clear()  # the first commit waits until we let it go
    topic = f"{mqtt_topic_root}/stages"
    with consuming(mqtt_url, _client_id("stages"), topic, handler.stages, batch_size=1) as consumer:
        with MqttPublisher(mqtt_url) as publisher:
            publisher.publish(topic, b"1")
            publisher.publish(topic, b"2")
        wait_for(
            lambda: ("prepare", b"2") in handler.steps,
            what="the second batch prepared while the first commit is held",
        )
        assert consumer.stats.acknowledged == 0  # nothing committed yet
        assert ("commit", b"1") not in handler.steps
        handler.release.set()
        wait_for(lambda: consumer.stats.acknowledged == 2, what="both acknowledged")
    commits = [payload for step, payload in handler.steps if step == "commit"]
    assert commits == [b"1", b"2"]  # one at a time, in order


def test_in_stages_a_failed_commit_is_retried_with_what_was_prepared(
    mqtt_url: str, mqtt_topic_root: str
) -> None:
    handler = TwoSteps(failures=2)
    topic = f"{mqtt_topic_root}/stages-retry"
    with consuming(
        mqtt_url, _client_id("stages-retry"), topic, handler.stages, retry_min=0.05
    ) as consumer:
        with MqttPublisher(mqtt_url) as publisher:
            publisher.publish(topic, b"keep me")
        wait_for(lambda: consumer.stats.acknowledged == 1, what="the acknowledgement")
        assert consumer.stats.handler_failures == 2
    assert handler.steps == [
        ("prepare", b"keep me"),
        ("failed", b"keep me"),
        ("failed", b"keep me"),
        ("commit", b"keep me"),
    ]


def test_in_stages_a_batch_whose_commit_never_succeeds_is_delivered_again(
    mqtt_url: str, mqtt_topic_root: str
) -> None:
    client_id = _client_id("stages-redeliver")
    topic = f"{mqtt_topic_root}/stages-redeliver"
    failing = TwoSteps(failures=1_000)
    with consuming(mqtt_url, client_id, topic, failing.stages) as consumer:
        with MqttPublisher(mqtt_url) as publisher:
            publisher.publish(topic, b"keep me")
        wait_for(lambda: ("failed", b"keep me") in failing.steps, what="a failed commit")
    assert consumer.stats.acknowledged == 0

    working = TwoSteps()
    with consuming(mqtt_url, client_id, topic, working.stages) as consumer:
        wait_for(lambda: consumer.stats.acknowledged == 1, what="the redelivery acknowledged")
    assert working.steps == [("prepare", b"keep me"), ("commit", b"keep me")]


def test_messages_published_while_away_arrive_on_return(
    mqtt_url: str, mqtt_topic_root: str
) -> None:
    client_id = _client_id("session")
    topic = f"{mqtt_topic_root}/session"
    with consuming(mqtt_url, client_id, topic, Recorder()):
        pass  # subscribed once: the broker now keeps a session for this client id

    with MqttPublisher(mqtt_url) as publisher:
        for n in range(5):
            publisher.publish(topic, f"away {n}".encode())

    back = Recorder()
    with consuming(mqtt_url, client_id, topic, back) as consumer:
        wait_for(lambda: len(back.payloads) == 5, what="the queued messages")
        assert consumer.stats.session_present
    assert back.payloads == [f"away {n}".encode() for n in range(5)]


def test_the_consumer_reconnects_after_losing_the_broker(
    mqtt_url: str, mqtt_topic_root: str
) -> None:
    recorder = Recorder()
    topic = f"{mqtt_topic_root}/reconnect"
    with consuming(mqtt_url, _client_id("reconnect"), topic, recorder) as consumer:
        connection = consumer._client.socket()
        assert isinstance(connection, socket.socket)
        connection.shutdown(socket.SHUT_RDWR)  # as when the broker restarts
        wait_for(lambda: consumer.stats.connections == 2, what="a second connection")
        assert consumer.wait_ready(15)
        with MqttPublisher(mqtt_url) as publisher:
            publisher.publish(topic, b"after")
        wait_for(lambda: recorder.payloads == [b"after"], what="a message after reconnecting")


def test_sensor_messages_flow_over_mosquitto_into_the_database(
    engine: Engine, tmp_path: Path, mqtt_url: str, mqtt_topic_root: str
) -> None:
    load_sensor_register(engine, tmp_path)
    register = RegisterStore(engine)
    pipeline = SensorPipeline(engine, register, topic_root=mqtt_topic_root)
    with consuming(
        mqtt_url,
        _client_id("sensors"),
        sensor_subscription(mqtt_topic_root),
        pipeline.handle,
        batch_size=25,
    ) as consumer:
        result = simulate_sensors(
            register.snapshot(),
            rate=200,
            duration=0.5,
            mqtt_url=mqtt_url,
            topic_root=mqtt_topic_root,
            unregistered=2,
            realtime=False,
            seed=3,
        )
        assert result.published == 100
        # Not under the subscription: never reaches the pipeline.
        with MqttPublisher(mqtt_url) as publisher:
            publisher.publish(f"{mqtt_topic_root}/{ORG}/scanauto/{AIR}", b"{}")
        wait_for(lambda: consumer.stats.acknowledged == 100, timeout=30, what="100 acks")

    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(sensor_measurement)).scalar()
    assert stored == 98 * 3
    assert pipeline.totals.accepted == 98
    findings = list_findings(engine, ORG)
    assert [(f.kind, f.subject, f.count) for f in findings] == [
        (FINDING_UNREGISTERED_SENSOR, UNREGISTERED_SENSOR_ID, 2)
    ]
