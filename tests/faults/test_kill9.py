"""SIGKILL of the server and the scan pipeline under mixed load loses nothing acknowledged.

`glazenstad serve` and `glazenstad pipeline parking` run as their own processes on one
database, the pipeline on the machine's Mosquitto under a topic root of this test. Client
threads ask for decisions and send log batches while a scan car publishes scans with QoS 1.
Once all three kinds of work are being acknowledged, both processes get SIGKILL at once: no
shutdown handler runs, transactions in flight just stop. Then both are started again and the
clients do what a real client does: log batches without an answer are sent again unchanged (the
car's MQTT client re-sends unacknowledged scans by itself, and the broker re-delivers what the
killed pipeline had not acknowledged).

Afterwards every acknowledged write must be stored exactly once: each decision answered with
200, each log record of a batch answered with 200, each scan the broker acknowledged (PUBACK)
with its decisions and log records; nothing may be stored twice, the scan counts of the open
data must count each scan once, and `glazenstad logbook verify` must pass.

(`tests/logbook/test_durability.py` kills a server under log ingest alone and checks chain
positions in detail; `tests/parking/test_mqtt.py` restarts the broker mid-stream.)
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import Engine, func, select

from glazenstad.db.engine import make_engine
from glazenstad.execution.mqtt import MqttConsumer, parse_mqtt_url
from glazenstad.execution.parking.pipeline import (
    encode_scan,
    scan_subscription,
    scan_topic,
    scan_trace_id,
    step_span_id,
)
from glazenstad.execution.parking.tables import parking_hourly, parking_scan
from glazenstad.logbook.tables import log_record
from glazenstad.rules.tables import decision_log
from glazenstad.sources import ParkingRights
from tests.faults.load import Ledger, start_clients, wait_until
from tests.faults.support import (
    API_HEADERS,
    DECISIONS_URL,
    ORG,
    Server,
    Service,
    cli_env,
    decision_body,
    last_paid_hour,
    verify_logbook,
)

pytestmark = pytest.mark.heavy

CAR = "scanauto-9"
ZONE = "VBS-BINNENSTAD"
# The machine's broker queues at most 1,000 messages per session (Mosquitto's default): the
# whole run stays well below that, so the broker never drops a scan it acknowledged.
SCANS = 400
SCANS_PER_SECOND = 100
ACKS_BEFORE_KILL = (10, 5, 30)  # decisions, log batches, scans stored
LOAD_DEADLINE_S = 60.0


class ScanCar:
    """Publishes scans with QoS 1 from a thread; remembers which ones the broker acknowledged."""

    def __init__(self, mqtt_url: str, root: str) -> None:
        address = parse_mqtt_url(mqtt_url)
        self.root = root
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"gs-test-car-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        scanned = last_paid_hour()
        plates = ParkingRights.from_seed().sample_plates(
            ZONE, scanned, 20, unpaid_share=0.3, seed=11
        )
        self.payloads = [
            (
                f"k9-{n}",
                encode_scan(f"k9-{n}", plates[n % len(plates)], ZONE, 52.09, 5.12, scanned, None),
            )
            for n in range(SCANS)
        ]
        self.sent: list[tuple[str, mqtt.MQTTMessageInfo]] = []
        self.thread = threading.Thread(target=self._publish, daemon=True)

    def _publish(self) -> None:
        for scan_id, payload in self.payloads:
            info = self.client.publish(scan_topic(ORG, CAR, self.root), payload, qos=1)
            self.sent.append((scan_id, info))
            time.sleep(1 / SCANS_PER_SECOND)

    def acknowledged(self) -> set[str]:
        return {scan_id for scan_id, info in list(self.sent) if _acked(info)}

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _acked(info: mqtt.MQTTMessageInfo) -> bool:
    try:
        return info.is_published()
    except RuntimeError:  # refused by the client itself: never acknowledged
        return False


def _stored_scans(engine: Engine) -> dict[str, int]:
    s = parking_scan
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.c.scan_id, func.count()).where(s.c.car_id == CAR).group_by(s.c.scan_id)
        )
        return {str(scan_id): int(n) for scan_id, n in rows}


def _create_session(mqtt_url: str, client_id: str, root: str) -> None:
    """The pipeline's persistent session, so scans published before it subscribes are kept."""
    with MqttConsumer(
        mqtt_url, client_id=client_id, topics=[scan_subscription(root)], handler=lambda _: None
    ) as session:
        assert session.wait_ready(10), "could not create the pipeline's MQTT session"


def _drop_session(mqtt_url: str, client_id: str) -> None:
    """End the pipeline's session on the shared broker (a clean start with no expiry), so that
    the broker does not keep it for a week after the test."""
    address = parse_mqtt_url(mqtt_url)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.connect(address.host, address.port, clean_start=True)
    client.loop_start()
    try:
        wait_until(client.is_connected, 10, lambda: "a connection to drop the session")
    finally:
        client.disconnect()
        client.loop_stop()


