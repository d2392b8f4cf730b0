"""Scan-car pipeline: scans (plate pseudonyms only), enforcement cases, hourly zone counts.

`parking_scan` and `parking_case` key on (organisation, car, scan id) so a redelivered MQTT
message is a no-op; `delete_after` and `retain_until` are indexed for the retention job.
`parking_hourly` holds the open-data counts per zone and hour.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import glazenstad.db.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _moment(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, glazenstad.db.base.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "parking_scan",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("car_id", sa.String(length=80), nullable=False),
        sa.Column("scan_id", sa.String(length=80), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=False),
        sa.Column("latitude", sa.Float(precision=53), nullable=False),
        sa.Column("longitude", sa.Float(precision=53), nullable=False),
        _moment("scanned_at"),
        _moment("received_at"),
        sa.Column("plate_pseudonym", sa.String(length=100), nullable=False),
        sa.Column("photo_ref", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        _moment("delete_after", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_scan")),
        sa.UniqueConstraint("organisation_id", "car_id", "scan_id", name="uq_parking_scan"),
    )
    op.create_index("ix_parking_scan_delete_after", "parking_scan", ["delete_after"])
    op.create_table(
        "parking_case",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("car_id", sa.String(length=80), nullable=False),
        sa.Column("scan_id", sa.String(length=80), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=False),
        _moment("scanned_at"),
        sa.Column("plate_pseudonym", sa.String(length=100), nullable=False),
        sa.Column("photo_ref", sa.String(length=300), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        _moment("created_at"),
        _moment("decided_at", nullable=True),
        _moment("retain_until", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parking_case")),
        sa.UniqueConstraint("case_id", name="uq_parking_case_id"),
        sa.UniqueConstraint("organisation_id", "car_id", "scan_id", name="uq_parking_case_scan"),
    )
    op.create_index("ix_parking_case_state", "parking_case", ["organisation_id", "state"])
    op.create_index("ix_parking_case_retain_until", "parking_case", ["retain_until"])
    op.create_table(
        "parking_hourly",
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=False),
        _moment("hour"),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("unpaid", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "zone", "hour", name="pk_parking_hourly"),
    )


def downgrade() -> None:
    op.drop_table("parking_hourly")
    op.drop_index("ix_parking_case_retain_until", table_name="parking_case")
    op.drop_index("ix_parking_case_state", table_name="parking_case")
    op.drop_table("parking_case")
    op.drop_index("ix_parking_scan_delete_after", table_name="parking_scan")
    op.drop_table("parking_scan")
