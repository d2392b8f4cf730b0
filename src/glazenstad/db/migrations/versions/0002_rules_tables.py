"""Rules tables: policy versions, lifecycle events, decision log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import glazenstad.db.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("decided_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=True),
        sa.Column("compiled_hash", sa.String(length=64), nullable=True),
        sa.Column("engine_version", sa.String(length=40), nullable=False),
        sa.Column("input_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=600), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("data_category", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("effect", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("break_glass", sa.Boolean(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_log")),
        sa.UniqueConstraint("decision_id", name="uq_decision_log_decision_id"),
    )
    with op.batch_alter_table("decision_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_decision_log_org_time", ["organisation_id", "decided_at"], unique=False
        )

    op.create_table(
        "policy_version",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("policy_id", sa.String(length=80), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_version")),
        sa.UniqueConstraint("organisation_id", "content_hash", name="uq_policy_version_hash"),
    )
    op.create_table(
        "policy_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["policy_version.id"],
            name=op.f("fk_policy_event_version_id_policy_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_event")),
    )
    with op.batch_alter_table("policy_event", schema=None) as batch_op:
        batch_op.create_index("ix_policy_event_version", ["version_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("policy_event", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_event_version")

    op.drop_table("policy_event")
    op.drop_table("policy_version")
    with op.batch_alter_table("decision_log", schema=None) as batch_op:
        batch_op.drop_index("ix_decision_log_org_time")

    op.drop_table("decision_log")
