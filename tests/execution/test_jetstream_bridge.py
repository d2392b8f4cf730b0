"""Scan and sensor messages through JetStream: MQTT bridge → stream (sealed) → pipeline feed.

Against the real Mosquitto and the real NATS server: every test has its own topic root, stream,
subjects and consumers (deleted afterwards). The pipeline side runs on SQLite and PostgreSQL.
Without NATS (or Mosquitto) the tests are skipped, with CI=true they fail.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from glazenstad.db.base import utcnow
from glazenstad.db.engine import make_engine, migrate
from glazenstad.execution.findings import list_findings
from glazenstad.execution.jetstream import (
    HEADER_KEY,
    HEADER_TOPIC,
    INVALID_ORGANISATION,
    BridgeStats,
    Envelope,
    ExecutionFeed,
    ExecutionStreamConfig,
    JetStreamBridge,
    Kind,
    bridge_topics,
    envelope,
    route,
    run_bridge,
    run_parking_feed,
    run_sensor_feed,
    unseal,
)
from glazenstad.execution.mqtt import ConsumerStats, Message, MqttConsumer, MqttPublisher
from glazenstad.execution.parking.pipeline import PipelineTotals, encode_scan, scan_topic
from glazenstad.execution.parking.tables import parking_case, parking_hourly, parking_scan
from glazenstad.execution.sealing import (
    Sealer,
    SealError,
    SealingKeyError,
    new_key_config,
    parse_sealing_keys,
)
from glazenstad.execution.sensors import (
    FINDING_INVALID_MESSAGE,
    FINDING_UNREGISTERED_SENSOR,
    SensorPipeline,
    encode_reading,
    sensor_topic,
)
from glazenstad.execution.tables import sensor_measurement
from glazenstad.logbook.stream import StreamUnavailable
from glazenstad.register.store import RegisterStore
from glazenstad.sources.identifiers import normalize_kenteken
from tests.conftest import free_port
from tests.execution.sensorutil import AIR, ORG, load_sensor_register, wait_for
from tests.parking.conftest import CAR, ZONE, Setup, make_setup
from tests.parking.conftest import ORG as PARKING_ORG
from tests.scale.conftest import NATS_URL, require_nats, run_until
from tests.scale.nats_cluster import nats_cluster

DEADLINE = 60.0


@pytest.fixture
def stream() -> Iterator[ExecutionStreamConfig]:
    """A stream, subject prefix and consumers of this test's own, deleted afterwards."""
    require_nats()
    tag = uuid.uuid4().hex[:12]
    config = ExecutionStreamConfig(
        url=NATS_URL,
        stream=f"GS_TEST_{tag}",
        subject=f"gs-test-{tag}.execution",
        parking_consumer=f"parking-{tag}",
        sensor_consumer=f"sensors-{tag}",
        ack_wait=2.0,
        retry_delay=0.2,
        unknown_key_delay=0.5,
    )
    yield config
    asyncio.run(_delete_stream(config.stream))


async def _delete_stream(name: str) -> None:
    client = await nats.connect(NATS_URL)
    try:
        await client.jetstream().delete_stream(name)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await client.close()


@pytest.fixture
def sealer() -> Sealer:
    return Sealer.from_config(new_key_config("t1"))


@dataclass
class StoredMessage:
    subject: str
    headers: dict[str, str]
    data: bytes


async def _stream_contents(config: ExecutionStreamConfig) -> list[StoredMessage]:
    """Every message the stream holds now, read back directly (not consumed)."""
    client = await nats.connect(config.url)
    try:
        js = client.jetstream()
        info = await js.stream_info(config.stream)
        found: list[StoredMessage] = []
        if not info.state.messages:
            return found
        for sequence in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                message: Any = await js.get_msg(config.stream, sequence)
            except nats.js.errors.NotFoundError:
                continue
            found.append(
                StoredMessage(message.subject, dict(message.headers or {}), message.data or b"")
            )
        return found
    finally:
        await client.close()


def stream_contents(config: ExecutionStreamConfig) -> list[StoredMessage]:
    return asyncio.run(_stream_contents(config))


