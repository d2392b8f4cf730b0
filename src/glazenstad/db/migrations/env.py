"""Alembic environment: runs against the engine handed over by `glazenstad.db.engine.migrate`."""

from __future__ import annotations

from alembic import context

from glazenstad.db.schema import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
