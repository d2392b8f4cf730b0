"""The sensor pipeline: message validation, the register check, findings, storage, aggregation.

Storage and aggregation run on SQLite and PostgreSQL (`engine`); the simulator feeds the pipeline
in process here, as it does on the embedded default without a broker.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from glazenstad.execution.findings import list_findings
from glazenstad.execution.mqtt import Message
from glazenstad.execution.sensors import (
    FINDING_INACTIVE_SENSOR,
    FINDING_INVALID_MESSAGE,
    FINDING_PERSONAL_DATA_SENSOR,
    FINDING_UNREGISTERED_MEASURE,
    FINDING_UNREGISTERED_SENSOR,
    MessageError,
    SensorPipeline,
    SensorReadings,
    bucket_bounds,
    encode_reading,
    parse_message,
    sensor_topic,
)
from glazenstad.execution.simulate_sensors import (
    UNREGISTERED_SENSOR_ID,
    simulate_sensors,
    simulated_value,
    traffic_level,
)
from glazenstad.execution.tables import sensor_measurement
from glazenstad.register.store import RegisterStore
from tests.execution.sensorutil import AIR, NOISE_ENDED, ORG, SCAN_CAR, load_sensor_register

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TOPIC = sensor_topic(ORG, AIR)
GOOD = {"measuredAt": "2026-12-01T10:15:00+01:00", "values": {"pm25": 12.5, "no2": 30}}


def _payload(document: object) -> bytes:
    return json.dumps(document).encode()


def _message(
    sensor_id: str = AIR,
    values: dict[str, float] | None = None,
    measured_at: datetime = NOW - timedelta(hours=1),
    org: str = ORG,
    received_at: datetime = NOW,
) -> Message:
    return Message(
        topic=sensor_topic(org, sensor_id),
        payload=encode_reading(measured_at, values if values is not None else {"pm25": 10.0}),
        qos=1,
        received_at=received_at,
    )


def test_a_good_message_parses() -> None:
    reading = parse_message(TOPIC, _payload(GOOD), now=NOW)
    assert reading.organisation_id == ORG
    assert reading.sensor_id == AIR
    assert reading.measured_at == datetime(2026, 12, 1, 9, 15, tzinfo=UTC)
    assert reading.values == {"pm25": 12.5, "no2": 30.0}


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("glazenstad/teststad/luchtmeter", _payload(GOOD), "topic: must be glazenstad/"),
        ("andere-wortel/teststad/sensoren/x", _payload(GOOD), "topic: must be glazenstad/"),
        ("glazenstad/teststad/sensoren/a/b", _payload(GOOD), "topic: must be"),
        ("glazenstad/Teststad/sensoren/x", _payload(GOOD), "topic: the organisation id"),
        ("glazenstad/teststad/sensoren/X_1", _payload(GOOD), "topic: the sensor id"),
        (TOPIC, b"\xff\xfe", "payload: not UTF-8"),
        (TOPIC, b'{"measuredAt": ', "payload: not valid JSON (line 1, column 16"),
        (TOPIC, b"[1, 2]", "payload: must be a JSON object"),
        (TOPIC, b"x" * 20_000, "payload: larger than 16384 bytes"),
        (TOPIC, _payload({"values": {"pm25": 1}}), "measuredAt: required"),
        (TOPIC, _payload({"measuredAt": "2026-12-01T10:00:00Z"}), "values: required"),
        (
            TOPIC,
            _payload({**GOOD, "measured_at": "2026-12-01T10:00:00Z"}),
            "payload: unknown field 'measured_at'",
        ),
        (TOPIC, _payload({**GOOD, "measuredAt": 1764582000}), "measuredAt: must be an ISO 8601"),
        (TOPIC, _payload({**GOOD, "measuredAt": "gisteren"}), "measuredAt: not an ISO 8601"),
        (TOPIC, _payload({**GOOD, "measuredAt": "2026-12-01T10:00:00"}), "needs a time zone"),
        (
            TOPIC,
            _payload({**GOOD, "measuredAt": "2026-12-01T13:00:00Z"}),
            "measuredAt: more than 10 minutes in the future",
        ),
        (TOPIC, _payload({**GOOD, "values": [12.5]}), "values: must be an object"),
        (TOPIC, _payload({**GOOD, "values": {}}), "values: holds no measures"),
        (TOPIC, _payload({**GOOD, "values": {"pm25": "12"}}), "values.pm25: must be a number"),
        (TOPIC, _payload({**GOOD, "values": {"pm25": True}}), "values.pm25: must be a number"),
        (TOPIC, _payload({**GOOD, "values": {"pm25": None}}), "values.pm25: must be a number"),
        (TOPIC, b'{"measuredAt": "2026-12-01T10:00:00Z", "values": {"pm25": NaN}}', "finite"),
        (TOPIC, b'{"measuredAt": "2026-12-01T10:00:00Z", "values": {"pm25": 1e999}}', "finite"),
        (TOPIC, _payload({**GOOD, "values": {"PM 2.5": 1}}), "values: a measure name must be"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(topic: str, payload: bytes, reason: str) -> None:
    with pytest.raises(MessageError) as caught:
        parse_message(topic, payload, now=NOW)
    assert reason in caught.value.reason


def test_a_reason_never_repeats_the_values() -> None:
    secret = "AB-123-C"
    with pytest.raises(MessageError) as caught:
        parse_message(TOPIC, _payload({**GOOD, "values": {"pm25": secret}}), now=NOW)
    assert secret not in caught.value.reason


def test_registered_sensor_is_stored_and_others_become_findings(
    engine: Engine, tmp_path: Path
) -> None:
    load_sensor_register(engine, tmp_path)
    pipeline = SensorPipeline(engine, RegisterStore(engine), clock=lambda: NOW)
    later = NOW + timedelta(minutes=5)
    result = pipeline.handle(
        [
            _message(values={"pm25": 11.0, "pm10": 20.0, "no2": 31.0}),
            _message("onbekend-meetpunt", received_at=NOW),
            _message("onbekend-meetpunt", received_at=later),
            _message(AIR, values={"pm25": 1.0, "ozon": 2.0}),
            _message(NOISE_ENDED, values={"geluid_db_a": 60.0}),
            _message(SCAN_CAR),
            _message(AIR, org="andere-gemeente"),
            Message(topic=TOPIC, payload=b"not json", qos=1, received_at=NOW),
        ]
    )
    assert result.accepted == 1
    assert result.values == 3
    assert [(r.index, r.kind) for r in result.rejected] == [
        (1, FINDING_UNREGISTERED_SENSOR),
        (2, FINDING_UNREGISTERED_SENSOR),
        (3, FINDING_UNREGISTERED_MEASURE),
        (4, FINDING_INACTIVE_SENSOR),
        (5, FINDING_PERSONAL_DATA_SENSOR),
        (6, FINDING_UNREGISTERED_SENSOR),
        (7, FINDING_INVALID_MESSAGE),
    ]
    with engine.connect() as conn:
        stored = conn.execute(
            select(sensor_measurement.c.sensor_id, sensor_measurement.c.measure).order_by(
                sensor_measurement.c.measure
            )
        ).all()
    assert stored == [(AIR, "no2"), (AIR, "pm10"), (AIR, "pm25")]

    findings = {(f.kind, f.organisation_id, f.subject): f for f in list_findings(engine)}
    unregistered = findings[(FINDING_UNREGISTERED_SENSOR, ORG, "onbekend-meetpunt")]
    assert unregistered.count == 2
    assert unregistered.first_seen == NOW
    assert unregistered.last_seen == later
    assert "not in the register of 'teststad'" in unregistered.detail
    other_org = findings[(FINDING_UNREGISTERED_SENSOR, "andere-gemeente", AIR)]
    assert "organisation is not in the register" in other_org.detail
    assert "'ozon' is not registered" in findings[(FINDING_UNREGISTERED_MEASURE, ORG, AIR)].detail
    assert "registered until 2020-01-31" in (
        findings[(FINDING_INACTIVE_SENSOR, ORG, NOISE_ENDED)].detail
    )
    assert (FINDING_PERSONAL_DATA_SENSOR, ORG, SCAN_CAR) in findings
    assert "not valid JSON" in findings[(FINDING_INVALID_MESSAGE, ORG, AIR)].detail

    # The same unregistered sensor again, in a later batch: one row, counted on.
    pipeline.handle([_message("onbekend-meetpunt", received_at=later + timedelta(minutes=1))])
    again = [f for f in list_findings(engine, ORG) if f.subject == "onbekend-meetpunt"]
    assert len(again) == 1
    assert again[0].count == 3
    assert again[0].first_seen == NOW
    assert again[0].last_seen == later + timedelta(minutes=1)
    assert pipeline.totals.rejected == 8
    assert pipeline.totals.by_kind[FINDING_UNREGISTERED_SENSOR] == 4


def test_a_redelivered_message_is_stored_once(engine: Engine, tmp_path: Path) -> None:
    load_sensor_register(engine, tmp_path)
    pipeline = SensorPipeline(engine, RegisterStore(engine), clock=lambda: NOW)
    message = _message(values={"pm25": 11.0, "no2": 31.0})
    pipeline.handle([message, message])
    pipeline.handle([message])
    assert SensorReadings(engine).count(ORG, AIR) == 2


def test_aggregation_by_hour_and_by_municipal_day(engine: Engine, tmp_path: Path) -> None:
    load_sensor_register(engine, tmp_path)
    pipeline = SensorPipeline(engine, RegisterStore(engine), clock=lambda: NOW)
    # Around the start of summer time (29 March 2026, 01:00 UTC) in Amsterdam.
    points = [
        (datetime(2026, 3, 28, 22, 10, tzinfo=UTC), 10.0),  # 23.10 on 28 March
        (datetime(2026, 3, 28, 22, 40, tzinfo=UTC), 20.0),  # 23.40 on 28 March
        (datetime(2026, 3, 28, 23, 5, tzinfo=UTC), 30.0),  # 00.05 on 29 March
        (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), 50.0),  # 14.00 on 29 March
        (datetime(2026, 3, 29, 22, 30, tzinfo=UTC), 70.0),  # 00.30 on 30 March
    ]
    pipeline.handle([_message(values={"pm25": v, "no2": v * 2}, measured_at=t) for t, v in points])
    readings = SensorReadings(engine)
    start, end = datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)

    hours = readings.aggregate(ORG, AIR, start=start, end=end, aggregation="hour")
    assert set(hours) == {"pm25", "no2"}
    assert [(b.start.hour, b.count, b.average, b.minimum, b.maximum) for b in hours["pm25"]] == [
        (22, 2, 15.0, 10.0, 20.0),
        (23, 1, 30.0, 30.0, 30.0),
        (12, 1, 50.0, 50.0, 50.0),
        (22, 1, 70.0, 70.0, 70.0),
    ]
    assert hours["pm25"][0].start == datetime(2026, 3, 28, 22, tzinfo=UTC)
    assert hours["pm25"][0].end == datetime(2026, 3, 28, 23, tzinfo=UTC)

    days = readings.aggregate(ORG, AIR, start=start, end=end, aggregation="day", measures=["pm25"])
    assert list(days) == ["pm25"]
    summary = [
        (b.start.date().isoformat(), b.count, b.average, b.minimum, b.maximum) for b in days["pm25"]
    ]
    assert summary == [
        ("2026-03-28", 2, 15.0, 10.0, 20.0),
        ("2026-03-29", 2, 40.0, 30.0, 50.0),
        ("2026-03-30", 1, 70.0, 70.0, 70.0),
    ]
    spring_day = days["pm25"][1]
    assert spring_day.start.utcoffset() == timedelta(hours=1)
    assert spring_day.end.astimezone(UTC) - spring_day.start.astimezone(UTC) == timedelta(hours=23)
    assert spring_day.end.utcoffset() == timedelta(hours=2)

    # The window is half-open and filters on the database side.
    narrow = readings.aggregate(
        ORG,
        AIR,
        start=datetime(2026, 3, 28, 22, 40, tzinfo=UTC),
        end=datetime(2026, 3, 29, 12, 0, tzinfo=UTC),
        aggregation="hour",
        measures=["no2"],
    )
    assert [(b.count, b.average) for b in narrow["no2"]] == [(1, 40.0), (1, 60.0)]

    latest = readings.latest(ORG, AIR, ["pm25", "pm10"])
    assert list(latest) == ["pm25"]
    assert latest["pm25"].value == 70.0
    assert latest["pm25"].measured_at == datetime(2026, 3, 29, 22, 30, tzinfo=UTC)


def test_bucket_bounds_cover_whole_hours_and_days() -> None:
    start = datetime(2026, 3, 28, 22, 10, tzinfo=UTC)
    end = datetime(2026, 3, 29, 3, 0, tzinfo=UTC)
    assert bucket_bounds(start, end, "hour") == (
        datetime(2026, 3, 28, 22, tzinfo=UTC),
        datetime(2026, 3, 29, 3, tzinfo=UTC),
    )
    first, last = bucket_bounds(start, end, "day")
    assert first.isoformat() == "2026-03-28T00:00:00+01:00"
    assert last.isoformat() == "2026-03-30T00:00:00+02:00"


def test_the_simulator_feeds_the_pipeline_in_process(sqlite_url: str, tmp_path: Path) -> None:
    from glazenstad.db.engine import make_engine, migrate

    engine = make_engine(sqlite_url)
    migrate(engine)
    load_sensor_register(engine, tmp_path)
    register = RegisterStore(engine)
    pipeline = SensorPipeline(engine, register)
    progress: list[tuple[int, int]] = []
    result = simulate_sensors(
        register.snapshot(),
        rate=100,
        duration=2,
        pipeline=pipeline,
        unregistered=3,
        history=timedelta(days=2),
        realtime=False,
        seed=7,
        progress=lambda sent, total: progress.append((sent, total)),
    )
    assert result.published == 200
    assert result.unregistered == 3
    assert result.sensors == 1  # the ended noise meter and the scan car are left out
    assert progress[-1] == (200, 200)
    assert pipeline.totals.accepted == 197
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(sensor_measurement)).scalar()
    assert rows == 197 * 3
    findings = list_findings(engine, ORG)
    assert [(f.kind, f.subject, f.count) for f in findings] == [
        (FINDING_UNREGISTERED_SENSOR, UNREGISTERED_SENSOR_ID, 3)
    ]
    days = SensorReadings(engine).aggregate(
        ORG,
        AIR,
        start=datetime.now(UTC) - timedelta(days=3),
        end=datetime.now(UTC) + timedelta(hours=1),
        aggregation="day",
    )
    assert sum(b.count for b in days["pm25"]) == 197
    engine.dispose()


def test_simulated_values_follow_the_day() -> None:
    import random

    rng = random.Random(1)
    tuesday_rush = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # 8.00 in Amsterdam
    tuesday_night = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 3.00
    assert traffic_level(tuesday_rush) > 3 * traffic_level(tuesday_night)
    rush = [simulated_value("no2", tuesday_rush, rng) for _ in range(50)]
    night = [simulated_value("no2", tuesday_night, rng) for _ in range(50)]
    assert sum(rush) / 50 > sum(night) / 50 + 15
    assert min(simulated_value("pm25", tuesday_night, rng) for _ in range(200)) >= 0
