"""A register with open-data sensors for the sensor tests: the test register plus a few sensors.

The shared test register has only a scan car (personal data); these tests need sensors whose
measurements are open data, one whose registration has ended, and one with personal data.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from glazenstad.register.loader import load_register
from tests.conftest import TEST_REGISTER

ORG = "teststad"
AIR = "luchtmeter-centrum"
NOISE_ENDED = "geluidmeter-oud"
SCAN_CAR = "scanauto-camera-1"

SENSORS_YAML = f"""kind: sensor
id: {AIR}
name: Luchtmeetpunt Centrum
purpose: Meten van fijnstof en stikstofdioxide in het centrum.
type: klimaat
theme: Luchtkwaliteit
latitude: 52.0901
longitude: 5.1202
valid_until: 2099-12-31
personal_data: false
measures: [pm25, pm10, no2]
---
kind: sensor
id: {NOISE_ENDED}
name: Geluidmeter (opgeheven)
purpose: Meten van geluid tijdens een evenement dat voorbij is.
type: overig
theme: Geluid
latitude: 52.0832
longitude: 5.1254
valid_until: 2020-01-31
personal_data: false
measures: [geluid_db_a]
"""


def sensor_register(tmp_path: Path) -> Path:
    """A copy of the test register with the sensors above added."""
    target = tmp_path / "register"
    shutil.copytree(TEST_REGISTER, target)
    (target / ORG / "sensors.yaml").write_text(SENSORS_YAML, encoding="utf-8")
    return target


def load_sensor_register(engine: Engine, tmp_path: Path) -> None:
    load_register(engine, sensor_register(tmp_path), approved_by="test-approver")
    time.sleep(0.002)  # what follows happens after the register versions were recorded


def wait_for(condition: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll `condition` until it holds; fail with `what` when `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
