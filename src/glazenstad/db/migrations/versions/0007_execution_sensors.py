"""Sensor measurements (time series) and the findings that execution pipelines raise.

`sensor_measurement` keys on (organisation, sensor, measure, moment): the key makes a redelivered
MQTT message a no-op, and it is the index every series read and aggregation uses.
`execution_finding` is shared by all pipelines: one row per (kind, organisation, subject), counted.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import glazenstad.db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sensor_measurement",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("sensor_id", sa.String(length=80), nullable=False),
        sa.Column("measure", sa.String(length=80), nullable=False),
        sa.Column("measured_ms", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("received_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_measurement")),
        sa.UniqueConstraint(
            "organisation_id",
            "sensor_id",
            "measure",
            "measured_ms",
            name="uq_sensor_measurement",
        ),
    )
    op.create_table(
        "execution_finding",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("first_seen", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_execution_finding")),
        sa.UniqueConstraint("kind", "organisation_id", "subject", name="uq_execution_finding"),
    )


def downgrade() -> None:
    op.drop_table("execution_finding")
    op.drop_table("sensor_measurement")
