"""The open sensor data API: latest values, series by hour and day, findings, and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from glazenstad.db.engine import make_engine
from glazenstad.execution.mqtt import Message
from glazenstad.execution.sensors import (
    SENSOR_FINDINGS,
    SensorPipeline,
    encode_reading,
    sensor_topic,
)
from glazenstad.register.store import RegisterStore
from glazenstad.settings import Settings
from glazenstad.web.app import create_app
from tests.execution.sensorutil import AIR, NOISE_ENDED, ORG, SCAN_CAR, load_sensor_register

BASE = f"/api/v1/organisations/{ORG}"
T0 = datetime(2025, 11, 30, 22, 30, tzinfo=UTC)  # 23.30 on 30 November in Amsterdam


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path))
    engine = make_engine(database_url)
    load_sensor_register(engine, tmp_path)
    pipeline = SensorPipeline(engine, RegisterStore(engine))
    pipeline.handle(
        [
            Message(
                topic=sensor_topic(ORG, AIR),
                payload=encode_reading(T0 + timedelta(minutes=20 * n), {"pm25": 10.0 + n}),
                received_at=T0,
            )
            for n in range(4)  # 23.30, 23.50 on 30 Nov; 0.10, 0.30 on 1 Dec
        ]
        + [
            Message(
                topic=sensor_topic(ORG, "onbekend"),
                payload=encode_reading(T0, {"pm25": 1.0}),
                received_at=T0,
            )
        ]
    )
    engine.dispose()
    with TestClient(app) as test_client:
        yield test_client


def test_latest_measurements_list_open_sensors_with_their_location(client: TestClient) -> None:
    response = client.get(f"{BASE}/latest-measurements")
    assert response.status_code == 200
    assert response.headers["API-Version"]
    body = response.json()
    # Not the scan car (personal data); the ended meter stays, with its end date.
    assert [s["sensorId"] for s in body["results"]] == [NOISE_ENDED, AIR]
    assert body["results"][0]["validUntil"] == "2020-01-31"
    air = body["results"][1]
    assert (air["latitude"], air["longitude"]) == (52.0901, 5.1202)
    latest = {m["measure"]: m for m in air["latest"]}
    assert latest["pm25"]["value"] == 13.0
    assert latest["pm25"]["measuredAt"].startswith("2025-11-30T23:30:00")
    assert latest["pm25"]["unit"] == "µg/m³"
    assert latest["no2"]["value"] is None
    assert body["pagination"]["totalResults"] == 2


def test_measurements_by_hour_and_by_day(client: TestClient) -> None:
    hours = client.get(
        f"{BASE}/sensors/{AIR}/measurements",
        params={"from": "2025-11-30T22:00:00Z", "to": "2025-12-01T00:00:00Z", "measure": "pm25"},
    )
    assert hours.status_code == 200, hours.text
    body = hours.json()
    assert body["aggregation"] == "hour"
    assert body["from"].startswith("2025-11-30T22:00:00")
    assert [s["measure"] for s in body["series"]] == ["pm25"]
    buckets = body["series"][0]["buckets"]
    assert [(b["count"], b["average"], b["minimum"], b["maximum"]) for b in buckets] == [
        (2, 10.5, 10.0, 11.0),
        (2, 12.5, 12.0, 13.0),
    ]

    days = client.get(
        f"{BASE}/sensors/{AIR}/measurements",
        params={"aggregation": "day", "from": "2025-11-30T12:00:00+01:00", "to": T0.isoformat()},
    )
    assert days.status_code == 200, days.text
    body = days.json()
    assert body["from"] == "2025-11-30T00:00:00+01:00"
    assert body["to"] == "2025-12-01T00:00:00+01:00"
    assert body["timeZone"] == "Europe/Amsterdam"
    series = {s["measure"]: s["buckets"] for s in body["series"]}
    assert set(series) == {"pm25", "pm10", "no2"}
    assert [(b["start"], b["count"], b["average"]) for b in series["pm25"]] == [
        ("2025-11-30T00:00:00+01:00", 2, 10.5)
    ]
    assert series["no2"] == []


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({"measure": "geluid_db_a"}, "query.measure", "not a measure of this sensor"),
        ({"measure": "PM25"}, "query.measure", "pattern"),
        ({"aggregation": "week"}, "query.aggregation", "hour"),
        ({"from": "2026-12-01T10:00:00"}, "query.from", "timezone"),
        ({"from": "2026-12-02T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, "query.from", "before"),
        (
            {"from": "2026-01-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
            "query.from",
            "at most 31 days",
        ),
        ({"to": "2200-01-01T00:00:00Z"}, "query.to", "between 2000-01-01 and 2100-01-01"),
    ],
)
def test_bad_queries_name_the_field(
    client: TestClient, params: dict[str, str], field: str, reason: str
) -> None:
    response = client.get(f"{BASE}/sensors/{AIR}/measurements", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    invalid = response.json()["invalidParams"]
    assert [p["name"] for p in invalid] == [field]
    assert reason in invalid[0]["reason"]


@pytest.mark.parametrize(
    "path",
    [
        f"{BASE}/sensors/bestaat-niet/measurements",
        f"{BASE}/sensors/{SCAN_CAR}/measurements",  # personal data: never open
        "/api/v1/organisations/bestaat-niet/latest-measurements",
        "/api/v1/organisations/bestaat-niet/execution-findings",
    ],
)
def test_unknown_or_closed_sensors_are_not_found(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_an_ended_sensor_keeps_its_history_readable(client: TestClient) -> None:
    response = client.get(f"{BASE}/sensors/{NOISE_ENDED}/measurements")
    assert response.status_code == 200
    assert response.json()["series"] == [
        {"measure": "geluid_db_a", "label": "Geluid (dB(A))", "unit": "dB(A)", "buckets": []}
    ]


def test_findings_report_the_unregistered_sensor(client: TestClient) -> None:
    response = client.get(f"{BASE}/execution-findings")
    assert response.status_code == 200
    [finding] = response.json()["results"]
    assert finding["kind"] == "unregistered-sensor"
    assert finding["title"] == "unregistered sensor sends data"
    assert finding["subject"] == "onbekend"
    assert finding["count"] == 1
    other = client.get(f"{BASE}/execution-findings", params={"kind": "inactive-sensor"})
    assert other.json()["results"] == []


def test_the_kind_filter_offers_every_finding_kind(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"]["/organisations/{organisationId}/execution-findings"]["get"]
    [kind] = [p for p in operation["parameters"] if p["name"] == "kind"]
    offered = kind["schema"].get("enum") or next(
        o["enum"] for o in kind["schema"]["anyOf"] if "enum" in o
    )
    assert set(offered) == set(SENSOR_FINDINGS)
