"""Open data of the scan-car pipeline: scans, paid and unpaid per zone per UTC hour.

These counts are all the public sees of the pipeline: no plate, no pseudonym, no position, no
car. "Occupancy" is the number of parked vehicles the scan cars saw in that zone and hour (a
vehicle passed twice counts twice); the payment rate is the share with a paid session or a
permit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from glazenstad.execution.parking.tables import parking_hourly


@dataclass(frozen=True)
class HourlyOccupancy:
    zone: str
    start: datetime
    end: datetime
    scans: int
    paid: int
    unpaid: int

    @property
    def payment_rate(self) -> float | None:
        """Paid share of the scans; None for an hour without scans."""
        return self.paid / self.scans if self.scans else None


def hourly_occupancy(
    engine: Engine,
    organisation_id: str,
    *,
    start: datetime,
    end: datetime,
    zone: str | None = None,
) -> list[HourlyOccupancy]:
    """Hours in [start, end) with scans, by zone then hour."""
    h = parking_hourly
    query = (
        select(h.c.zone, h.c.hour, h.c.scans, h.c.paid, h.c.unpaid)
        .where(h.c.organisation_id == organisation_id, h.c.hour >= start, h.c.hour < end)
        .order_by(h.c.zone, h.c.hour)
    )
    if zone is not None:
        query = query.where(h.c.zone == zone)
    with engine.connect() as conn:
        return [
            HourlyOccupancy(
                str(row.zone),
                row.hour,
                row.hour + timedelta(hours=1),
                int(row.scans),
                int(row.paid),
                int(row.unpaid),
            )
            for row in conn.execute(query)
        ]
