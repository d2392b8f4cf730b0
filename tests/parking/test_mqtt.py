"""The scan-car pipeline over real Mosquitto: end to end on the shared broker, and a private
broker restarted mid-stream (every scan the publisher got a PUBACK for is stored exactly once).
"""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import func, select

from glazenstad.execution.mosquitto import PrivateMosquitto, mosquitto_binary
from glazenstad.execution.mqtt import MqttConsumer, MqttPublisher, Stages
from glazenstad.execution.parking.pipeline import (
    PipelineTotals,
    encode_scan,
    run_parking_pipeline,
    scan_subscription,
    scan_topic,
)
from glazenstad.execution.parking.simulate import simulate_parking
from glazenstad.execution.parking.tables import parking_hourly, parking_scan
from tests.conftest import missing_tool
from tests.execution.sensorutil import wait_for
from tests.parking.conftest import CAR, ORG, ZONE, Setup


def _stored(setup: Setup) -> dict[str, int]:
    s = parking_scan
    with setup.engine.connect() as conn:
        rows = conn.execute(select(s.c.scan_id, func.count()).group_by(s.c.scan_id)).all()
    return {str(scan_id): int(n) for scan_id, n in rows}


def _counted(setup: Setup) -> int:
    with setup.engine.connect() as conn:
        return int(conn.execute(select(func.sum(parking_hourly.c.scans))).scalar() or 0)


def test_scans_flow_over_mosquitto_into_the_database(
    setup: Setup, mqtt_url: str, mqtt_topic_root: str
) -> None:
    client_id = f"gs-test-parking-{uuid.uuid4().hex[:8]}"
    # Create the pipeline's persistent session first: what the car publishes before the
    # pipeline has subscribed is then queued for it, as in production.
    session = MqttConsumer(
        mqtt_url,
        client_id=client_id,
        topics=[scan_subscription(mqtt_topic_root)],
        handler=lambda batch: None,
    )
    with session:
        assert session.wait_ready(10)
    with MqttPublisher(mqtt_url, client_id=f"gs-test-car-{uuid.uuid4().hex[:8]}") as car:
        sent = simulate_parking(
            car,
            rate=50,
            duration=2,
            organisation_id=ORG,
            topic_root=mqtt_topic_root,
            start=setup.clock.now - timedelta(minutes=5),
            pace=False,
        )
    stop = threading.Event()
    result: list[PipelineTotals] = []
    thread = threading.Thread(
        target=lambda: result.append(
            run_parking_pipeline(
                mqtt_url,
                setup.engine,
                setup.pseudonymizer,
                stop=stop,
                checker=setup.pipeline.checker,
                client_id=client_id,
                topic_root=mqtt_topic_root,
                progress_every=0.1,
                batch_size=50,
                clock=setup.clock,
            )
        ),
        daemon=True,
    )
    thread.start()
    try:
        wait_for(lambda: sum(_stored(setup).values()) >= sent, timeout=30, what="all scans stored")
    finally:
        stop.set()
        thread.join(20)
    totals = result[0]
    assert (totals.stored, totals.rejected, totals.denied) == (sent, 0, 0)
    assert 0 < totals.unpaid < totals.paid
    assert all(n == 1 for n in _stored(setup).values())
    assert _counted(setup) == sent


# --- a private broker, restarted mid-stream ---------------------------------------------------


def _acked(info: mqtt.MQTTMessageInfo) -> bool:
    """Whether the broker sent a PUBACK (a publish refused while offline never gets one that
    the client reports)."""
    try:
        return info.is_published()
    except RuntimeError:
        return False


@contextmanager
def private_broker(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    if mosquitto_binary() is None:
        reason = "mosquitto not installed: cannot run a private broker"
        missing_tool(reason)
    broker = PrivateMosquitto(tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop(signal.SIGKILL)


@pytest.mark.parametrize("staged", [False, True], ids=["one-step", "in-stages"])
def test_broker_restart_mid_stream_loses_no_acknowledged_scan(
    setup: Setup, tmp_path: Path, staged: bool
) -> None:
    """Also in stages (as `glazenstad pipeline parking` runs): the next batch prepared while
    one commits, across the restart."""
    pipeline = setup.pipeline
    with private_broker(tmp_path) as broker:
        root = f"gs-test-{uuid.uuid4().hex[:8]}"
        pipeline.topic_root = root
        consumer = MqttConsumer(
            broker.url,
            client_id=f"gs-test-parking-{uuid.uuid4().hex[:8]}",
            topics=[scan_subscription(root)],
            handler=Stages(pipeline.prepare, pipeline.commit) if staged else pipeline.handle,
            batch_size=20,
            batch_wait=0.05,
            reconnect_min=1,
            reconnect_max=1,
        )
        publisher = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"gs-test-car-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        publisher.reconnect_delay_set(1, 1)
        sent: list[tuple[str, mqtt.MQTTMessageInfo]] = []
        paid = setup.plates(paid=True, count=5)
        unpaid = setup.plates(paid=False, count=5)
        plates = paid + unpaid
        scanned = setup.clock.now - timedelta(minutes=1)

        def publish(n: int) -> None:
            scan_id = f"r-{n}"
            payload = encode_scan(
                scan_id, plates[n % len(plates)], ZONE, 52.09, 5.12, scanned, "foto://r"
            )
            sent.append((scan_id, publisher.publish(scan_topic(ORG, CAR, root), payload, qos=1)))

        consumer.start()
        try:
            assert consumer.wait_ready(10)
            publisher.connect("127.0.0.1", broker.port)
            publisher.loop_start()
            for n in range(150):
                publish(n)
            wait_for(
                lambda: sum(1 for _, info in sent if _acked(info)) >= 100,
                what="the first PUBACKs",
            )
            broker.stop(signal.SIGTERM)  # mid-stream: scans in flight and queued
            for n in range(150, 200):
                publish(n)  # queued by the client while the broker is down
            broker.start()
            wait_for(lambda: consumer.ready, timeout=20, what="the consumer to reconnect")
            wait_for(publisher.is_connected, timeout=20, what="the car to reconnect")
            for n in range(200, 300):
                publish(n)
            wait_for(
                lambda: all(_acked(info) for _, info in sent if info.rc == mqtt.MQTT_ERR_SUCCESS),
                timeout=30,
                what="every scan acknowledged by the broker",
            )
            acknowledged = {scan_id for scan_id, info in sent if _acked(info)}
            wait_for(
                lambda: acknowledged <= set(_stored(setup)),
                timeout=30,
                what=f"every acknowledged scan stored ({consumer.stats}, "
                f"{setup.pipeline.totals}, missing {sorted(acknowledged - set(_stored(setup)))[:5]}"
                f" of {len(acknowledged)})",
            )
        finally:
            publisher.loop_stop()
            publisher.disconnect()
            consumer.stop()
        stored = _stored(setup)
        assert acknowledged <= set(stored)
        assert all(n == 1 for n in stored.values())
        # Redeliveries were counted once in the open data too.
        assert _counted(setup) == len(stored)
        assert consumer.stats.connections >= 2