def bridge_over_mqtt(
    mqtt_url: str,
    config: ExecutionStreamConfig,
    sealer: Sealer,
    root: str,
    messages: list[tuple[str, bytes]],
) -> JetStreamBridge:
    """Publish `messages` over Mosquitto through a running bridge; return once every one of
    them is stored in JetStream and acknowledged to the broker."""
    bridge = JetStreamBridge(config, sealer)
    bridge.start()
    consumer = MqttConsumer(
        mqtt_url,
        client_id=f"gs-test-bridge-{uuid.uuid4().hex[:8]}",
        topics=bridge_topics(root),
        handler=bridge.handle,
        batch_size=50,
        batch_wait=0.05,
    )
    try:
        with consumer:
            assert consumer.wait_ready(10)
            with MqttPublisher(mqtt_url) as device:
                for topic, payload in messages:
                    device.publish(topic, payload)
            wait_for(
                lambda: consumer.stats.acknowledged >= len(messages),
                timeout=30,
                what=f"{len(messages)} messages acknowledged ({consumer.stats}, {bridge.stats})",
            )
    finally:
        bridge.close()
    assert bridge.stats.published + bridge.stats.duplicates == len(messages)
    return bridge


def feed_until(
    config: ExecutionStreamConfig,
    sealer: Sealer,
    kind: Kind,
    handler: Callable[[list[Message]], object],
    acknowledged: int,
    *,
    fetch: int = 20,
) -> ExecutionFeed:
    """Run a feed until it has acknowledged `acknowledged` messages (fails after DEADLINE)."""

    return asyncio.run(
        run_until(
            ExecutionFeed(config, sealer, kind, handler, fetch=fetch),
            lambda feed: feed.stats.acknowledged >= acknowledged,
            lambda feed: f"only {feed.stats} of {acknowledged}",
            DEADLINE,
        )
    )


def wait_until_empty(config: ExecutionStreamConfig) -> None:
    """A work-queue stream drops what was acknowledged (acks travel asynchronously)."""
    wait_for(lambda: not stream_contents(config), timeout=15, what="the stream to be drained")


# --- sealing and routing, no services -----------------------------------------------------------


def _msg(sealed: Envelope) -> Msg:
    """The envelope as a feed would receive it (without the JetStream reply metadata)."""
    return Msg(
        _client=None,  # type: ignore[arg-type]
        subject=sealed.subject,
        data=sealed.body,
        headers=dict(sealed.headers),
    )


def test_a_sealed_message_opens_to_the_same_message_and_holds_no_plate() -> None:
    sealer = Sealer.from_config(new_key_config("t1"))
    config = ExecutionStreamConfig(url="nats://127.0.0.1:4222", subject="x.execution")
    payload = encode_scan("s-1", "AB-12-CD", ZONE, 52.1, 5.1, utcnow(), "foto://1")
    message = Message(topic=scan_topic(PARKING_ORG, CAR), payload=payload, qos=1)
    sealed = envelope(config, sealer, message)
    assert sealed is not None
    assert sealed.subject == f"x.execution.scans.{PARKING_ORG}"
    assert b"AB-12-CD" not in sealed.body and b"AB12CD" not in sealed.body
    assert b"s-1" not in sealed.body  # the whole payload is sealed, not only the plate
    opened = unseal(sealer, "scans", _msg(sealed))
    assert (opened.topic, opened.payload, opened.received_at) == (
        message.topic,
        message.payload,
        message.received_at,
    )
    # The same MQTT message gets the same id (a redelivery is dropped), another key another one.
    again = envelope(config, sealer, replace(message, received_at=utcnow()))
    assert again is not None and again.message_id == sealed.message_id
    assert again.body != sealed.body  # a fresh nonce every time
    other = envelope(config, Sealer.from_config(new_key_config("t1")), message)
    assert other is not None and other.message_id != sealed.message_id


