"""The metrics bootstrap without Kafka or PostgreSQL: `build_state` wires every part into one typed
`MetricsState` without opening anything, and `running` (with a fake migration and a fake consumer)
retries the migration, runs the consumer as a task and stops it on leaving."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_core.catalog import Catalog
from dossier_metrics.app import build_state, consumer_ready, create_app, running
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.state import STATE, MetricsState
from dossier_runtime.api_keys import create_key

NOWHERE = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens: no test may need it


@pytest.fixture
def settings(tmp_path: Path) -> MetricsSettings:
    return MetricsSettings(
        api_keys_file=tmp_path / "keys.csv",
        database_url=NOWHERE,
        kafka_bootstrap_servers="127.0.0.1:1",
        report_concurrency=3,
        max_backoff_s=0.05,
    )


@pytest.fixture
def key(settings: MetricsSettings) -> str:
    assert settings.api_keys_file is not None
    return create_key(settings.api_keys_file, "reader", "*.H49")


def test_the_state_is_built_without_opening_anything(
    settings: MetricsSettings, catalog: Catalog, key: str
) -> None:
    state = build_state(settings, catalog=catalog)
    assert isinstance(state, MetricsState) and state.consumer_task is None
    assert state.catalog is catalog and state.settings is settings
    found = state.keys.authenticate(key)
    assert found is not None and found.name == "reader"
    assert state.report_engine is not state.projection.engine
    assert state.report_engine.pool.size() == 3
    assert state.operations.consumer is state.projection.consumer
    assert state.operations.gate is state.report_gate and state.report_gate.retry_after_s == 5
    assert state.reports.catalog is catalog
    text = state.collector.render_text().decode()
    assert f'dossier_pending{{agency="{next(iter(sorted(catalog.agencies)))}",state="in_time"}} 0' in text


async def test_the_bootstrap_migrates_runs_the_consumer_and_stops_it(
    settings: MetricsSettings, catalog: Catalog, key: str
) -> None:
    state = build_state(settings, catalog=catalog)
    migrated: list[tuple[AsyncEngine, str]] = []
    consuming, stopped = asyncio.Event(), asyncio.Event()

    async def migrate(engine: AsyncEngine, schema: str) -> None:
        migrated.append((engine, schema))
        if len(migrated) == 1:
            raise ConnectionRefusedError("PostgreSQL is starting")  # transient: tried again

    async def consume() -> None:
        consuming.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    async with running(state, migrate=migrate, consume=consume) as started:
        assert started is state
        assert migrated == [(state.projection.engine, settings.db_schema)] * 2
        await consuming.wait()
        assert state.consumer_task is not None and not state.consumer_task.done()
        assert await consumer_ready(state) == "partitions are being assigned or loaded"
        state.projection.consumer.assigned = True
        assert await consumer_ready(state) is None
        state.projection.consumer.failing = "database down"
        assert await consumer_ready(state) == "cannot store what it reads: database down"
    assert stopped.is_set() and state.consumer_task.done()
    assert await consumer_ready(state) == "the status consumer has stopped"


async def test_the_routes_read_the_one_state(settings: MetricsSettings, catalog: Catalog, key: str) -> None:
    app = create_app(settings)
    state = build_state(settings, catalog=catalog)
    STATE.put(app, state)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
        metrics = (await client.get("/metrics")).text
        assert "dossier_pending{" in metrics and "metrics_consumer_progressing 0.0" in metrics
        # not holding the exporter's lock (no database here): no counters, it says so
        assert "dossier_received_total" not in metrics and "metrics_counter_exporter 0.0" in metrics
        live = await client.get("/v1/stats/live", headers={"Authorization": f"Bearer {key}"})
        assert live.status_code == 200
        assert all(a["agency"].endswith(".H49") for a in live.json()["agencies"])
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.headers["retry-after"] == "2"
        assert [e["field"] for e in ready.json()["errors"]] == ["database", "kafka", "consumer"]
    STATE.take(app)
    assert not hasattr(app.state, "keys") and not hasattr(app.state, "metrics")
    await state.report_engine.dispose()
    await state.projection.engine.dispose()
