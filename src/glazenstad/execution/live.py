"""A gentle, endless simulation for the demo, so the portal shows live figures.

The demo has no scan cars or sensors of its own. Without a broker (the embedded default) the
simulators feed the pipelines in process, through the same code that handles broker messages;
with `GLAZENSTAD_MQTT_URL` set they publish to the broker and the pipelines (child processes of
the demo) consume from it. The first run fills a week of history, so the charts are not empty on
the first visit; paid scans of that week then go the way the register says, deleted by the
retention job that runs after every round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, Table, func, select

from glazenstad.db.base import utcnow
from glazenstad.execution.mqtt import MqttPublisher
from glazenstad.execution.parking.pipeline import ScanPipeline, in_process_checker
from glazenstad.execution.parking.retention import delete_expired
from glazenstad.execution.parking.simulate import Target, simulate_parking
from glazenstad.execution.parking.tables import parking_hourly
from glazenstad.execution.sensors import InProcessFeed, SensorPipeline
from glazenstad.execution.simulate_sensors import simulate_sensors
from glazenstad.execution.tables import sensor_measurement
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.logbook.store import LogStore
from glazenstad.register.store import RegisterStore

_log = logging.getLogger("glazenstad.execution")
HISTORY = timedelta(days=7)
HISTORY_MESSAGES = 2_000
SENSOR_RATE = 0.2
SCAN_RATE = 0.5
"""Messages per second in the live phase: gentle enough to run beside the portal all day."""
ROUND = 60.0
"""Seconds per round, so that a stop is honoured within a minute."""


def _empty(engine: Engine, table: Table) -> bool:
    with engine.connect() as conn:
        return not conn.execute(select(func.count()).select_from(table)).scalar()


def run_sensors(engine: Engine, *, mqtt_url: str | None, stop: threading.Event) -> None:
    """Fill a week of sensor history if there is none, then simulate until `stop` is set."""
    register = RegisterStore(engine)
    pipeline = None if mqtt_url else SensorPipeline(engine, register)
    if _empty(engine, sensor_measurement):
        simulate_sensors(
            register.snapshot(),
            rate=HISTORY_MESSAGES / ROUND,
            duration=ROUND,
            mqtt_url=mqtt_url,
            pipeline=pipeline,
            history=HISTORY,
            realtime=False,
        )
    while not stop.is_set():
        simulate_sensors(
            register.snapshot(),
            rate=SENSOR_RATE,
            duration=ROUND,
            mqtt_url=mqtt_url,
            pipeline=pipeline,
        )


def run_scans(
    engine: Engine, pseudonymizer: Pseudonymizer, *, mqtt_url: str | None, stop: threading.Event
) -> None:
    """Fill a week of scans if there are none, then simulate scan cars until `stop` is set."""
    logbook = LogStore(engine, RegisterStore(engine), pseudonymizer)
    publisher: MqttPublisher | None = None
    feed: InProcessFeed | None = None
    target: Target
    if mqtt_url:
        target = publisher = MqttPublisher(mqtt_url)
        publisher.connect()
    else:
        # Batches of one: at a gentle rate a scan should not wait for others to be handled.
        pipeline = ScanPipeline(engine, pseudonymizer, in_process_checker())
        target = feed = InProcessFeed(pipeline.handle, batch_size=1)
    try:
        if _empty(engine, parking_hourly):
            week = HISTORY.total_seconds()
            history: Target = target
            if feed is not None:  # a week at once: in full batches, as a broker would deliver
                history = InProcessFeed(feed.handler, batch_size=500)
            simulate_parking(
                history,
                rate=HISTORY_MESSAGES / week,
                duration=week,
                start=utcnow() - HISTORY,
                pace=False,
                seed=0,
            )
            if isinstance(history, InProcessFeed):
                history.flush()
        round_number = 0
        while not stop.is_set():
            round_number += 1
            simulate_parking(
                target,
                rate=SCAN_RATE,
                duration=ROUND,
                seed=round_number,
            )
            if feed is not None:
                feed.flush()
            delete_expired(engine, now=utcnow(), logbook=logbook)
    finally:
        if publisher is not None:
            publisher.close()


def start_demo_simulation(
    engine: Engine, pseudonymizer: Pseudonymizer, *, mqtt_url: str | None
) -> threading.Event:
    """Sensors and scan cars on daemon threads; set the returned event to stop them."""
    stop = threading.Event()

    def guarded(name: str, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception as exc:  # the demo goes on without these live figures
            _log.warning("demo simulation of %s stopped: %s", name, type(exc).__name__)

    jobs: dict[str, Callable[[], None]] = {
        "sensors": lambda: run_sensors(engine, mqtt_url=mqtt_url, stop=stop),
        "scan cars": lambda: run_scans(engine, pseudonymizer, mqtt_url=mqtt_url, stop=stop),
    }
    for name, work in jobs.items():
        threading.Thread(
            target=guarded, args=(name, work), name=f"demo-{name}", daemon=True
        ).start()
    return stop