def test_an_altered_or_foreign_message_does_not_open() -> None:
    sealer = Sealer.from_config(new_key_config("t1"))
    config = ExecutionStreamConfig(url="nats://127.0.0.1:4222")
    message = Message(topic=sensor_topic(ORG, AIR), payload=b'{"values": {}}', qos=1)
    sealed = envelope(config, sealer, message)
    assert sealed is not None
    moved = _msg(sealed)
    assert moved.headers is not None
    moved.headers[HEADER_TOPIC] = sensor_topic("andere-gemeente", AIR)
    with pytest.raises(SealError) as caught:
        unseal(sealer, "sensors", moved)
    assert not caught.value.retry  # changed in the stream: it never opens, it is terminated
    with pytest.raises(SealError, match="not a message of kind scans"):
        unseal(sealer, "scans", _msg(sealed))
    with pytest.raises(SealError) as unknown:
        unseal(Sealer.from_config(new_key_config("t2")), "sensors", _msg(sealed))
    assert unknown.value.retry  # a key this feed lacks: wait for the operator to add it
    rotated = Sealer(parse_sealing_keys(f"{new_key_config('t2')},") + sealer.keys)
    assert unseal(rotated, "sensors", _msg(sealed)).payload == message.payload


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ("", "no sealing key"),
        ("k1", "expected '<kid>:<base64 key>'"),
        ("k1:not base64!", "not valid base64"),
        ("k1:" + "QUJD", "must be 32 bytes"),
        (f"{new_key_config('k1')},{new_key_config('k1')}", "given twice"),
    ],
    # The keys are random: ids without them, so every test process collects the same names.
    ids=["empty", "no-kid", "not-base64", "too-short", "kid-twice"],
)
def test_bad_key_configurations_are_refused_without_showing_the_key(
    config: str, reason: str
) -> None:
    with pytest.raises(SealingKeyError, match=reason) as caught:
        parse_sealing_keys(config)
    secret = config.partition(":")[2]
    assert not secret or secret[:8] not in str(caught.value)


def test_routing_by_topic() -> None:
    assert route(scan_topic("voorbeeldstad", "car-1")) == ("scans", "voorbeeldstad")
    assert route(sensor_topic("teststad", "lucht-1")) == ("sensors", "teststad")
    # The pipeline refuses these with a finding; the bridge must still carry them there.
    assert route("glazenstad/Teststad/sensoren/x") == ("sensors", INVALID_ORGANISATION)
    assert route("glazenstad/a.b/scanauto/x") == ("scans", INVALID_ORGANISATION)
    assert route("glazenstad/teststad/overig/x") is None
    assert route("\ufffd") is None
    assert bridge_topics("root") == ["root/+/scanauto/+", "root/+/sensoren/+"]


# --- bridge → JetStream → feed -----------------------------------------------------------------


def _readings(root: str, count: int) -> list[tuple[str, bytes]]:
    """`count` readings of one sensor a minute apart, all in the past."""
    start = utcnow() - timedelta(minutes=count + 60)
    return [
        (
            sensor_topic(ORG, AIR, root),
            encode_reading(start + timedelta(minutes=n), {"pm25": 10.0 + n, "no2": 20.0}),
        )
        for n in range(count)
    ]


def _measurements(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(sensor_measurement)).scalar_one())


def test_sensor_readings_reach_the_database_through_jetstream(
    engine: Engine,
    tmp_path: Path,
    mqtt_url: str,
    mqtt_topic_root: str,
    stream: ExecutionStreamConfig,
    sealer: Sealer,
) -> None:
    load_sensor_register(engine, tmp_path)
    root = mqtt_topic_root
    messages = _readings(root, 20)
    messages.append(
        (sensor_topic(ORG, "niet-geregistreerd", root), encode_reading(utcnow(), {"pm25": 1}))
    )
    messages.append((sensor_topic(ORG, AIR, root), b"{not json"))
    bridge = bridge_over_mqtt(mqtt_url, stream, sealer, root, messages)
    assert bridge.stats.published == 22
    held = stream_contents(stream)
    assert len(held) == 22
    assert {m.subject for m in held} == {f"{stream.subject}.sensors.{ORG}"}
    assert all(m.headers[HEADER_KEY] == "t1" for m in held)

    pipeline = SensorPipeline(engine, RegisterStore(engine), topic_root=root)
    feed = feed_until(stream, sealer, "sensors", pipeline.handle, 22)
    assert (feed.stats.received, feed.stats.terminated) == (22, 0)
    assert pipeline.totals.accepted == 20
    assert _measurements(engine) == 40
    kinds = {f.kind: f.count for f in list_findings(engine, ORG)}
    assert kinds == {FINDING_UNREGISTERED_SENSOR: 1, FINDING_INVALID_MESSAGE: 1}
    wait_until_empty(stream)


