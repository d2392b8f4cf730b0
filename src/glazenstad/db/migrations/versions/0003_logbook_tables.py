"""Logbook tables: the append-only, hash-chained log records and the chain heads.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import glazenstad.db.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_chain_head",
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("chain_partition", sa.String(length=40), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "chain_partition", name="pk_log_chain_head"),
    )
    op.create_table(
        "log_record",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("chain_partition", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("start_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_time_ms", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=5), nullable=False),
        sa.Column("processing_activity_id", sa.String(length=600), nullable=False),
        sa.Column("activity_known", sa.Boolean(), nullable=False),
        sa.Column("activity_version", sa.Integer(), nullable=True),
        sa.Column("data_subject_pseudonym", sa.String(length=120), nullable=True),
        sa.Column("data_subject_id_type", sa.String(length=200), nullable=True),
        sa.Column("processor", sa.String(length=600), nullable=True),
        sa.Column("resource", sa.JSON(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("received_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_record")),
        sa.UniqueConstraint(
            "organisation_id", "chain_partition", "sequence", name="uq_log_record_chain"
        ),
        sa.UniqueConstraint("organisation_id", "span_id", "trace_id", name="uq_log_record_span"),
    )
    with op.batch_alter_table("log_record", schema=None) as batch_op:
        batch_op.create_index(
            "ix_log_record_activity",
            ["organisation_id", "processing_activity_id", "start_time_ms"],
            unique=False,
        )
        batch_op.create_index(
            "ix_log_record_subject", ["data_subject_pseudonym", "start_time_ms"], unique=False
        )
        batch_op.create_index("ix_log_record_trace", ["trace_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("log_record", schema=None) as batch_op:
        batch_op.drop_index("ix_log_record_trace")
        batch_op.drop_index("ix_log_record_subject")
        batch_op.drop_index("ix_log_record_activity")

    op.drop_table("log_record")
    op.drop_table("log_chain_head")
