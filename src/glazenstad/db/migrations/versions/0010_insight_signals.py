"""Insight: signals from execution and their append-only history.

`signal` is a signal as it stands now; `signal_event` its history, which the database keeps
append-only (UPDATE and DELETE refused by a trigger, as for log records), so who answered what
and when cannot be rewritten.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import glazenstad.db.base
from glazenstad.db.append_only import AppendOnlyGuard

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _moment(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, glazenstad.db.base.UTCDateTime(timezone=True), nullable=False)


GUARD = AppendOnlyGuard(
    function="glazenstad_signal_event_append_only",
    tables=("signal_event",),
    message="signal history is append-only: {action} on {table} is refused",
)


def upgrade() -> None:
    op.create_table(
        "signal",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=True),
        sa.Column("rule_title", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=600), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("filed_by", sa.String(length=80), nullable=False),
        _moment("filed_at"),
        _moment("changed_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal")),
    )
    op.create_index("ix_signal_org_filed", "signal", ["organisation_id", "filed_at"])
    op.create_index("ix_signal_org_owner_state", "signal", ["organisation_id", "owner", "state"])
    op.create_index("ix_signal_decision", "signal", ["decision_id"])
    op.create_table(
        "signal_event",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("signal_id", _BIG_ID, nullable=False),
        _moment("at"),
        sa.Column("by", sa.String(length=80), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signal.id"], name=op.f("fk_signal_event_signal_id_signal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal_event")),
    )
    op.create_index("ix_signal_event_signal", "signal_event", ["signal_id", "id"])
    GUARD.create()


def downgrade() -> None:
    GUARD.drop()
    op.drop_index("ix_signal_event_signal", table_name="signal_event")
    op.drop_table("signal_event")
    op.drop_index("ix_signal_decision", table_name="signal")
    op.drop_index("ix_signal_org_owner_state", table_name="signal")
    op.drop_index("ix_signal_org_filed", table_name="signal")
    op.drop_table("signal")
