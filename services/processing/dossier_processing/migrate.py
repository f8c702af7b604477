"""Bring the service schema to the latest Alembic revision (at start and by `migrate`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x0D055E8  # serialises instances migrating at the same time


def _upgrade(connection: Connection, schema: str) -> None:
    connection.execute(text("select pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    connection.execute(text(f'create schema if not exists "{schema}"'))
    connection.execute(text(f'set local search_path to "{schema}"'))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine, schema: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, schema)
