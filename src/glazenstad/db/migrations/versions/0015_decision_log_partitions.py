"""PostgreSQL: decision_log partitioned by month of decided_at; its decision ids in a key table.

See ADR 16. `decision_log` becomes a table partitioned by RANGE on `decided_at`, one partition
per calendar month (UTC) plus a DEFAULT partition, so a month of decisions can go with one
DROP TABLE. Existing rows are moved: a partition is created for every month that has decisions
(in the years 2000 to 2099; anything else goes to DEFAULT) and for the current month and the
three after it.

PostgreSQL only enforces a unique constraint on a partitioned table when it contains the
partition key, and the decision id alone must stay unique: a pipeline handling a redelivered
message decides again, with the same deterministic decision id and a later `decided_at`, and
relies on the stored decision being kept (ADR 16). So the ids move to a small unpartitioned
table, `decision_log_key` (primary key keeps the name `uq_decision_log_decision_id`), filled by
a statement-level trigger from the inserted rows (one set-based INSERT per statement, not a
trigger call per row); DELETE, UPDATE and TRUNCATE of decision_log keep it in step.
decision_log gets a plain index on decision_id (`ix_decision_log_decision_id`) for reads by id,
and keeps `ix_decision_log_org_time` and the partial `ix_decision_log_break_glass` (0009). The
primary key becomes (id, decided_at). SQLite is unchanged.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from glazenstad.logbook import partitions
from glazenstad.rules.partitions import DECISION_LOG

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_KEY_TABLE = """
CREATE TABLE decision_log_key (
  decision_id varchar(32) NOT NULL,
  CONSTRAINT uq_decision_log_decision_id PRIMARY KEY (decision_id)
)
"""

_KEY_TRIGGERS = """
CREATE FUNCTION glazenstad_decision_key_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO decision_log_key (decision_id) SELECT decision_id FROM inserted_decisions;
  RETURN NULL;
END
$$;
CREATE FUNCTION glazenstad_decision_key_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM decision_log_key k USING deleted_decisions d WHERE k.decision_id = d.decision_id;
  RETURN NULL;
END
$$;
CREATE FUNCTION glazenstad_decision_key_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM decision_log_key k USING old_decisions o WHERE k.decision_id = o.decision_id;
  INSERT INTO decision_log_key (decision_id) SELECT decision_id FROM new_decisions;
  RETURN NULL;
END
$$;
CREATE FUNCTION glazenstad_decision_key_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE decision_log_key;
  RETURN NULL;
END
$$;
CREATE TRIGGER decision_log_key_insert AFTER INSERT ON decision_log
  REFERENCING NEW TABLE AS inserted_decisions
  FOR EACH STATEMENT EXECUTE FUNCTION glazenstad_decision_key_insert();
CREATE TRIGGER decision_log_key_delete AFTER DELETE ON decision_log
  REFERENCING OLD TABLE AS deleted_decisions
  FOR EACH STATEMENT EXECUTE FUNCTION glazenstad_decision_key_delete();
CREATE TRIGGER decision_log_key_update AFTER UPDATE ON decision_log
  REFERENCING OLD TABLE AS old_decisions NEW TABLE AS new_decisions
  FOR EACH STATEMENT EXECUTE FUNCTION glazenstad_decision_key_update();
CREATE TRIGGER decision_log_key_truncate AFTER TRUNCATE ON decision_log
  FOR EACH STATEMENT EXECUTE FUNCTION glazenstad_decision_key_truncate();
"""

_INDEXES = """
ALTER TABLE decision_log ADD CONSTRAINT pk_decision_log PRIMARY KEY (id, decided_at);
CREATE INDEX ix_decision_log_decision_id ON decision_log (decision_id);
CREATE INDEX ix_decision_log_org_time ON decision_log (organisation_id, decided_at);
CREATE INDEX ix_decision_log_break_glass ON decision_log (organisation_id, decided_at)
  WHERE break_glass IS true;
