"""Migrations under an advisory lock: instances that start together on a fresh schema take turns,
and an upgrade waits while another holds the schema's migration lock."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from dossier_metrics.db import create_engine
from dossier_metrics.migrations import lock_name, upgrade

pytestmark = pytest.mark.integration

INSTANCES = 4
# Sessions waiting for the advisory lock with this 64-bit key (pg_locks splits it in two halves).
WAITERS = text(
    "select count(*) from pg_locks where locktype = 'advisory' and not granted and objsubid = 1"
    " and ((classid::bigint << 32) | objid::bigint) = hashtextextended(:name, 0)"
)


async def _tables(database_url: str, schema: str) -> set[str]:
    engine = create_engine(database_url, "public")
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("select table_name from information_schema.tables where table_schema = :s"),
                {"s": schema},
            )
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


async def test_instances_starting_together_migrate_a_fresh_schema_once(
    database_url: str, db_schema: str
) -> None:
    engines = [create_engine(database_url, db_schema, pool_size=1) for _ in range(INSTANCES)]
    try:
        results = await asyncio.gather(
            *(upgrade(engine, db_schema) for engine in engines), return_exceptions=True
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
        async with engines[0].connect() as conn:
            versions = (await conn.execute(text("select version_num from alembic_version"))).all()
        assert [v[0] for v in versions] == ["0009"]
    finally:
        for engine in engines:
            await engine.dispose()
    assert await _tables(database_url, db_schema) == {
        "alembic_version",
        "agency_counter",
        "consumed_offset",
        "dossier_snapshot",
        "report_fact",
        "report_fact_backfill",
        "report_fact_history",
        "report_filing",
        "report_filing_row",
        "on_site_backfill",
        "feedback",
        "console_agency_day",
        "console_agency_month",
        "portal_sync",
    }


async def test_an_upgrade_waits_for_the_schema_lock(database_url: str, db_schema: str) -> None:
    holder = create_engine(database_url, "public", pool_size=1)
    migrating = create_engine(database_url, db_schema, pool_size=1)
    try:
        async with holder.connect() as conn:
            await conn.execute(
                text("select pg_advisory_lock(hashtextextended(:name, 0))"), {"name": lock_name(db_schema)}
            )
            task = asyncio.create_task(upgrade(migrating, db_schema))
            # The upgrade's backend waits on an advisory lock while we hold it.
            for _ in range(200):
                waiting = await conn.scalar(WAITERS, {"name": lock_name(db_schema)})
                if waiting:
                    break
                assert not task.done(), "the upgrade did not wait for the lock"
                await asyncio.sleep(0.05)
            assert waiting, "the upgrade never waited on the migration lock"
            assert not task.done()
            assert await _tables(database_url, db_schema) == set()
            await conn.execute(
                text("select pg_advisory_unlock(hashtextextended(:name, 0))"), {"name": lock_name(db_schema)}
            )
            await asyncio.wait_for(task, 30)
        assert "dossier_snapshot" in await _tables(database_url, db_schema)
    finally:
        await holder.dispose()
        await migrating.dispose()
