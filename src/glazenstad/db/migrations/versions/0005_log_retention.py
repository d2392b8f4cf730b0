"""Retention of log records: deletion receipts, their ranges, retention runs, and the SQLite guard.

Receipts, ranges and runs are append-only (UPDATE and DELETE refused on both databases, with no
switch to lift it): a receipt is the only evidence of what retention removed, and it holds no
personal data (sequence numbers, hashes, counts, activity URIs), so it is kept for good.

On PostgreSQL the retention job is let through the append-only trigger of migration 0004 by
`SET LOCAL glazenstad.retention = 'on'` in its own transaction. SQLite has no session settings,
so 0004's trigger refused every DELETE. Here it is recreated with a WHEN clause: a log record may
be deleted only when a deletion range of a stored receipt covers its sequence number. The
retention job inserts the receipt and its ranges first and deletes in the same transaction, so
the database itself enforces "nothing deleted without a receipt", and a job killed halfway rolls
back both. This needs no DDL at run time (dropping and recreating the trigger inside the deleting
transaction would also be atomic in SQLite, but puts the trigger's text in application code and
opens the table to any DELETE for the length of the transaction). Ranges never overlap, so the
covering range, if any, is the one with the greatest first_sequence not above the record's: one
index lookup per deleted row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import glazenstad.db.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_GUARDED = ("log_deletion_receipt", "log_deletion_range", "log_retention_run")

POSTGRES_FUNCTION = """
CREATE FUNCTION glazenstad_retention_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'retention receipts are append-only: % on % is refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

SQLITE_REFUSE_DELETE = """CREATE TRIGGER log_record_no_delete BEFORE DELETE ON log_record
   WHEN COALESCE((
     SELECT r.last_sequence FROM log_deletion_range r
     WHERE r.organisation_id = OLD.organisation_id
       AND r.chain_partition = OLD.chain_partition
       AND r.first_sequence <= OLD.sequence
     ORDER BY r.first_sequence DESC LIMIT 1), -1) < OLD.sequence
   BEGIN SELECT RAISE(ABORT, 'log records are append-only: DELETE on log_record is refused
     (retention deletes only what a deletion receipt covers)');
   END"""

SQLITE_REFUSE_DELETE_0004 = """CREATE TRIGGER log_record_no_delete BEFORE DELETE ON log_record
   BEGIN SELECT RAISE(ABORT, 'log records are append-only: DELETE on log_record is refused');
   END"""


def upgrade() -> None:
    op.create_table(
        "log_deletion_receipt",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("chain_partition", sa.String(length=40), nullable=False),
        sa.Column("receipt_number", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("ran_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.BigInteger(), nullable=False),
        sa.Column("first_sequence", sa.BigInteger(), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("by_activity", sa.JSON(), nullable=False),
        sa.Column("lateness_max_ms", sa.BigInteger(), nullable=False),
        sa.Column("lateness_median_ms", sa.BigInteger(), nullable=False),
        sa.Column("lateness_p95_ms", sa.BigInteger(), nullable=False),
        sa.Column("prev_receipt_hash", sa.String(length=64), nullable=False),
        sa.Column("receipt_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_deletion_receipt")),
        sa.UniqueConstraint(
            "organisation_id",
            "chain_partition",
            "receipt_number",
            name="uq_log_deletion_receipt",
        ),
    )
    op.create_table(
        "log_deletion_range",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("receipt_id", _BIG_ID, nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=False),
        sa.Column("chain_partition", sa.String(length=40), nullable=False),
        sa.Column("first_sequence", sa.BigInteger(), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_prev_hash", sa.String(length=64), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["log_deletion_receipt.id"],
            name=op.f("fk_log_deletion_range_receipt_id_log_deletion_receipt"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_deletion_range")),
        sa.UniqueConstraint(
            "organisation_id", "chain_partition", "first_sequence", name="uq_log_deletion_range"
        ),
    )
    op.create_table(
        "log_retention_run",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.String(length=80), nullable=True),
        sa.Column("ran_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", glazenstad.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("examined", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.BigInteger(), nullable=False),
        sa.Column("receipts", sa.Integer(), nullable=False),
        sa.Column("lateness_max_ms", sa.BigInteger(), nullable=True),
        sa.Column("lateness_median_ms", sa.BigInteger(), nullable=True),
        sa.Column("lateness_p95_ms", sa.BigInteger(), nullable=True),
        sa.Column("kept", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_retention_run")),
        sa.UniqueConstraint("run_id", name=op.f("uq_log_retention_run_run_id")),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for table in _GUARDED:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION glazenstad_retention_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION glazenstad_retention_append_only()"
            )
    else:
        for table in _GUARDED:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'retention receipts are append-only: "
                    f"{action} on {table} is refused'); END"
                )
        op.execute("DROP TRIGGER IF EXISTS log_record_no_delete")
        op.execute(SQLITE_REFUSE_DELETE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _GUARDED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS glazenstad_retention_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS log_record_no_delete")
        op.execute(SQLITE_REFUSE_DELETE_0004)
        for table in _GUARDED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    op.drop_table("log_retention_run")
    op.drop_table("log_deletion_range")
    op.drop_table("log_deletion_receipt")
