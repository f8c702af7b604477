"""Alembic migrations of the metrics schema; run them with `python -m dossier_metrics migrate`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_metrics.db import ensure_schema

HERE = Path(__file__).resolve().parent


def alembic_config(schema: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["schema"] = schema
    return config


async def upgrade(engine: AsyncEngine, schema: str, revision: str = "head") -> None:
    """Create the schema if needed and bring it to `revision` (the version table lives in it)."""
    await ensure_schema(engine, schema)

    def run(connection: Connection) -> None:
        config = alembic_config(schema)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)
