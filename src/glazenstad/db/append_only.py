"""Append-only tables: triggers that make the database refuse UPDATE, DELETE and TRUNCATE.

Evidence tables (log records, signal history, breach history, break-the-glass reviews) must not
be rewritten by anyone who connects as the application, on SQLite and on PostgreSQL alike. The
triggers are the same for every such table; only the table, the PostgreSQL trigger function's
name and the refusal message differ, so migrations describe a guard and this module writes the
SQL for the database at hand.

On PostgreSQL one trigger function serves all tables of a guard (row triggers for UPDATE and
DELETE, a statement trigger for TRUNCATE); on SQLite each table gets an UPDATE and a DELETE
trigger (SQLite has no TRUNCATE).
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic import op


@dataclass(frozen=True)
class AppendOnlyGuard:
    """The triggers that keep `tables` append-only.

    `message` is the refusal, with `{action}` (UPDATE, DELETE, TRUNCATE) and optionally `{table}`
    in it. On PostgreSQL a guard of one table names it in the function's text; a guard of several
    tables lets the function name the table it fires for (TG_TABLE_NAME), so the message reads the
    same on both databases.
    """

    function: str
    """Name of the PostgreSQL trigger function."""
    tables: tuple[str, ...]
    message: str
    deletable_with: str | None = None
    """A PostgreSQL setting that, set to 'on' in a transaction, lets DELETE through (for a job
    that removes rows after their retention term)."""

    def postgresql_create(self) -> list[str]:
        """CREATE FUNCTION and CREATE TRIGGER statements for PostgreSQL."""
        let_through = (
            "  IF TG_OP = 'DELETE' AND "
            f"current_setting('{self.deletable_with}', true) = 'on' THEN\n"
            "    RETURN OLD;\n"
            "  END IF;\n"
            if self.deletable_with
            else ""
        )
        statements = [
            f"CREATE FUNCTION {self.function}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            f"{let_through}"
            f"  RAISE EXCEPTION {self._postgresql_message()}\n"
            "    USING ERRCODE = 'insufficient_privilege';\n"
            "END\n"
            "$$;"
        ]
        for table in self.tables:
            statements += [
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}\n"
                f"  FOR EACH ROW EXECUTE FUNCTION {self.function}();",
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}\n"
                f"  FOR EACH STATEMENT EXECUTE FUNCTION {self.function}();",
            ]
        return statements

    def postgresql_drop(self) -> list[str]:
        statements: list[str] = []
        for table in self.tables:
            statements += [
                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};",
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
            ]
        return [*statements, f"DROP FUNCTION IF EXISTS {self.function}();"]

    def sqlite_create(self) -> list[str]:
        """One BEFORE UPDATE and one BEFORE DELETE trigger per table for SQLite."""
        return [
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table}\n"
            f"       BEGIN SELECT RAISE(ABORT, "
            f"'{self.message.format(table=table, action=action)}');\n"
            "       END"
            for table in self.tables
            for action in ("UPDATE", "DELETE")
        ]

    def sqlite_drop(self) -> list[str]:
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_{action}"
            for table in self.tables
            for action in ("update", "delete")
        ]

    def create(self) -> None:
        """Install the guard in the database of the running migration."""
        postgresql = op.get_bind().dialect.name == "postgresql"
        for statement in self.postgresql_create() if postgresql else self.sqlite_create():
            op.execute(statement)

    def drop(self) -> None:
        """Remove the guard from the database of the running migration."""
        postgresql = op.get_bind().dialect.name == "postgresql"
        for statement in self.postgresql_drop() if postgresql else self.sqlite_drop():
            op.execute(statement)

    def _postgresql_message(self) -> str:
        """The RAISE format string and its arguments: `%` where the table or action goes."""
        text, arguments = self.message, []
        single = len(self.tables) == 1
        if single:
            text = text.replace("{table}", self.tables[0])
        while "{" in text:
            start = text.index("{")
            end = text.index("}", start)
            name = text[start + 1 : end]
            arguments.append({"action": "TG_OP", "table": "TG_TABLE_NAME"}[name])
            text = text[:start] + "%" + text[end + 1 :]
        return ", ".join([f"'{text}'", *arguments])