def test_sigkill_under_mixed_load_loses_no_acknowledged_write(
    database_url: str, demo_database: str, mqtt_url: str, mqtt_topic_root: str, tmp_path: Path
) -> None:
    activity = demo_database
    env = cli_env(database_url, tmp_path, mqtt_url)
    client_id = f"gs-test-faults-{uuid.uuid4().hex[:8]}"
    _create_session(mqtt_url, client_id, mqtt_topic_root)
    pipeline_args = ["pipeline", "parking", "--client-id", client_id]
    pipeline_args += ["--topic-root", mqtt_topic_root]
    engine = make_engine(database_url)
    services: list[Service] = []

    def start(name: str) -> tuple[Server, Service]:
        server = Server(env, tmp_path, f"server-{name}")
        pipeline = Service(pipeline_args, env, tmp_path, f"pipeline-{name}")
        services.extend([server, pipeline])
        server.wait_ready()
        return server, pipeline

    ledger = Ledger(activity=activity, run=uuid.uuid4().hex[:8])
    car = ScanCar(mqtt_url, mqtt_topic_root)

    def logs() -> str:
        return "\n".join(service.output() for service in services)

    try:
        first, first_pipeline = start("1")
        car.thread.start()
        clients = start_clients(
            ledger, first.base_url, decisions=2, logs=2, end_on_transport_error=True
        )

        def progress() -> tuple[int, int, int]:
            decided, logged = ledger.counts()
            return decided, logged, len(_stored_scans(engine))

        wait_until(
            lambda: (
                all(n >= m for n, m in zip(progress(), ACKS_BEFORE_KILL, strict=True))
                or bool(ledger.unexpected)
            ),
            LOAD_DEADLINE_S,
            lambda: f"work acknowledged before the kill {progress()}: {ledger.summary()}\n{logs()}",
        )
        assert not ledger.unexpected, f"{ledger.summary()}\n{logs()}"
        assert first.alive() and first_pipeline.alive(), logs()
        first.kill()
        first_pipeline.kill()
        ledger.stop.set()
        for thread in clients:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in clients), "a client did not finish"
        stored_at_kill = len(_stored_scans(engine))

        second, _ = start("2")
        ledger.resend_unacknowledged(second.base_url)
        # A decision asked for when the server died was never given; asked again, it is.
        with httpx.Client(base_url=second.base_url, headers=API_HEADERS, timeout=30) as http:
            again = http.post(DECISIONS_URL, json=decision_body())
        assert again.status_code == 200, again.text

        car.thread.join(timeout=60)
        wait_until(
            lambda: len(car.acknowledged()) == SCANS,
            LOAD_DEADLINE_S,
            lambda: f"the broker to acknowledge every scan ({len(car.acknowledged())}/{SCANS})",
        )
        wait_until(
            lambda: car.acknowledged() <= set(_stored_scans(engine)),
            LOAD_DEADLINE_S,
            lambda: (
                f"every acknowledged scan stored ({len(_stored_scans(engine))}/{SCANS})\n{logs()}"
            ),
        )
    finally:
        car.close()
        for service in services:
            service.stop()
        _drop_session(mqtt_url, client_id)

    try:
        _assert_everything_once(engine, ledger, car, again.json()["receipt"]["decisionId"])
    finally:
        engine.dispose()
    assert stored_at_kill < SCANS, "the pipeline had finished before the kill: nothing was cut off"
    verified = verify_logbook(env, tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def _assert_everything_once(engine: Engine, ledger: Ledger, car: ScanCar, after: str) -> None:
    with engine.connect() as conn:
        decisions = {
            str(d): int(n)
            for d, n in conn.execute(
                select(decision_log.c.decision_id, func.count()).group_by(
                    decision_log.c.decision_id
                )
            )
        }
        records = [
            (str(t), str(s))
            for t, s in conn.execute(
                select(log_record.c.trace_id, log_record.c.span_id).where(
                    log_record.c.organisation_id == ORG
                )
            )
        ]
        counted = int(
            conn.execute(
                select(func.coalesce(func.sum(parking_hourly.c.scans), 0)).where(
                    parking_hourly.c.organisation_id == ORG, parking_hourly.c.zone == ZONE
                )
            ).scalar_one()
        )
    lost_decisions = [d for d in [*ledger.decisions, after] if d not in decisions]
    assert not lost_decisions, f"{len(lost_decisions)} acknowledged decision(s) lost"
    assert all(n == 1 for n in decisions.values()), "a decision is stored twice"

    assert len(records) == len(set(records)), "a log record is stored twice"
    stored_records = set(records)
    lost = ledger.acknowledged_records() - stored_records
    assert not lost, f"{len(lost)} acknowledged log record(s) lost, e.g. {sorted(lost)[:2]}"
    # Every batch was acknowledged in the end, after the re-send.
    assert ledger.sent_records() <= stored_records

    scans = _stored_scans(engine)
    assert car.acknowledged() <= set(scans)
    assert all(n == 1 for n in scans.values()), "a scan is stored twice"
    assert counted == len(scans), f"the open data count {counted} scans, {len(scans)} are stored"
    for scan_id in scans:  # a stored scan has its first step's log record
        trace = scan_trace_id(ORG, CAR, scan_id)
        assert (trace, step_span_id(trace, "vastleggen")) in stored_records, scan_id
