"""Alembic environment: runs migrations on the connection newsbot hands over."""

from __future__ import annotations

from alembic import context

from bot.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when run through the plain alembic CLI
    raise RuntimeError("run migrations with `newsbot migrate`, which supplies the database")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
