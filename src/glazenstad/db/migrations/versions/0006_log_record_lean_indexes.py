"""PostgreSQL: one index fewer on log_record; the idempotency key leads with the trace id.

Random keys make index maintenance the largest cost of a bulk insert into log_record (each
random key touches another page). `(organisation_id, trace_id, span_id)` serves both the
idempotency check and the read extension's trace filter (reads are always per organisation),
so the separate trace index goes: the raw COPY floor rises by about a fifth on this layout.

SQLite keeps its two indexes: changing a table constraint there means rebuilding the table,
which would drop the append-only triggers, and SQLite is the small-installation default.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_unique_constraint(
        "uq_log_record_trace", "log_record", ["organisation_id", "trace_id", "span_id"]
    )
    op.drop_constraint("uq_log_record_span", "log_record", type_="unique")
    op.drop_index("ix_log_record_trace", table_name="log_record")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index("ix_log_record_trace", "log_record", ["trace_id"])
    op.create_unique_constraint(
        "uq_log_record_span", "log_record", ["organisation_id", "span_id", "trace_id"]
    )
    op.drop_constraint("uq_log_record_trace", "log_record", type_="unique")
