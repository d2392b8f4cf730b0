"""Tables of the scan-car pipeline: scans, enforcement cases and hourly aggregates per zone.

A plate is never stored: `plate_pseudonym` is the keyed hash the logbook uses for the same plate
(`Pseudonymizer.pseudonym(organisation, "kenteken", plate)`), so the scan, its case and its log
records can be matched without anyone reading a plate from the database.

`parking_scan` keys on (organisation, car, scan id): the scan car's own id is the idempotency key,
so a scan that MQTT delivers twice is stored once. `delete_after` is set from the register's
retention when the scan's outcome is known (paid: at ingestion; unpaid: when its case is decided)
and the retention job deletes the row after it, without archiving.

`parking_case` holds the evidence an enforcer judges. `retain_until` stays empty while the case is
open, and for a confirmed case whose retention counts from an event the pipeline does not see
(the end of the objection period).

`parking_hourly` is open data: counts per zone per UTC hour, no plates and no pseudonyms.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

from glazenstad.db.base import UTCDateTime, metadata
from glazenstad.execution.tables import BigId

parking_scan = Table(
    "parking_scan",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("organisation_id", String(80), nullable=False),
    Column("car_id", String(80), nullable=False),
    Column("scan_id", String(80), nullable=False),
    Column("zone", String(40), nullable=False),
    Column("latitude", Float(precision=53), nullable=False),
    Column("longitude", Float(precision=53), nullable=False),
    Column("scanned_at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("plate_pseudonym", String(100), nullable=False),
    # Only for unpaid scans: a paid scan's photo is never kept.
    Column("photo_ref", String(300), nullable=True),
    # betaald, vergunning or geen (no parking right).
    Column("status", String(12), nullable=False),
    Column("delete_after", UTCDateTime(), nullable=True),
    UniqueConstraint("organisation_id", "car_id", "scan_id", name="uq_parking_scan"),
    Index("ix_parking_scan_delete_after", "delete_after"),
)

parking_case = Table(
    "parking_case",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", String(32), nullable=False),
    Column("organisation_id", String(80), nullable=False),
    Column("car_id", String(80), nullable=False),
    Column("scan_id", String(80), nullable=False),
    Column("zone", String(40), nullable=False),
    Column("scanned_at", UTCDateTime(), nullable=False),
    Column("plate_pseudonym", String(100), nullable=False),
    Column("photo_ref", String(300), nullable=True),
    # open, confirmed or dismissed.
    Column("state", String(12), nullable=False),
    # For a dismissal: laden-lossen, stilstaand-verkeer, ...
    Column("reason", String(40), nullable=True),
    Column("decided_by", String(80), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("retain_until", UTCDateTime(), nullable=True),
    UniqueConstraint("case_id", name="uq_parking_case_id"),
    UniqueConstraint("organisation_id", "car_id", "scan_id", name="uq_parking_case_scan"),
    Index("ix_parking_case_state", "organisation_id", "state"),
    Index("ix_parking_case_retain_until", "retain_until"),
)

parking_hourly = Table(
    "parking_hourly",
    metadata,
    Column("organisation_id", String(80), nullable=False),
    Column("zone", String(40), nullable=False),
    # Start of the UTC hour the scans were made in.
    Column("hour", UTCDateTime(), nullable=False),
    Column("scans", Integer, nullable=False),
    # With a paid session or a permit.
    Column("paid", Integer, nullable=False),
    Column("unpaid", Integer, nullable=False),
    PrimaryKeyConstraint("organisation_id", "zone", "hour", name="pk_parking_hourly"),
)

__all__ = ["parking_case", "parking_hourly", "parking_scan"]
