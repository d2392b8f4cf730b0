"""Insight: compliance snapshots, the history of measured compliance.

`compliance_snapshot` holds one run of the checks (overall score, each check's status and
count); `compliance_activity_score` the score of each activity in that run, so the history of
one activity is an index range, not a scan through JSON.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import glazenstad.db.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "compliance_snapshot",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("measured_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stored_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stored_by", sa.String(length=200), nullable=False),
        sa.Column("weighting_version", sa.String(length=20), nullable=False),
        sa.Column("overall_score", sa.Float(precision=53), nullable=False),
        sa.Column("activities_scored", sa.Integer(), nullable=False),
        sa.Column("checks_failed", sa.Integer(), nullable=False),
        sa.Column("checks_measured", sa.Integer(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_snapshot")),
    )
    op.create_index(
        "ix_compliance_snapshot_org_time",
        "compliance_snapshot",
        ["organisation_id", "measured_at"],
    )
    op.create_table(
        "compliance_activity_score",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("snapshot_id", _BIG_ID, nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("activity_id", sa.String(length=80), nullable=False),
        sa.Column("score", sa.Float(precision=53), nullable=False),
        sa.Column("failed", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["compliance_snapshot.id"],
            name=op.f("fk_compliance_activity_score_snapshot_id_compliance_snapshot"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_activity_score")),
    )
    op.create_index(
        "ix_compliance_activity_score",
        "compliance_activity_score",
        ["organisation_id", "activity_id", "snapshot_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_compliance_activity_score", table_name="compliance_activity_score")
    op.drop_table("compliance_activity_score")
    op.drop_index("ix_compliance_snapshot_org_time", table_name="compliance_snapshot")
    op.drop_table("compliance_snapshot")
