"""The Alembic migration runner of the services, with a lock per schema.

Every upgrade runs in one transaction that first takes a PostgreSQL advisory lock named after the
service and the schema (`pg_advisory_xact_lock(hashtextextended('dossier-<service> migrations
<schema>', 0))`), so instances starting together take turns: the first creates the schema and its
tables, the others then find it at the latest revision and change nothing. Schemas of their own
(tests, a rebuild) migrate side by side without waiting for each other.

A service's Alembic `env.py` runs on the connection handed over in `config.attributes["connection"]`
and keeps its version table in `config.attributes["schema"]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_runtime.db import schema_name


@dataclass(frozen=True)
class Migrations:
    """The migrations of one service: `service` names its locks, `scripts` is the Alembic folder
    (`env.py`, `versions/`)."""

    service: str
    scripts: Path

    def lock_name(self, schema: str) -> str:
        """The text whose 64-bit hash is the advisory lock key of `schema`'s migrations."""
        return f"dossier-{self.service} migrations {schema}"

    def config(self, schema: str) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.scripts))
        config.attributes["schema"] = schema
        return config

    async def upgrade(self, engine: AsyncEngine, schema: str, revision: str = "head") -> None:
        """Create `schema` if needed and bring it to `revision` (the version table lives in it),
        holding the schema's migration lock until the transaction commits."""
        schema_name(schema)  # quoted below as it is

        def run(connection: Connection) -> None:
            connection.execute(
                text("select pg_advisory_xact_lock(hashtextextended(:name, 0))"),
                {"name": self.lock_name(schema)},
            )
            connection.execute(text(f'create schema if not exists "{schema}"'))
            connection.execute(text(f'set local search_path to "{schema}"'))
            config = self.config(schema)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

        async with engine.begin() as conn:
            await conn.run_sync(run)
