"""The projection against the real Kafka and PostgreSQL: exact counts across a restart in the
middle of the stream, older versions ignored, and a rebuild that equals the live state."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from dossier_core.catalog import Catalog
from dossier_metrics.app import Projection
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.state import STATE
from tests.support import ROOT, unique

Produce = Callable[[list[tuple[str, bytes]]], Awaitable[None]]

pytestmark = pytest.mark.integration


def projection(app: FastAPI) -> Projection:
    return STATE.of_app(app).projection


async def stored_total(app: FastAPI, settings: MetricsSettings) -> int:
    offsets = await projection(app).store.stored_offsets(settings.status_topic, range(3))
    return sum(offsets.values())


async def test_restart_mid_stream_gives_exact_counts_and_rebuild_equals_live(
    catalog: Catalog,
    settings: MetricsSettings,
    produce: Produce,
    database_url: str,
    stream_builder: Callable[..., Any],
    run_app: Callable[..., Any],
    wait: Callable[..., Awaitable[None]],
    metrics_key: str,
) -> None:
    running, wait_until = run_app, wait
    auth = {"Authorization": f"Bearer {metrics_key}"}
    stream = stream_builder(catalog, dossiers=80)
    await produce(stream.messages)
    total = len(stream.messages)

    async with running(settings) as app:
        # stop while batches are still being applied (one transaction per 25 records)
        await wait_until(lambda: _at_least(app, settings, total // 3))
    async with running(settings) as app:
        stored = await stored_total(app, settings)
        assert stored < total, "the first run should have stopped mid-stream"
        await wait_until(lambda: _at_least(app, settings, total))
        store = projection(app).store
        counters = await store.counter_totals()
        assert {a: c for a, c in counters.items() if any(c)} == stream.expected_counters(catalog)
        # the stream re-sends old versions after newer ones: the newest version of each dossier stays
        versions = await store.snapshot_versions()
        assert len(versions) == len(stream.final)
        assert all(v == stream.final[code].event_count for code, v in versions.items())
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://metrics", headers=auth
        )
        live_before = (await client.get("/v1/stats/live")).json()
        report_live = (await client.get("/v1/reports/dossiers?period=2021-Q2&group_by=agency")).json()
        metrics_live = (await client.get("/metrics")).text

    rebuilt_schema = unique("t")
    try:
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "dossier_metrics", "rebuild", "--schema", rebuilt_schema],
            env=_env(settings),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        rebuilt = settings.model_copy(
            update={"db_schema": rebuilt_schema, "consumer_group": settings.consumer_group + "-r"}
        )
        async with running(rebuilt) as app:
            store = projection(app).store
            assert await store.counter_totals() == await _counter_totals(settings)
            assert await store.snapshot_versions() == versions
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://metrics", headers=auth
            )
            await wait_until(lambda: _ready(client))
            live_after = (await client.get("/v1/stats/live")).json()
            assert live_after["agencies"] == live_before["agencies"]
            report = (await client.get("/v1/reports/dossiers?period=2021-Q2&group_by=agency")).json()
            assert {k: v for k, v in report.items() if k != "generated_at"} == {
                k: v for k, v in report_live.items() if k != "generated_at"
            }
            assert _samples((await client.get("/metrics")).text) == _samples(metrics_live)
    finally:
        await asyncio.to_thread(
            subprocess.run,
            ["psql", database_url, "-qc", f"drop schema if exists {rebuilt_schema} cascade"],
            check=False,
        )


async def _at_least(app: FastAPI, settings: MetricsSettings, n: int) -> bool:
    return await stored_total(app, settings) >= n


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def _counter_totals(settings: MetricsSettings) -> dict[str, tuple[int, ...]]:
    from dossier_metrics.db import create_engine
    from dossier_metrics.store import ProjectionStore

    engine = create_engine(settings.database_url, settings.db_schema)
    try:
        return await ProjectionStore(engine).counter_totals()
    finally:
        await engine.dispose()


def _samples(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if not line.startswith("dossier_projection_last"))


def _env(settings: MetricsSettings) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": settings.database_url,
        "METRICS_STATUS_TOPIC": settings.status_topic,
        "METRICS_LOG_LEVEL": "WARNING",
    }
