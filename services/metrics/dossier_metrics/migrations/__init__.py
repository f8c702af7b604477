"""Alembic migrations of the metrics schema; run them with `python -m dossier_metrics migrate`.

They run through the services' shared runner (`dossier_runtime.migrations`): one transaction that
first takes the advisory lock `dossier-metrics migrations <schema>`, so instances starting together
take turns: the first creates the schema and its tables, the others then find it at the latest
revision and change nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_runtime.migrations import Migrations

MIGRATIONS = Migrations("metrics", Path(__file__).resolve().parent)


def lock_name(schema: str) -> str:
    """The text whose 64-bit hash is the advisory lock key of `schema`'s migrations."""
    return MIGRATIONS.lock_name(schema)


async def upgrade(engine: AsyncEngine, schema: str, revision: str = "head") -> None:
    """Create the schema if needed and bring it to `revision` (the version table lives in it)."""
    await MIGRATIONS.upgrade(engine, schema, revision)
