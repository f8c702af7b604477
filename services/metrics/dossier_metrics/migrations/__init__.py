"""Alembic migrations of the metrics schema; run them with `python -m dossier_metrics migrate`.

Every upgrade runs in one transaction that first takes a PostgreSQL advisory lock named after the
schema, so instances starting together take turns: the first creates the schema and its tables, the
others then find it at the latest revision and change nothing."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

HERE = Path(__file__).resolve().parent


def alembic_config(schema: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["schema"] = schema
    return config


def lock_name(schema: str) -> str:
    """The text whose 64-bit hash is the advisory lock key of `schema`'s migrations."""
    return f"dossier-metrics migrations {schema}"


async def upgrade(engine: AsyncEngine, schema: str, revision: str = "head") -> None:
    """Create the schema if needed and bring it to `revision` (the version table lives in it),
    holding the schema's migration lock until the transaction commits."""

    def run(connection: Connection) -> None:
        connection.execute(
            text("select pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": lock_name(schema)}
        )
        connection.execute(text(f'create schema if not exists "{schema}"'))
        connection.execute(text(f'set local search_path to "{schema}"'))
        config = alembic_config(schema)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)