def _scan_messages(setup: Setup, root: str, plates: list[str]) -> list[tuple[str, bytes]]:
    scanned = setup.clock.now  # the moment the plates were sampled for (paid or not)
    return [
        (
            scan_topic(PARKING_ORG, CAR, root),
            encode_scan(f"js-{n}", plate, ZONE, 52.09, 5.12, scanned, "foto://js"),
        )
        for n, plate in enumerate(plates)
    ]


def _stored_scans(engine: Engine) -> dict[str, int]:
    s = parking_scan
    with engine.connect() as conn:
        rows = conn.execute(select(s.c.scan_id, func.count()).group_by(s.c.scan_id)).all()
    return {str(scan_id): int(n) for scan_id, n in rows}


def _plate_forms(plate: str) -> set[bytes]:
    canonical = normalize_kenteken(plate) or plate
    forms = {plate, canonical, canonical.replace("-", ""), plate.replace("-", "")}
    return {f.encode() for f in forms} | {f.lower().encode() for f in forms}


def test_scans_reach_the_database_through_jetstream_and_the_stream_holds_no_plate(
    engine: Engine,
    mqtt_url: str,
    mqtt_topic_root: str,
    stream: ExecutionStreamConfig,
    sealer: Sealer,
) -> None:
    """As the commands run them: `run_bridge` and `run_parking_feed` until stopped."""
    setup = make_setup(engine)
    root = mqtt_topic_root
    plates = setup.plates(paid=True, count=6) + setup.plates(paid=False, count=4)
    client_id = f"gs-test-bridge-{uuid.uuid4().hex[:8]}"
    bridged: list[tuple[ConsumerStats, BridgeStats]] = []
    stop_bridge = threading.Event()
    bridge = threading.Thread(
        target=run_bridge,
        args=(mqtt_url, stream, sealer),
        kwargs={
            "stop": stop_bridge,
            "client_id": client_id,
            "topic_root": root,
            "kinds": ["scans"],
            "progress": lambda mqtt, stats: bridged.append((mqtt, stats)),
            "progress_every": 0.05,
        },
        daemon=True,
    )
    bridge.start()
    try:
        wait_for(lambda: bool(bridged) and bridged[-1][0].connections > 0, what="the bridge")
        with MqttPublisher(mqtt_url) as car:
            for topic, payload in _scan_messages(setup, root, plates):
                car.publish(topic, payload)
        wait_for(lambda: bridged[-1][0].acknowledged >= 10, timeout=30, what="10 scans bridged")
    finally:
        stop_bridge.set()
        bridge.join(20)
    assert bridged[-1][1].published == 10

    held = stream_contents(stream)
    assert len(held) == 10
    assert {m.subject for m in held} == {f"{stream.subject}.scans.{PARKING_ORG}"}
    for stored in held:
        everything = stored.data + json.dumps(stored.headers).encode() + stored.subject.encode()
        for plate in plates:
            for form in _plate_forms(plate):
                assert form not in everything
        assert b"scanId" not in stored.data  # sealed as a whole

    stop_feed = threading.Event()
    result: list[PipelineTotals] = []
    feed = threading.Thread(
        target=lambda: result.append(
            run_parking_feed(
                stream,
                sealer,
                engine,
                setup.pseudonymizer,
                stop=stop_feed,
                checker=setup.pipeline.checker,
                topic_root=root,
                fetch=4,
                clock=setup.clock,
            )
        ),
        daemon=True,
    )
    feed.start()
    try:
        wait_for(lambda: len(_stored_scans(engine)) >= 10, timeout=30, what="10 scans stored")
    finally:
        stop_feed.set()
        feed.join(20)
    totals = result[0]
    assert (totals.stored, totals.paid, totals.unpaid, totals.rejected) == (10, 6, 4, 0)
    assert _stored_scans(engine) == {f"js-{n}": 1 for n in range(10)}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(parking_case)).scalar_one() == 4
        assert conn.execute(select(func.sum(parking_hourly.c.scans))).scalar_one() == 10
    wait_until_empty(stream)


