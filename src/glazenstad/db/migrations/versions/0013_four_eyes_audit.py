"""Four-eyes rule and audit trail: register loads are proposed, then approved by someone else.

`register_load_event` holds each load's lifecycle (proposed, approved); `register_proposed_entry`
the versions a load proposes, which become `register_entry_version` rows on approval;
`audit_event` the audit trail of register and policy changes. All three are append-only, guarded
by triggers like the logbook.

Loads made before this migration were in force without a second person; each gets an `approved`
event by "migration 0013" saying so, so the register in force stays what it was.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import glazenstad.db.base
from glazenstad.db.append_only import AppendOnlyGuard

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

GUARD = AppendOnlyGuard(
    function="glazenstad_four_eyes_append_only",
    tables=("audit_event", "register_load_event", "register_proposed_entry"),
    message="the audit trail is append-only: {action} on {table} is refused",
)


def _moment(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, glazenstad.db.base.UTCDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        _moment("at"),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index("ix_audit_event_org_at", "audit_event", ["organisation_id", "at"])
    op.create_table(
        "register_load_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        _moment("at"),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["register_load.id"],
            name=op.f("fk_register_load_event_load_id_register_load"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_load_event")),
        sa.UniqueConstraint("load_id", "status", name="uq_register_load_event_status"),
    )
    op.create_table(
        "register_proposed_entry",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("entry_id", sa.String(length=80), nullable=False),
        sa.Column("uri", sa.String(length=600), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["register_load.id"],
            name=op.f("fk_register_proposed_entry_load_id_register_load"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_proposed_entry")),
    )
    op.create_index("ix_register_proposed_entry_load", "register_proposed_entry", ["load_id", "id"])
    # Loads from before the four-eyes rule stay in force, and say why.
    op.execute(
        'INSERT INTO register_load_event (load_id, status, at, "by", note) '
        "SELECT id, 'approved', loaded_at, 'migration 0013', "
        "'loaded before the four-eyes rule; in force without a second person' "
        "FROM register_load ORDER BY id"
    )
    GUARD.create()


def downgrade() -> None:
    GUARD.drop()
    op.drop_index("ix_register_proposed_entry_load", table_name="register_proposed_entry")
    op.drop_table("register_proposed_entry")
    op.drop_table("register_load_event")
    op.drop_index("ix_audit_event_org_at", table_name="audit_event")
    op.drop_table("audit_event")
