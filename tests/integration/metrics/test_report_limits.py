"""The report API against the real PostgreSQL: bad ranges are 422 (never 500), a report that hits the
statement timeout is a 503, reports beyond the concurrency limit are refused at once, and reports
use connections of their own, so a report pool with no free connection leaves the consumer alone.
The quarter's other sections (summary, indicators, feedback) run in the same gate and answer the same
503 problems for a timeout, a full gate or a database that is down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dossier_core.catalog import Catalog
from dossier_core.periods import Period, parse_period
from dossier_core.report import ReportRow, contribution
from dossier_metrics.db import create_engine
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.state import STATE

pytestmark = pytest.mark.integration

Produce = Callable[[list[tuple[str, bytes]]], Awaitable[None]]
REPORT = "/v1/reports/dossiers?period=2021-Q2"


def client_for(app: FastAPI, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://metrics",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


async def applied(app: FastAPI, settings: MetricsSettings) -> int:
    projection = STATE.of_app(app).projection
    offsets = await projection.store.stored_offsets(settings.status_topic, range(3))
    return sum(offsets.values())


async def waiting_on_snapshot_table(conn: AsyncConnection, schema: str) -> int:
    """Sessions waiting for a lock on this schema's `report_fact`."""
    count = await conn.scalar(
        text("select count(*) from pg_locks where relation = cast(:t as regclass) and not granted"),
        {"t": f"{schema}.report_fact"},
    )
    return int(count or 0)


async def test_bad_and_extreme_ranges(
    catalog: Catalog,
    settings: MetricsSettings,
    produce: Produce,
    stream_builder: Callable[..., Any],
    run_app: Callable[..., Any],
    wait: Callable[..., Awaitable[None]],
    metrics_key: str,
) -> None:
    stream = stream_builder(catalog, dossiers=30)  # some stay paused for a fee
    await produce(stream.messages)
    async with run_app(settings) as app, client_for(app, metrics_key) as client:
        await wait(lambda: _at_least(app, settings, len(stream.messages)))
        for query, field in (
            ("from=0001-01-01&to=2025-01-01", "from"),
            ("from=2021-01-01&to=9999-12-31", "to"),
            ("from=2020-01-01&to=2021-06-30", "to"),
            ("period=1999-Q1", "period"),
            ("period=9999", "period"),
        ):
            response = await client.get(f"/v1/reports/dossiers?{query}")
            assert response.status_code == 422, (query, response.text)
            assert response.json()["errors"][0]["field"] == field
        # the far end of the range, with dossiers open (some paused) since 2021
        far = await client.get("/v1/reports/dossiers?from=2099-01-01&to=2099-12-31&group_by=level")
        assert far.status_code == 200, far.text
        period, calendar = Period.between(date(2099, 1, 1), date(2099, 12, 31)), catalog.calendar()
        expected = ReportRow()
        for dossier in stream.final.values():
            expected = expected + contribution(dossier, period, calendar)
        assert far.json()["total"] == {**expected.to_dict(), "on_site_rate": expected.on_site_rate}
        assert expected.pending_total > expected.paused > 0


async def test_a_report_that_hits_the_statement_timeout_is_a_503(
    settings: MetricsSettings,
    database_url: str,
    run_app: Callable[..., Any],
    metrics_key: str,
) -> None:
    settings = settings.model_copy(update={"report_statement_timeout_ms": 300, "report_retry_after_s": 3})
    async with run_app(settings) as app, client_for(app, metrics_key) as client:
        assert (await client.get(REPORT)).status_code == 200
        async with _table_locked(database_url, settings.db_schema):
            response = await client.get(REPORT)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "3"
        assert response.json()["title"] == "Report timed out"
        assert STATE.of_app(app).report_gate.refused["timeout"] == 1
        assert (await client.get(REPORT)).status_code == 200  # the pool got its connection back
        assert 'metrics_reports_refused_total{reason="timeout"} 1.0' in (await client.get("/metrics")).text


#: The quarter's other report routes, which run in the same gate as Biểu 06.
SECTIONS = (
    "/v1/reports/summary?period=2021-Q2",
    "/v1/reports/indicators?period=2021-Q2",
    "/v1/reports/feedback?period=2021-Q2",
)


@pytest.mark.parametrize("path", SECTIONS[:2])
async def test_a_section_that_hits_the_statement_timeout_is_a_503(
    path: str,
    settings: MetricsSettings,
    database_url: str,
    run_app: Callable[..., Any],
    metrics_key: str,
) -> None:
    """The summary and the indicators read the report facts: a locked table makes their query hit the
    statement timeout, which is a 503 problem with Retry-After, as for Biểu 06, never a 500."""
    settings = settings.model_copy(update={"report_statement_timeout_ms": 300, "report_retry_after_s": 4})
    async with run_app(settings) as app, client_for(app, metrics_key) as client:
        assert (await client.get(path)).status_code == 200
        async with _table_locked(database_url, settings.db_schema):
            response = await client.get(path)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "4"
        assert response.json()["title"] == "Report timed out"
        gate = STATE.of_app(app).report_gate
        assert gate.refused["timeout"] == 1 and gate.running == 0
        assert (await client.get(path)).status_code == 200