def test_a_feed_that_fails_after_its_commit_gets_the_batch_again_and_stores_once(
    engine: Engine, stream: ExecutionStreamConfig, sealer: Sealer
) -> None:
    setup = make_setup(engine)
    plates = setup.plates(paid=True, count=3) + setup.plates(paid=False, count=3)
    bridge = JetStreamBridge(stream, sealer)
    bridge.start()
    try:
        bridge.handle(
            [
                Message(topic, payload, qos=1)
                for topic, payload in _scan_messages(setup, "glazenstad", plates)
            ]
        )
    finally:
        bridge.close()
    calls: list[int] = []

    def crash_once(batch: list[Message]) -> None:
        """Commits, then dies before the acknowledgement could be sent (the first time)."""
        setup.pipeline.handle(batch)
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("the process died after the commit")

    feed = feed_until(stream, sealer, "scans", crash_once, 6, fetch=50)
    assert feed.stats.handler_failures == 1
    assert feed.stats.redelivered == 6
    assert sum(calls) == 12  # every scan handled twice ...
    assert _stored_scans(setup.engine) == {f"js-{n}": 1 for n in range(6)}  # ... stored once
    assert setup.pipeline.totals.duplicates == 6
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(parking_case)).scalar_one() == 3
        assert conn.execute(select(func.sum(parking_hourly.c.scans))).scalar_one() == 6
    wait_until_empty(stream)


def test_a_feed_killed_before_acknowledging_leaves_the_batch_to_another(
    engine: Engine, tmp_path: Path, stream: ExecutionStreamConfig, sealer: Sealer
) -> None:
    load_sensor_register(engine, tmp_path)
    pipeline = SensorPipeline(engine, RegisterStore(engine))
    bridge = JetStreamBridge(stream, sealer)
    bridge.start()
    try:
        bridge.handle(
            [Message(topic, payload, qos=1) for topic, payload in _readings("glazenstad", 8)]
        )
    finally:
        bridge.close()

    async def killed() -> int:
        feed = ExecutionFeed(stream, sealer, "sensors", pipeline.handle, fetch=50)
        await feed.start()
        fetched = await feed.pull(wait=5)
        opened = feed.open(fetched)
        pipeline.handle(opened.messages)  # committed; the process dies before settling
        await feed.close()
        return len(fetched)

    assert asyncio.run(killed()) == 8
    assert _measurements(engine) == 16
    survivor = feed_until(stream, sealer, "sensors", pipeline.handle, 8)  # after ack_wait
    assert survivor.stats.redelivered == 8
    assert _measurements(engine) == 16
    assert pipeline.totals.accepted == 16  # handled twice, stored once
    wait_until_empty(stream)


def test_a_slow_commit_keeps_its_batch(stream: ExecutionStreamConfig, sealer: Sealer) -> None:
    """A pipeline slower than ack_wait reports progress, so the batch is not handed out again."""
    bridge = JetStreamBridge(stream, sealer)
    bridge.start()
    try:
        bridge.handle([Message(t, p, qos=1) for t, p in _readings("glazenstad", 3)])
    finally:
        bridge.close()
    handled: list[Message] = []

    def slow(batch: list[Message]) -> None:
        time.sleep(stream.ack_wait * 1.75)
        handled.extend(batch)

    async def run() -> ExecutionFeed:
        feed = ExecutionFeed(stream, sealer, "sensors", slow)
        await feed.start()
        try:
            await feed.run_once(wait=5)
            # Had the batch been handed out again during the commit, it would come now.
            await feed.run_once(wait=stream.ack_wait + 1)
        finally:
            await feed.close()
        return feed

    feed = asyncio.run(run())
    assert (feed.stats.received, feed.stats.acknowledged, feed.stats.redelivered) == (3, 3, 0)
    assert len(handled) == 3


# --- the bridge's promise: a PUBACK means stored ------------------------------------------------


def test_a_message_delivered_again_is_stored_in_jetstream_once(
    stream: ExecutionStreamConfig, sealer: Sealer
) -> None:
    batch = [Message(topic, payload, qos=1) for topic, payload in _readings("glazenstad", 5)]
    bridge = JetStreamBridge(stream, sealer)
    bridge.start()
    try:
        bridge.handle(batch)
        bridge.handle([replace(m, received_at=utcnow(), duplicate=True) for m in batch])
    finally:
        bridge.close()
    assert (bridge.stats.published, bridge.stats.duplicates) == (5, 5)
    assert len(stream_contents(stream)) == 5


