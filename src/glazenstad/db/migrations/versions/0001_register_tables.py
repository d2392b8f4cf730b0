"""Register tables: loads and append-only entry versions.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import glazenstad.db.base

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "register_load",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("loaded_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("organisations", sa.JSON(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_load")),
    )
    op.create_table(
        "register_entry_version",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("entry_id", sa.String(length=80), nullable=False),
        sa.Column("uri", sa.String(length=600), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recorded_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["register_load.id"],
            name=op.f("fk_register_entry_version_load_id_register_load"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_entry_version")),
        sa.UniqueConstraint(
            "organisation_id", "kind", "entry_id", "version", name="uq_entry_version"
        ),
    )
    with op.batch_alter_table("register_entry_version", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entry_version_asof",
            ["organisation_id", "kind", "entry_id", "recorded_at"],
            unique=False,
        )
        batch_op.create_index("ix_entry_version_uri", ["uri", "recorded_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("register_entry_version", schema=None) as batch_op:
        batch_op.drop_index("ix_entry_version_uri")
        batch_op.drop_index("ix_entry_version_asof")

    op.drop_table("register_entry_version")
    op.drop_table("register_load")
