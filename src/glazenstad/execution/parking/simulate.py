"""Scan-car simulator: realistic scans to the broker, or in process to the pipeline.

Each simulated car drives through one zone and reads plates the demo parking-rights register
knows (`ParkingRights.sample_plates`: about a quarter without a right). Scans go out as MQTT
messages in the pipeline's format; without a broker they go through `InProcessFeed` straight to
`ScanPipeline.handle`, the same code that runs after the broker.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from glazenstad.db.base import utcnow
from glazenstad.execution.parking.pipeline import DEFAULT_TOPIC_ROOT, encode_scan, scan_topic

# Rough centres of the demo zones (WGS 84); scans scatter a few hundred metres around them.
ZONE_CENTRES: dict[str, tuple[float, float]] = {
    "VBS-BINNENSTAD": (52.0907, 5.1214),
    "VBS-STATION": (52.0894, 5.1101),
    "VBS-HAVEN": (52.0990, 5.1050),
    "VBS-OUDWEST": (52.0880, 5.1000),
    "VBS-LINDENHOF": (52.0800, 5.1300),
}


class Target(Protocol):
    def publish(self, topic: str, payload: bytes) -> None: ...


@dataclass
class SimulationProgress:
    sent: int
    total: int


def simulate_parking(
    target: Target,
    *,
    rate: float,
    duration: float,
    organisation_id: str = "voorbeeldstad",
    topic_root: str = DEFAULT_TOPIC_ROOT,
    cars: int = 3,
    start: datetime | None = None,
    seed: int = 1,
    unpaid_share: float = 0.25,
    pace: bool = True,
    progress: Callable[[SimulationProgress], None] | None = None,
) -> int:
    """Send `rate` scans per second for `duration` seconds; returns how many were sent.

    Scan times advance from `start` (default: now) by 1/rate each. With `pace` the simulator
    waits so that scans go out in real time; without it (tests) it sends as fast as it can.
    Scan ids are `<car>-<seed>-<n>`: the same run sent twice yields duplicates, as a car
    re-sending after a lost connection would.
    """
    from glazenstad.sources import ZONE_CODES, ParkingRights

    if rate <= 0 or duration <= 0:
        raise ValueError("rate and duration must be positive")
    total = max(1, round(rate * duration))
    rights = ParkingRights.from_seed()
    rng = random.Random(seed)
    zones = sorted(ZONE_CODES)
    first = start or utcnow()
    step = timedelta(seconds=1 / rate)
    began = time.monotonic()
    car_zones = {f"scanauto-{n + 1}": zones[n % len(zones)] for n in range(cars)}
    car_ids = list(car_zones)
    plates: dict[str, list[str]] = {}
    sent = 0
    for n in itertools.count():
        if n >= total:
            break
        car = car_ids[n % len(car_ids)]
        zone = car_zones[car]
        moment = first + step * n
        pool = plates.get(car)
        if not pool:
            pool = rights.sample_plates(
                zone, moment, 50, unpaid_share=unpaid_share, seed=seed * 1000 + n
            )
            if not pool:
                continue
            plates[car] = pool
        plate = pool.pop()
        lat, lon = ZONE_CENTRES.get(zone, (52.09, 5.12))
        scan_id = f"{car}-{seed}-{n}"
        target.publish(
            scan_topic(organisation_id, car, topic_root),
            encode_scan(
                scan_id,
                plate,
                zone,
                round(lat + rng.uniform(-0.004, 0.004), 6),
                round(lon + rng.uniform(-0.006, 0.006), 6),
                moment,
                f"foto://{car}/{scan_id}.jpg",
            ),
        )
        sent += 1
        if progress is not None and (sent % 100 == 0 or sent == total):
            progress(SimulationProgress(sent, total))
        if pace:
            ahead = began + (n + 1) / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    return sent