def test_mqtt_is_acknowledged_only_once_jetstream_stored_the_message(
    mqtt_url: str, mqtt_topic_root: str, stream: ExecutionStreamConfig, sealer: Sealer
) -> None:
    root = mqtt_topic_root
    client_id = f"gs-test-bridge-{uuid.uuid4().hex[:8]}"
    good = JetStreamBridge(stream, sealer)
    good.start()  # creates the stream
    # A bridge that publishes where no stream listens: JetStream never confirms.
    lost = JetStreamBridge(replace(stream, subject=f"{stream.subject}-nowhere"), sealer)
    lost.start()
    try:
        failing = MqttConsumer(
            mqtt_url,
            client_id=client_id,
            topics=bridge_topics(root),
            handler=lost.handle,
            retry_min=0.1,
            retry_max=0.2,
        )
        with failing:
            assert failing.wait_ready(10)
            with MqttPublisher(mqtt_url) as device:
                for topic, payload in _readings(root, 5):
                    device.publish(topic, payload)
            wait_for(lambda: failing.stats.handler_failures >= 2, what="refused publishes")
            assert failing.stats.acknowledged == 0
        assert lost.stats.published == 0
        assert stream_contents(stream) == []
        # The same session again, now with JetStream answering: the broker delivers the
        # unacknowledged messages again, and they are stored and acknowledged.
        working = MqttConsumer(
            mqtt_url, client_id=client_id, topics=bridge_topics(root), handler=good.handle
        )
        with working:
            wait_for(
                lambda: working.stats.acknowledged >= 5,
                timeout=30,
                what=f"redelivery acknowledged ({working.stats}, {good.stats})",
            )
        assert good.stats.published == 5
        assert len(stream_contents(stream)) == 5
    finally:
        good.close()
        lost.close()


def test_a_bridge_without_nats_refuses_to_start(sealer: Sealer) -> None:
    nowhere = ExecutionStreamConfig(url=f"nats://127.0.0.1:{free_port()}", connect_timeout=1)
    bridge = JetStreamBridge(nowhere, sealer)
    with pytest.raises(StreamUnavailable, match="no NATS server answers"):
        bridge.start()


def test_a_message_sealed_with_an_unknown_key_waits_for_the_key(
    stream: ExecutionStreamConfig, sealer: Sealer
) -> None:
    bridge = JetStreamBridge(stream, sealer)
    bridge.start()
    try:
        bridge.handle([Message(t, p, qos=1) for t, p in _readings("glazenstad", 2)])
    finally:
        bridge.close()
    handled: list[Message] = []

    async def without_the_key() -> ExecutionFeed:
        other = Sealer.from_config(new_key_config("t9"))
        feed = ExecutionFeed(stream, other, "sensors", handled.extend)
        await feed.start()
        try:
            await feed.run_once(wait=5)
        finally:
            await feed.close()
        return feed

    feed = asyncio.run(without_the_key())
    assert (feed.stats.waiting_for_key, feed.stats.terminated, len(handled)) == (2, 0, 0)
    assert len(stream_contents(stream)) == 2  # kept, not dropped
    rotated = Sealer(parse_sealing_keys(new_key_config("t9")) + sealer.keys)
    feed_until(stream, rotated, "sensors", handled.extend, 2)
    assert len(handled) == 2


# --- the commands --------------------------------------------------------------------------


