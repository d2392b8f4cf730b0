"""Tables of the execution pipelines: sensor measurements and the findings pipelines raise.

`sensor_measurement` is a narrow time series: one row per (sensor, measure, moment) with the
moment in milliseconds since the epoch, so hour buckets are an integer division that SQLite and
PostgreSQL compute the same way. Its unique key makes storing idempotent: MQTT delivers at least
once, and a message redelivered after a crash between commit and acknowledgement must not count
twice.

`execution_finding` is shared by every pipeline (sensors now, scan cars later): what execution
noticed that policy should hear about, such as "unregistered sensor sends data". A finding is
one row per (kind, organisation, subject) with a count and first/last seen, so a misconfigured
device sending ten messages a second adds no rows, only a higher count.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from glazenstad.db.base import UTCDateTime, metadata

# 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY (64-bit anyway).
BigId = BigInteger().with_variant(Integer(), "sqlite")

sensor_measurement = Table(
    "sensor_measurement",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("organisation_id", String(80), nullable=False),
    Column("sensor_id", String(80), nullable=False),
    Column("measure", String(80), nullable=False),
    # Milliseconds since the epoch (UTC): the moment the sensor measured.
    Column("measured_ms", BigInteger, nullable=False),
    Column("value", Float(precision=53), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    # The idempotency key, which also serves every read (a series of one sensor and measure).
    UniqueConstraint(
        "organisation_id", "sensor_id", "measure", "measured_ms", name="uq_sensor_measurement"
    ),
)

execution_finding = Table(
    "execution_finding",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # e.g. unregistered-sensor, inactive-sensor, unregistered-measure, invalid-message.
    Column("kind", String(60), nullable=False),
    # As the message named it; may be an organisation that is not in the register.
    Column("organisation_id", String(80), nullable=False),
    # What the finding is about, e.g. a sensor id; never personal data.
    Column("subject", String(200), nullable=False),
    # The most recent reason, in plain language.
    Column("detail", Text, nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("count", BigInteger, nullable=False),
    UniqueConstraint("kind", "organisation_id", "subject", name="uq_execution_finding"),
)
