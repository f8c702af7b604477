"""Alembic environment: runs on the connection handed over by `dossier_metrics.migrations.upgrade`."""

from __future__ import annotations

from alembic import context

from dossier_metrics.models import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `python -m dossier_metrics migrate`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table_schema=config.attributes["schema"],
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
