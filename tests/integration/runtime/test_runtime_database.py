"""The shared engine and migration runner against the real PostgreSQL: every connection lives in its
schema with the service's session settings, a readers' engine cannot write, and the migration lock is
per schema (another schema migrates while one is locked; the same schema waits)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_runtime.db import create_engine, database_reachable, read_only
from dossier_runtime.migrations import Migrations
from tests.support import unique

pytestmark = pytest.mark.integration

ENV = """
from alembic import context

config = context.config
context.configure(
    connection=config.attributes["connection"],
    version_table_schema=config.attributes["schema"],
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
"""
VERSION = """
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute("create table thing (id int primary key)")
"""
WAITERS = text(
    "select count(*) from pg_locks where locktype = 'advisory' and not granted and objsubid = 1"
    " and ((classid::bigint << 32) | objid::bigint) = hashtextextended(:name, 0)"
)


@pytest.fixture
def migrations(tmp_path: Path) -> Migrations:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(ENV)
    (tmp_path / "versions" / "0001_thing.py").write_text(VERSION)
    return Migrations("runtime-test", tmp_path)


@pytest.fixture
async def schemas(database_url: str) -> AsyncIterator[list[str]]:
    names = [unique("rt"), unique("rt")]
    yield names
    engine = create_engine(database_url, "public", application_name="dossier-tests")
    async with engine.begin() as conn:
        for name in names:
            await conn.execute(text(f"drop schema if exists {name} cascade"))
    await engine.dispose()


async def _tables(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("select tablename from pg_tables where schemaname = current_schema()"))
        return sorted(r[0] for r in rows)


async def test_connections_live_in_the_schema_with_the_session_settings(
    database_url: str, migrations: Migrations, schemas: list[str]
) -> None:
    schema = schemas[0]
    writer = create_engine(database_url, schema, application_name="dossier-writer", plain_on_loopback=True)
    reader = create_engine(
        database_url, schema, application_name="dossier-reader", pool_size=1, session=read_only(250)
    )
    try:
        await migrations.upgrade(writer, schema)
        await migrations.upgrade(writer, schema)  # at the latest revision: nothing to do
        assert await _tables(writer) == ["alembic_version", "thing"]
        async with writer.begin() as conn:
            await conn.execute(text("insert into thing values (1)"))  # unqualified: in the schema
        async with reader.connect() as conn:
            shown = [
                await conn.scalar(text(f"show {name}"))
                for name in ("search_path", "application_name", "statement_timeout", "plan_cache_mode")
            ]
            assert shown == [schema, "dossier-reader", "250ms", "force_custom_plan"]
            assert await conn.scalar(text("select count(*) from thing")) == 1
            with pytest.raises(DBAPIError, match="read-only transaction"):
                await conn.execute(text("insert into thing values (2)"))
        assert await database_reachable(reader) and await database_reachable(writer)
    finally:
        await writer.dispose()
        await reader.dispose()


async def test_the_migration_lock_holds_one_schema_only(
    database_url: str, migrations: Migrations, schemas: list[str]
) -> None:
    locked, free = schemas
    holder = create_engine(database_url, "public", application_name="dossier-tests", pool_size=1)
    engines = {
        schema: create_engine(database_url, schema, application_name="dossier-tests", pool_size=1)
        for schema in schemas
    }
    try:
        async with holder.connect() as conn:
            name = {"name": migrations.lock_name(locked)}
            await conn.execute(text("select pg_advisory_lock(hashtextextended(:name, 0))"), name)
            await conn.commit()
            waiting = asyncio.create_task(migrations.upgrade(engines[locked], locked))
            await asyncio.wait_for(migrations.upgrade(engines[free], free), 30)  # not held up
            assert await _tables(engines[free]) == ["alembic_version", "thing"]
            for _ in range(200):
                if await conn.scalar(WAITERS, name):
                    break
                await asyncio.sleep(0.05)
            assert await conn.scalar(WAITERS, name) == 1 and not waiting.done()
            await conn.execute(text("select pg_advisory_unlock(hashtextextended(:name, 0))"), name)
            await conn.commit()
            await asyncio.wait_for(waiting, 30)
        assert await _tables(engines[locked]) == ["alembic_version", "thing"]
    finally:
        await holder.dispose()
        for engine in engines.values():
            await engine.dispose()
