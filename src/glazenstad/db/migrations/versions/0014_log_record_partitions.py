"""PostgreSQL: log_record partitioned by month of start time; its unique keys in log_record_key.

See ADR 14. `log_record` becomes a table partitioned by RANGE on `start_time_ms`, one partition
per calendar month (UTC) plus a DEFAULT partition, so retention can drop a whole expired month
instead of deleting it row by row. Existing rows are moved: a partition is created for every
month that has records (in the years 2000 to 2099; anything else goes to DEFAULT) and for the
current month and the three after it.

PostgreSQL only enforces a unique constraint on a partitioned table when it contains the
partition key. The logbook's two keys do not: the idempotency key (organisation_id, trace_id,
span_id) and the chain position (organisation_id, chain_partition, sequence). Both move to a
small unpartitioned table, `log_record_key`, filled by a statement-level trigger on log_record
from the inserted rows (one set-based INSERT per COPY, not a trigger call per row) and emptied
by the matching DELETE trigger; dropping a partition deletes its keys explicitly (retention).
The constraint names stay `uq_log_record_trace` and `uq_log_record_chain`. log_record keeps
non-unique indexes on the same columns for the writer's duplicate lookup, for reads by trace,
and for walking a chain in order.

The key table is append-only like the records: UPDATE refused, DELETE only with the retention
switch. Keys follow their records: when log_record lets a DELETE (or, with its guard lifted by the
table's owner, an UPDATE) through, the triggers remove or rewrite the records' keys whatever the
switch says: the record's guard already decided, and the key table is only its index. `log_retention_run` gets `dropped` (records removed by dropping partitions), on both
databases. SQLite is otherwise unchanged.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from glazenstad.db.append_only import AppendOnlyGuard
from glazenstad.logbook import partitions

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

KEY_GUARD = AppendOnlyGuard(
    function="glazenstad_log_key_append_only",
    tables=("log_record_key",),
    message="log record keys are append-only: {action} on {table} is refused",
    deletable_with="glazenstad.retention",
)

_RECORD_GUARD = """
CREATE TRIGGER log_record_append_only BEFORE UPDATE OR DELETE ON log_record
  FOR EACH ROW EXECUTE FUNCTION glazenstad_log_append_only();
CREATE TRIGGER log_record_no_truncate BEFORE TRUNCATE ON log_record
  FOR EACH STATEMENT EXECUTE FUNCTION glazenstad_log_append_only();
"""

_KEY_TABLE = """
CREATE TABLE log_record_key (
  organisation_id varchar(80) NOT NULL,
  trace_id varchar(32) NOT NULL,
  span_id varchar(16) NOT NULL,
  chain_partition varchar(40) NOT NULL,
  sequence bigint NOT NULL,
  CONSTRAINT uq_log_record_trace PRIMARY KEY (organisation_id, trace_id, span_id),
  CONSTRAINT uq_log_record_chain UNIQUE (organisation_id, chain_partition, sequence)
)
"""

_KEY_TRIGGERS = """
CREATE FUNCTION glazenstad_log_key_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO log_record_key (organisation_id, trace_id, span_id, chain_partition, sequence)
  SELECT organisation_id, trace_id, span_id, chain_partition, sequence FROM inserted_records;
  RETURN NULL;
END
$$;
CREATE FUNCTION glazenstad_log_key_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  previous text := coalesce(current_setting('glazenstad.retention', true), '');
BEGIN
  PERFORM set_config('glazenstad.retention', 'on', true);
  DELETE FROM log_record_key k USING deleted_records d
  WHERE k.organisation_id = d.organisation_id AND k.trace_id = d.trace_id
    AND k.span_id = d.span_id;
  PERFORM set_config('glazenstad.retention', previous, true);
  RETURN NULL;
END
$$;
CREATE FUNCTION glazenstad_log_key_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  previous text := coalesce(current_setting('glazenstad.retention', true), '');
BEGIN
  PERFORM set_config('glazenstad.retention', 'on', true);
  DELETE FROM log_record_key k USING old_records o
  WHERE k.organisation_id = o.organisation_id AND k.trace_id = o.trace_id
    AND k.span_id = o.span_id;
  PERFORM set_config('glazenstad.retention', previous, true);
  INSERT INTO log_record_key (organisation_id, trace_id, span_id, chain_partition, sequence)
  SELECT organisation_id, trace_id, span_id, chain_partition, sequence FROM new_records;
  RETURN NULL;
END
$$;
CREATE TRIGGER log_record_key_update AFTER UPDATE ON log_record
  REFERENCING OLD TABLE AS old_records NEW TABLE AS new_records
  FOR EACH STATEMENT EXECUTE FUNCTION glazenstad_log_key_update();
CREATE TRIGGER log_record_key_insert AFTER INSERT ON log_record
  REFERENCING NEW TABLE AS inserted_records
  FOR EACH STATEMENT EXECUTE FUNCTION glazenstad_log_key_insert();
CREATE TRIGGER log_record_key_delete AFTER DELETE ON log_record
  REFERENCING OLD TABLE AS deleted_records
  FOR EACH STATEMENT EXECUTE FUNCTION glazenstad_log_key_delete();