def test_the_commands_need_nats_and_a_sealing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from glazenstad.cli import app
    from glazenstad.settings import get_settings

    runner = CliRunner()
    monkeypatch.setenv("GLAZENSTAD_MQTT_URL", "mqtt://127.0.0.1:1883")
    monkeypatch.delenv("GLAZENSTAD_NATS_URL", raising=False)
    monkeypatch.delenv("GLAZENSTAD_NATS_EXECUTION_KEYS", raising=False)
    get_settings.cache_clear()
    try:
        for command in (
            ["pipeline", "bridge"],
            ["pipeline", "parking", "--from-jetstream"],
            ["pipeline", "sensors", "--from-jetstream"],
        ):
            result = runner.invoke(app, command)
            assert result.exit_code == 2, result.output
            assert "GLAZENSTAD_NATS_URL" in result.output
        monkeypatch.setenv("GLAZENSTAD_NATS_URL", NATS_URL)
        get_settings.cache_clear()
        result = runner.invoke(app, ["pipeline", "bridge"])
        assert result.exit_code == 2 and "GLAZENSTAD_NATS_EXECUTION_KEYS" in result.output
        monkeypatch.setenv("GLAZENSTAD_NATS_EXECUTION_KEYS", "k1:QUJD")
        get_settings.cache_clear()
        result = runner.invoke(app, ["pipeline", "sensors", "--from-jetstream"])
        assert result.exit_code == 2 and "must be 32 bytes" in result.output
        assert "QUJD" not in result.output
    finally:
        get_settings.cache_clear()


# --- a three-node cluster loses the stream's leader while messages flow -------------------------


def test_a_cluster_node_lost_under_load_loses_and_doubles_no_measurement(
    postgres_url: str, tmp_path: Path, mqtt_url: str, mqtt_topic_root: str, sealer: Sealer
) -> None:
    """Three replicas: the node that leads the stream is killed while the bridge and a feed
    run. Publishes fail until a new leader is elected; the bridge's MQTT batches stay
    unacknowledged meanwhile and are stored when JetStream answers again."""
    engine = make_engine(postgres_url)
    migrate(engine)
    load_sensor_register(engine, tmp_path)
    root = mqtt_topic_root
    tag = uuid.uuid4().hex[:12]
    total, step = 400, 100
    messages = _readings(root, total)
    with nats_cluster() as nodes:
        config = ExecutionStreamConfig(
            url=nodes.url,
            stream=f"GS_CLUSTER_{tag}",
            subject=f"gs-cluster-{tag}.execution",
            sensor_consumer=f"sensors-{tag}",
            replicas=3,
            ack_wait=2.0,
            retry_delay=0.2,
        )
        bridge = JetStreamBridge(config, sealer)
        bridge.start()
        consumer = MqttConsumer(
            mqtt_url,
            client_id=f"gs-test-bridge-{tag}",
            topics=bridge_topics(root),
            handler=bridge.handle,
            batch_size=20,
            retry_min=0.2,
            retry_max=1.0,
        )
        stop_feed = threading.Event()
        feed = threading.Thread(
            target=run_sensor_feed,
            args=(config, sealer, engine),
            kwargs={"stop": stop_feed, "topic_root": root, "fetch": 20},
            daemon=True,
        )
        try:
            consumer.start()
            assert consumer.wait_ready(10)
            feed.start()
            with MqttPublisher(mqtt_url) as device:
                for n, (topic, payload) in enumerate(messages[: 2 * step]):
                    device.publish(topic, payload)
                    if n % step == step - 1:
                        device.flush()
                wait_for(lambda: bridge.stats.published >= step, timeout=30, what="first stores")
                leader = asyncio.run(_stream_leader(config))
                nodes.kill(nodes.node(leader))
                for topic, payload in messages[2 * step :]:
                    device.publish(topic, payload)
            wait_for(
                lambda: consumer.stats.acknowledged >= total,
                timeout=90,
                what=f"every message stored in JetStream ({consumer.stats}, {bridge.stats})",
            )
            wait_for(
                lambda: _measurements(engine) >= 2 * total,
                timeout=90,
                what=f"every measurement in the database ({_measurements(engine)})",
            )
            assert asyncio.run(_stream_leader(config)) != leader
        finally:
            stop_feed.set()
            feed.join(20)
            consumer.stop()
            bridge.close()
    assert _measurements(engine) == 2 * total  # nothing lost, nothing doubled
    assert bridge.stats.published + bridge.stats.duplicates >= total
    engine.dispose()


async def _stream_leader(config: ExecutionStreamConfig) -> str:
    client = await nats.connect(config.url.split(","))
    try:
        info = await client.jetstream().stream_info(config.stream)
        assert info.cluster is not None and info.cluster.leader is not None
        return info.cluster.leader
    finally:
        await client.close()