async def test_the_sections_answer_503_while_the_database_is_down(
    settings: MetricsSettings,
    private_postgres: Any,
    run_app: Callable[..., Any],
    metrics_key: str,
) -> None:
    """With PostgreSQL stopped, the summary, the indicators and the feedback section are a 503 problem
    ("Database unavailable", Retry-After), as Biểu 06 is, and answer again once it is back."""
    settings = settings.model_copy(update={"database_url": private_postgres.url, "max_backoff_s": 0.5})
    async with run_app(settings) as app, client_for(app, metrics_key) as client:
        for path in SECTIONS:
            assert (await client.get(path)).status_code == 200, path
        await asyncio.to_thread(private_postgres.stop)
        try:
            for path in (REPORT, *SECTIONS):
                response = await client.get(path)
                assert response.status_code == 503, (path, response.text)
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["title"] == "Database unavailable", path
                assert response.headers["retry-after"] == str(settings.report_retry_after_s)
            gate = STATE.of_app(app).report_gate
            assert gate.refused["database"] == 1 + len(SECTIONS) and gate.running == 0
        finally:
            await asyncio.to_thread(private_postgres.start)
        for _ in range(200):
            if (await client.get(SECTIONS[0])).status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert (await client.get(SECTIONS[0])).status_code == 200


@pytest.mark.parametrize("path", SECTIONS)
async def test_a_section_beyond_the_limit_is_refused_at_once(
    path: str,
    settings: MetricsSettings,
    database_url: str,
    run_app: Callable[..., Any],
    metrics_key: str,
) -> None:
    """A Biểu 06 report holding the only slot makes the other sections wait their turn: 503 at once."""
    settings = settings.model_copy(update={"report_concurrency": 1})
    async with run_app(settings) as app, client_for(app, metrics_key) as client:
        gate = STATE.of_app(app).report_gate
        async with _table_locked(database_url, settings.db_schema) as conn:
            slow = asyncio.create_task(client.get(REPORT))
            await _until_waiting(conn, settings.db_schema, 1)
            assert gate.running == 1
            refused = await client.get(path)
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == str(settings.report_retry_after_s)
            assert refused.json()["title"] == "Too many reports at once"
        assert (await slow).status_code == 200
        assert (await client.get(path)).status_code == 200
        assert gate.running == 0 and gate.refused["busy"] == 1


async def test_reports_beyond_the_limit_are_refused_at_once(
    settings: MetricsSettings,
    database_url: str,
    run_app: Callable[..., Any],
    metrics_key: str,
) -> None:
    settings = settings.model_copy(update={"report_concurrency": 2})
    async with run_app(settings) as app, client_for(app, metrics_key) as client:
        gate = STATE.of_app(app).report_gate
        async with _table_locked(database_url, settings.db_schema) as conn:
            slow = [asyncio.create_task(client.get(REPORT)) for _ in range(2)]
            await _until_waiting(conn, settings.db_schema, 2)  # both reports wait for the table
            assert gate.running == 2
            refused = await client.get(REPORT)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == str(settings.report_retry_after_s)
            assert refused.json()["title"] == "Too many reports at once"
            assert not any(task.done() for task in slow)
        assert [r.status_code for r in await asyncio.gather(*slow)] == [200, 200]
        assert gate.running == 0 and gate.refused["busy"] == 1


async def test_busy_report_connections_leave_the_consumer_alone(
    catalog: Catalog,
    settings: MetricsSettings,
    produce: Produce,
    stream_builder: Callable[..., Any],
    run_app: Callable[..., Any],
    wait: Callable[..., Awaitable[None]],
    metrics_key: str,
) -> None:
    settings = settings.model_copy(update={"report_concurrency": 2, "report_pool_timeout_s": 0.5})
    stream = stream_builder(catalog, dossiers=40, stale=0)
    async with run_app(settings) as app, client_for(app, metrics_key) as client:
        projection = STATE.of_app(app).projection
        report_engine = STATE.of_app(app).report_engine
        assert report_engine is not projection.engine
        assert report_engine.pool.size() == settings.report_concurrency
        async with AsyncExitStack() as held:
            # every connection of the readers' pool is taken, as by long reports
            for _ in range(settings.report_concurrency):
                await held.enter_async_context(report_engine.connect())
            await produce(stream.messages)
            await wait(lambda: _at_least(app, settings, len(stream.messages)))
            assert (await client.get("/readyz")).status_code == 200
            response = await client.get(REPORT)
            assert response.status_code == 503, response.text
            assert response.json()["title"] == "Reports busy"
        report = (await client.get(REPORT)).json()
        quarter = parse_period("2021-Q2")
        calendar = catalog.calendar()
        expected = sum(contribution(d, quarter, calendar).received_total for d in stream.final.values())
        assert report["total"]["received"]["total"] == expected > 0


async def _at_least(app: FastAPI, settings: MetricsSettings, n: int) -> bool:
    return await applied(app, settings) >= n


async def _until_waiting(conn: AsyncConnection, schema: str, sessions: int) -> None:
    """Until `sessions` reports are in the database, waiting for the locked table (or 20 s)."""
    for _ in range(400):
        if await waiting_on_snapshot_table(conn, schema) >= sessions:
            return
        await asyncio.sleep(0.05)


@asynccontextmanager
async def _table_locked(database_url: str, schema: str) -> AsyncIterator[AsyncConnection]:
    """Holds an ACCESS EXCLUSIVE lock on the schema's `report_fact`, so reports wait on it;
    yields a second connection to watch who waits."""
    engine = create_engine(database_url, schema, pool_size=2)
    try:
        async with engine.connect() as locker, engine.connect() as watcher:
            transaction = await locker.begin()
            await locker.execute(text("lock table report_fact in access exclusive mode"))
            try:
                yield watcher
            finally:
                await transaction.rollback()
    finally:
        await engine.dispose()