"""

_OLD_INDEXES = ("ix_decision_log_org_time", "ix_decision_log_break_glass")


def _months_with_decisions(conn: sa.Connection) -> list[tuple[int, int]]:
    rows = conn.execute(
        sa.text(
            "SELECT DISTINCT extract(year FROM m)::int, extract(month FROM m)::int FROM ("
            "SELECT date_trunc('month', decided_at AT TIME ZONE 'UTC') AS m "
            "FROM decision_log_unpartitioned "
            "WHERE decided_at >= :lower AND decided_at < :upper) months"
        ),
        {
            "lower": datetime(2000, 1, 1, tzinfo=UTC),
            "upper": datetime(2100, 1, 1, tzinfo=UTC),
        },
    ).all()
    return [(int(y), int(m)) for y, m in rows]


def _upgrade_postgresql() -> None:
    conn = op.get_bind()
    op.execute("ALTER TABLE decision_log RENAME TO decision_log_unpartitioned")
    for constraint in ("uq_decision_log_decision_id", "pk_decision_log"):
        op.execute(f"ALTER TABLE decision_log_unpartitioned DROP CONSTRAINT IF EXISTS {constraint}")
    for index in _OLD_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {index}")
    # Same columns, types and id sequence; the sequence moves to the new table below.
    op.execute(
        "CREATE TABLE decision_log (LIKE decision_log_unpartitioned INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (decided_at)"
    )
    op.execute("ALTER SEQUENCE decision_log_id_seq OWNED BY decision_log.id")
    op.execute(_INDEXES)
    months = set(_months_with_decisions(conn))
    months.update(partitions.months_from(datetime.now(UTC), partitions.DEFAULT_AHEAD))
    partitions.create_default(conn, DECISION_LOG)
    for year, month in sorted(months):
        partitions.create_month(conn, year, month, DECISION_LOG)
    op.execute("INSERT INTO decision_log SELECT * FROM decision_log_unpartitioned")
    op.execute(_KEY_TABLE)
    op.execute("INSERT INTO decision_log_key SELECT decision_id FROM decision_log_unpartitioned")
    op.execute("DROP TABLE decision_log_unpartitioned")
    op.execute(_KEY_TRIGGERS)


def _downgrade_postgresql() -> None:
    for action in ("truncate", "update", "delete", "insert"):
        op.execute(f"DROP TRIGGER IF EXISTS decision_log_key_{action} ON decision_log")
        op.execute(f"DROP FUNCTION IF EXISTS glazenstad_decision_key_{action}()")
    op.execute("DROP TABLE decision_log_key")
    op.execute("ALTER TABLE decision_log RENAME TO decision_log_partitioned")
    op.execute("ALTER TABLE decision_log_partitioned DROP CONSTRAINT pk_decision_log")
    for index in ("ix_decision_log_decision_id", *_OLD_INDEXES):
        op.execute(f"DROP INDEX IF EXISTS {index}")
    op.execute("CREATE TABLE decision_log (LIKE decision_log_partitioned INCLUDING DEFAULTS)")
    op.execute("ALTER SEQUENCE decision_log_id_seq OWNED BY decision_log.id")
    op.execute("INSERT INTO decision_log SELECT * FROM decision_log_partitioned")
    op.execute("DROP TABLE decision_log_partitioned")
    op.execute(
        "ALTER TABLE decision_log ADD CONSTRAINT pk_decision_log PRIMARY KEY (id);"
        "ALTER TABLE decision_log ADD CONSTRAINT uq_decision_log_decision_id "
        "UNIQUE (decision_id);"
        "CREATE INDEX ix_decision_log_org_time ON decision_log (organisation_id, decided_at);"
        "CREATE INDEX ix_decision_log_break_glass ON decision_log (organisation_id, decided_at) "
        "WHERE break_glass IS true;"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _downgrade_postgresql()
