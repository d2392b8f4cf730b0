"""Log records are append-only: the database refuses UPDATE and DELETE on log_record.

The application never changes a log record, so the database refuses it to anyone who connects
as the application (a bug, a stolen application credential, an injected query). Removing
records after their retention is the separate retention job's work: on PostgreSQL it sets
`glazenstad.retention = 'on'` in its own transaction to be let through. Someone who owns the
table can still drop the guard; the hash chain (`glazenstad logbook verify`) shows what they did.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

POSTGRES_UP = """
CREATE FUNCTION glazenstad_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('glazenstad.retention', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'log records are append-only: % on log_record is refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER log_record_append_only BEFORE UPDATE OR DELETE ON log_record
  FOR EACH ROW EXECUTE FUNCTION glazenstad_log_append_only();
CREATE TRIGGER log_record_no_truncate BEFORE TRUNCATE ON log_record
  FOR EACH STATEMENT EXECUTE FUNCTION glazenstad_log_append_only();
"""

POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS log_record_no_truncate ON log_record;
DROP TRIGGER IF EXISTS log_record_append_only ON log_record;
DROP FUNCTION IF EXISTS glazenstad_log_append_only();
"""

SQLITE_UP = [
    """CREATE TRIGGER log_record_no_update BEFORE UPDATE ON log_record
       BEGIN SELECT RAISE(ABORT, 'log records are append-only: UPDATE on log_record is refused');
       END""",
    """CREATE TRIGGER log_record_no_delete BEFORE DELETE ON log_record
       BEGIN SELECT RAISE(ABORT, 'log records are append-only: DELETE on log_record is refused');
       END""",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_UP)
    else:
        for statement in SQLITE_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_DOWN)
    else:
        op.execute("DROP TRIGGER IF EXISTS log_record_no_update")
        op.execute("DROP TRIGGER IF EXISTS log_record_no_delete")
