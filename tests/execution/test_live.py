"""The demo's live simulation: a week of history through the in-process pipelines."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, func, select

from glazenstad.execution import live
from glazenstad.execution.parking.tables import parking_hourly, parking_scan
from glazenstad.execution.tables import sensor_measurement
from glazenstad.logbook.pseudonym import Pseudonymizer
from tests.gateway.conftest import load_demo


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_history_is_filled_once_through_the_pipelines(engine: Engine) -> None:
    load_demo(engine)
    stopped = threading.Event()
    stopped.set()  # history only: no live rounds
    live.run_sensors(engine, mqtt_url=None, stop=stopped)
    live.run_scans(engine, Pseudonymizer.demo(), mqtt_url=None, stop=stopped)
    measurements, scans, hours = (
        count(engine, sensor_measurement),
        count(engine, parking_scan),
        count(engine, parking_hourly),
    )
    assert measurements > 0 and scans > 0 and hours > 0
    # Scans at night are refused by the policy, so not every simulated scan is stored.
    assert scans < live.HISTORY_MESSAGES
    live.run_sensors(engine, mqtt_url=None, stop=stopped)
    live.run_scans(engine, Pseudonymizer.demo(), mqtt_url=None, stop=stopped)
    assert count(engine, sensor_measurement) == measurements  # filled once, not again
    assert count(engine, parking_scan) == scans
