"""Insight: data breaches with their append-only history, and reviews of break-the-glass.

`data_breach_event` and `break_glass_review` are evidence (who decided what, when), so the
database refuses UPDATE and DELETE on them, on both backends, as it does for log records.

`ix_decision_log_break_glass` is a partial index on decision_log (only break-the-glass rows):
the review lists and the compliance check ask for "break-the-glass decisions of organisation X
in period P", which otherwise reads every decision of the period through ix_decision_log_org_time.
Ordinary decisions do not enter the index, so the decision log's insert path is unchanged.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import glazenstad.db.base
from glazenstad.db.append_only import AppendOnlyGuard

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GUARD = AppendOnlyGuard(
    function="glazenstad_incident_append_only",
    tables=("data_breach_event", "break_glass_review"),
    message="{table} is append-only: {action} is refused",
)


def upgrade() -> None:
    op.create_table(
        "data_breach",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("discovered_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("occurred_from", glazenstad.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("occurred_until", glazenstad.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("activities", sa.JSON(), nullable=False),
        sa.Column("data_categories", sa.JSON(), nullable=False),
        sa.Column("estimated_subjects", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("authority_notify", sa.Boolean(), nullable=True),
        sa.Column("authority_reason", sa.Text(), nullable=True),
        sa.Column(
            "authority_decided_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "authority_notified_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("authority_reference", sa.String(length=100), nullable=True),
        sa.Column("residents_notify", sa.Boolean(), nullable=True),
        sa.Column("residents_reason", sa.Text(), nullable=True),
        sa.Column(
            "residents_decided_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "residents_notified_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("closed_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("registered_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_breach")),
    )
    op.create_index(
        "ix_data_breach_org_discovered", "data_breach", ["organisation_id", "discovered_at"]
    )
    op.create_table(
        "data_breach_event",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("breach_id", _BIG_ID, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by_id", sa.String(length=200), nullable=False),
        sa.Column("by_name", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["breach_id"],
            ["data_breach.id"],
            name=op.f("fk_data_breach_event_breach_id_data_breach"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_breach_event")),
        sa.UniqueConstraint("breach_id", "revision", name="uq_data_breach_event_revision"),
    )
    op.create_table(
        "break_glass_review",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("reviewer_id", sa.String(length=200), nullable=False),
        sa.Column("reviewer_name", sa.String(length=200), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewed_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass_review")),
        sa.UniqueConstraint("decision_id", name="uq_break_glass_review_decision"),
    )
    op.create_index(
        "ix_decision_log_break_glass",
        "decision_log",
        ["organisation_id", "decided_at"],
        postgresql_where=sa.text("break_glass IS true"),
        sqlite_where=sa.text("break_glass IS 1"),
    )

    GUARD.create()


def downgrade() -> None:
    GUARD.drop()
    op.drop_index("ix_decision_log_break_glass", table_name="decision_log")
    op.drop_table("break_glass_review")
    op.drop_table("data_breach_event")
    op.drop_index("ix_data_breach_org_discovered", table_name="data_breach")
    op.drop_table("data_breach")