"""

_INDEXES = """
ALTER TABLE log_record ADD CONSTRAINT pk_log_record PRIMARY KEY (id, start_time_ms);
CREATE INDEX ix_log_record_trace ON log_record (organisation_id, trace_id, span_id);
CREATE INDEX ix_log_record_chain ON log_record (organisation_id, chain_partition, sequence);
CREATE INDEX ix_log_record_subject ON log_record (data_subject_pseudonym, start_time_ms);
CREATE INDEX ix_log_record_activity
  ON log_record (organisation_id, processing_activity_id, start_time_ms);
"""


def _months_with_records(conn: sa.Connection) -> list[tuple[int, int]]:
    rows = conn.execute(
        sa.text(
            "SELECT DISTINCT extract(year FROM m)::int, extract(month FROM m)::int FROM ("
            "SELECT date_trunc('month', to_timestamp(start_time_ms / 1000.0) AT TIME ZONE 'UTC')"
            " AS m FROM log_record_unpartitioned "
            "WHERE start_time_ms >= :lower AND start_time_ms < :upper) months"
        ),
        {"lower": partitions.month_start_ms(2000, 1), "upper": partitions.month_start_ms(2100, 1)},
    ).all()
    return [(int(y), int(m)) for y, m in rows]


def _upgrade_postgresql() -> None:
    conn = op.get_bind()
    op.execute("DROP TRIGGER IF EXISTS log_record_no_truncate ON log_record")
    op.execute("DROP TRIGGER IF EXISTS log_record_append_only ON log_record")
    op.execute("ALTER TABLE log_record RENAME TO log_record_unpartitioned")
    for constraint in ("uq_log_record_trace", "uq_log_record_chain", "pk_log_record"):
        op.execute(f"ALTER TABLE log_record_unpartitioned DROP CONSTRAINT IF EXISTS {constraint}")
    op.execute("DROP INDEX IF EXISTS ix_log_record_subject")
    op.execute("DROP INDEX IF EXISTS ix_log_record_activity")
    # Same columns, types and id sequence; the sequence moves to the new table below.
    op.execute(
        "CREATE TABLE log_record (LIKE log_record_unpartitioned INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (start_time_ms)"
    )
    op.execute("ALTER SEQUENCE log_record_id_seq OWNED BY log_record.id")
    op.execute(_INDEXES)
    months = set(_months_with_records(conn))
    months.update(partitions.months_from(datetime.now(UTC), partitions.DEFAULT_AHEAD))
    partitions.create_default(conn)
    for year, month in sorted(months):
        partitions.create_month(conn, year, month)
    op.execute("INSERT INTO log_record SELECT * FROM log_record_unpartitioned")
    op.execute(_KEY_TABLE)
    op.execute(
        "INSERT INTO log_record_key "
        "SELECT organisation_id, trace_id, span_id, chain_partition, sequence "
        "FROM log_record_unpartitioned"
    )
    op.execute("DROP TABLE log_record_unpartitioned")
    op.execute(_RECORD_GUARD)
    op.execute(_KEY_TRIGGERS)
    KEY_GUARD.create()


def _downgrade_postgresql() -> None:
    KEY_GUARD.drop()
    op.execute("DROP TRIGGER IF EXISTS log_record_key_update ON log_record")
    op.execute("DROP TRIGGER IF EXISTS log_record_key_delete ON log_record")
    op.execute("DROP TRIGGER IF EXISTS log_record_key_insert ON log_record")
    op.execute("DROP FUNCTION IF EXISTS glazenstad_log_key_update()")
    op.execute("DROP FUNCTION IF EXISTS glazenstad_log_key_delete()")
    op.execute("DROP FUNCTION IF EXISTS glazenstad_log_key_insert()")
    op.execute("DROP TABLE log_record_key")
    op.execute("DROP TRIGGER IF EXISTS log_record_no_truncate ON log_record")
    op.execute("DROP TRIGGER IF EXISTS log_record_append_only ON log_record")
    op.execute("ALTER TABLE log_record RENAME TO log_record_partitioned")
    op.execute("ALTER TABLE log_record_partitioned DROP CONSTRAINT pk_log_record")
    for index in ("trace", "chain", "subject", "activity"):
        op.execute(f"DROP INDEX IF EXISTS ix_log_record_{index}")
    op.execute("CREATE TABLE log_record (LIKE log_record_partitioned INCLUDING DEFAULTS)")
    op.execute("ALTER SEQUENCE log_record_id_seq OWNED BY log_record.id")
    op.execute("INSERT INTO log_record SELECT * FROM log_record_partitioned")
    op.execute("DROP TABLE log_record_partitioned")
    op.execute(
        "ALTER TABLE log_record ADD CONSTRAINT pk_log_record PRIMARY KEY (id);"
        "ALTER TABLE log_record ADD CONSTRAINT uq_log_record_trace "
        "UNIQUE (organisation_id, trace_id, span_id);"
        "ALTER TABLE log_record ADD CONSTRAINT uq_log_record_chain "
        "UNIQUE (organisation_id, chain_partition, sequence);"
        "CREATE INDEX ix_log_record_subject ON log_record (data_subject_pseudonym, start_time_ms);"
        "CREATE INDEX ix_log_record_activity "
        "ON log_record (organisation_id, processing_activity_id, start_time_ms);"
    )
    op.execute(_RECORD_GUARD)


def upgrade() -> None:
    op.add_column(
        "log_retention_run",
        sa.Column("dropped", sa.BigInteger(), nullable=False, server_default="0"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
    # A plain ALTER: a batch rebuild of the table would drop its append-only triggers.
    op.execute("ALTER TABLE log_retention_run DROP COLUMN dropped")
