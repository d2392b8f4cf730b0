"""The demo register and policy in a database, a pipeline on it, and a moment inside paid hours.

Scans are made "now" as the pipeline's clock says: the next weekday 10:00 in Amsterdam after the
register was loaded, so the activity resolves in the logbook and paid parking applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from glazenstad.execution.mqtt import Message
from glazenstad.execution.parking.pipeline import (
    ScanPipeline,
    encode_scan,
    in_process_checker,
    scan_topic,
)
from glazenstad.logbook.pseudonym import Pseudonymizer
from glazenstad.sources import ParkingRights
from tests.gateway.conftest import ORG, load_demo
from tests.logbook.conftest import KEY_2026

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CAR = "scanauto-1"
ZONE = "VBS-BINNENSTAD"


def next_weekday_ten() -> datetime:
    day = datetime.now(AMSTERDAM).date() + timedelta(days=1)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=AMSTERDAM).astimezone(UTC)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Setup:
    engine: Engine
    pipeline: ScanPipeline
    clock: Clock
    pseudonymizer: Pseudonymizer
    rights: ParkingRights
    counter: list[int] = field(default_factory=lambda: [0])

    def plates(self, *, paid: bool, count: int = 1) -> list[str]:
        share = 0.0 if paid else 1.0
        return self.rights.sample_plates(ZONE, self.clock.now, count, unpaid_share=share, seed=7)

    def message(
        self, plate: str, *, scan_id: str | None = None, photo: str | None = "foto://1"
    ) -> Message:
        self.counter[0] += 1
        return Message(
            topic=scan_topic(ORG, CAR),
            payload=encode_scan(
                scan_id or f"scan-{self.counter[0]}",
                plate,
                ZONE,
                52.09,
                5.12,
                self.clock.now - timedelta(seconds=30),
                photo,
            ),
            qos=1,
            received_at=self.clock.now,
        )


RIGHTS = ParkingRights.from_seed()


def make_setup(engine: Engine) -> Setup:
    load_demo(engine)
    clock = Clock(next_weekday_ten())
    pseudonymizer = Pseudonymizer.from_config(KEY_2026)
    checker = in_process_checker()
    pipeline = ScanPipeline(engine, pseudonymizer, checker, clock=clock)
    return Setup(engine, pipeline, clock, pseudonymizer, RIGHTS)


@pytest.fixture
def setup(engine: Engine) -> Setup:
    return make_setup(engine)


Factory = Callable[[Engine], Setup]
