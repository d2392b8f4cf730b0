"""A sensor simulator: believable measurements for every registered sensor, over MQTT or in process.

Values follow the day of a small Dutch city: traffic peaks at 8.00 and 17.30 (less at weekends),
air pollution follows traffic, noise in the nightlife area rises in the evening, temperature
peaks in the afternoon. Noise on top keeps the charts honest. Only sensors that belong in the
open sensor data are simulated (registered, active, no personal data); on request a few messages
come from a sensor that is not in the register, to show the pipeline refusing them.

With `mqtt_url` the messages go to the broker (and the running pipeline stores them); without,
they go in batches straight to `SensorPipeline.handle`, the same code the MQTT consumer calls.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from glazenstad.db.base import utcnow
from glazenstad.execution.mqtt import MqttPublisher
from glazenstad.execution.sensors import (
    DEFAULT_TOPIC_ROOT,
    MUNICIPAL_ZONE,
    InProcessFeed,
    SensorPipeline,
    encode_reading,
    sensor_topic,
    takes_open_data,
)
from glazenstad.register.model import Sensor
from glazenstad.register.store import RegisterSnapshot

UNREGISTERED_SENSOR_ID = "niet-geregistreerde-meter"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SimulatedSensor:
    organisation_id: str
    sensor: Sensor


@dataclass(frozen=True)
class SimulationResult:
    published: int
    unregistered: int
    sensors: int


def _bump(hour: float, centre: float, width: float) -> float:
    distance = min(abs(hour - centre), 24 - abs(hour - centre))
    return math.exp(-((distance / width) ** 2))


def traffic_level(moment: datetime) -> float:
    """0..1: how busy the roads are (morning and evening rush, quieter weekends)."""
    local = moment.astimezone(MUNICIPAL_ZONE)
    hour = local.hour + local.minute / 60
    weekday = local.weekday() < 5
    rush = _bump(hour, 8.0, 1.3) + 0.9 * _bump(hour, 17.5, 1.6)
    day = 0.45 * _bump(hour, 13.0, 4.5)
    level = (rush if weekday else 0.3 * rush) + day + 0.05
    return min(1.0, level)


def _nightlife(moment: datetime) -> float:
    local = moment.astimezone(MUNICIPAL_ZONE)
    hour = local.hour + local.minute / 60
    weekend = local.weekday() >= 4
    return (1.0 if weekend else 0.5) * _bump(hour, 23.0, 2.5)


def _daylight(moment: datetime) -> float:
    local = moment.astimezone(MUNICIPAL_ZONE)
    hour = local.hour + local.minute / 60
    return math.sin(math.pi * (hour - 5) / 18) if 5 <= hour <= 23 else -0.3


def _season(day: date) -> float:
    """-1 in midwinter .. 1 in midsummer."""
    return -math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365)


def simulated_value(measure: str, moment: datetime, rng: random.Random) -> float:
    """A plausible value of `measure` at `moment` (unknown measures get a steady noisy level)."""
    traffic = traffic_level(moment)
    season = _season(moment.astimezone(MUNICIPAL_ZONE).date())
    value: float
    match measure:
        case "pm25":
            value = 6 + 14 * traffic + rng.gauss(0, 1.5) - 2 * season
        case "pm10":
            value = 11 + 20 * traffic + rng.gauss(0, 2.5) - 2 * season
        case "no2":
            value = 12 + 38 * traffic + rng.gauss(0, 3)
        case "voertuigen_per_uur":
            value = 60 + 1100 * traffic + rng.gauss(0, 40)
        case "snelheid":
            value = 48 - 20 * max(0.0, traffic - 0.5) + rng.gauss(0, 2)
        case "fietsers_per_uur":
            value = 15 + 420 * traffic * (1 + 0.3 * season) + rng.gauss(0, 20)
        case "geluid_db_a":
            value = 42 + 12 * traffic + 22 * _nightlife(moment) + rng.gauss(0, 1.5)
        case "geluid_db_c":
            value = 50 + 12 * traffic + 28 * _nightlife(moment) + rng.gauss(0, 2)
        case "waterstand_cm_nap":
            hours = moment.timestamp() / 3600
            value = -40 + 6 * math.sin(2 * math.pi * hours / 200) + rng.gauss(0, 0.8)
        case "temperatuur":
            value = 10 + 8 * season + 5 * _daylight(moment) + rng.gauss(0, 0.4)
        case "luchtvochtigheid":
            value = 78 - 15 * _daylight(moment) + rng.gauss(0, 2)
            value = min(100.0, value)
        case _:
            value = 50 + rng.gauss(0, 5)
    if measure not in ("waterstand_cm_nap", "temperatuur"):
        value = max(0.0, value)
    return round(value, 1)


def simulated_sensors(
    snapshot: RegisterSnapshot, organisation_id: str | None = None, on: date | None = None
) -> list[SimulatedSensor]:
    """The sensors whose data belongs in the open sensor data and are active `on` that day."""
    day = on or utcnow().astimezone(MUNICIPAL_ZONE).date()
    found: list[SimulatedSensor] = []
    for register in snapshot.ordered():
        org_id = register.organisation.organisation_id
        if organisation_id is not None and org_id != organisation_id:
            continue
        for sensor in register.sensors():
            if takes_open_data(sensor) and (
                sensor.valid_until is None or sensor.valid_until >= day
            ):
                found.append(SimulatedSensor(org_id, sensor))
    return found


def simulate_sensors(
    snapshot: RegisterSnapshot,
    *,
    rate: float,
    duration: float,
    mqtt_url: str | None = None,
    pipeline: SensorPipeline | None = None,
    topic_root: str = DEFAULT_TOPIC_ROOT,
    organisation_id: str | None = None,
    unregistered: int = 0,
    history: timedelta | None = None,
    realtime: bool = True,
    seed: int | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> SimulationResult:
    """Send `rate` messages per second for `duration` seconds, round-robin over the sensors.

    `mqtt_url`: publish to the broker (QoS 1); otherwise `pipeline` is fed in process. Each
    message holds every measure of one sensor. `history`: spread the measurement times evenly
    over that period before now (fills hour and day charts in a short run); without it each
    message is measured when sent. `realtime=False` sends as fast as possible, with measurement
    times as if sent at `rate`. `unregistered` messages come from a sensor id that is in no
    register. `progress(sent, total)` is called as messages go out.
    """
    if rate <= 0 or duration <= 0:
        raise ValueError("rate and duration must be positive")
    if mqtt_url is None and pipeline is None:
        raise ValueError("give an MQTT URL or a pipeline to feed in process")
    sensors = simulated_sensors(snapshot, organisation_id)
    if not sensors:
        raise ValueError("the register holds no sensors whose measurements are open data")
    total = max(1, round(rate * duration))
    rng = random.Random(seed)
    start = now or utcnow()
    unregistered = min(unregistered, total)
    # Spread the unregistered messages over the run, so they show up between the others.
    odd_ones = {int((i + 0.5) * total / unregistered) for i in range(unregistered)}
    odd_org = organisation_id or sensors[0].organisation_id

    publisher: MqttPublisher | None = None
    feed: InProcessFeed | None = None
    if mqtt_url is not None:
        publisher = MqttPublisher(mqtt_url)
        publisher.connect()
    else:
        assert pipeline is not None
        feed = InProcessFeed(pipeline.handle)
    sent = odd = 0
    began = time.monotonic()
    try:
        for index in range(total):
            if realtime:
                delay = began + index / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if history is not None:
                moment = start - history + history * ((index + 1) / total)
            elif realtime:
                moment = utcnow()
            else:  # as if sent at `rate`, ending now
                moment = start - timedelta(seconds=(total - 1 - index) / rate)
            if index in odd_ones:
                topic = sensor_topic(odd_org, UNREGISTERED_SENSOR_ID, topic_root)
                payload = encode_reading(moment, {"pm25": simulated_value("pm25", moment, rng)})
                odd += 1
            else:
                target = sensors[index % len(sensors)]
                topic = sensor_topic(target.organisation_id, target.sensor.id, topic_root)
                values = {m: simulated_value(m, moment, rng) for m in target.sensor.measures}
                payload = encode_reading(moment, values)
            if publisher is not None:
                publisher.publish(topic, payload)
            elif feed is not None:
                feed.publish(topic, payload)
            sent += 1
            if progress is not None and (sent % 50 == 0 or sent == total):
                progress(sent, total)
        if feed is not None:
            feed.flush()
    finally:
        if publisher is not None:
            publisher.close()
    return SimulationResult(published=sent, unregistered=odd, sensors=len(sensors))
