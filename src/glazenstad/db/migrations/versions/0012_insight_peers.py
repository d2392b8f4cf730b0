"""Insight: the opt-in of organisations to publish their figures among peers.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import glazenstad.db.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peer_publication_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_publication_event")),
    )
    op.create_index(
        "ix_peer_publication_event_org", "peer_publication_event", ["organisation_id", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_peer_publication_event_org", table_name="peer_publication_event")
    op.drop_table("peer_publication_event")
