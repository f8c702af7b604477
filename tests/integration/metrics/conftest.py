"""Fixtures of the metrics integration tests: a private status topic filled with real
`DossierStatusChanged` snapshots (one per version, as processing publishes them), settings that
point the service at it and at a fresh schema, and a way to run the app's lifespan in-process."""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from dossier_contracts.snapshot_codec import dossier_to_snapshot
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog, default_catalog_dir, load_catalog
from dossier_core.dossier import Dossier
from dossier_core.events import DossierEvent, EventType
from dossier_core.lifecycle import fold
from dossier_metrics.app import create_app
from dossier_metrics.counters import ZERO, Counts, add, counted
from dossier_metrics.index import Clock
from dossier_metrics.settings import MetricsSettings
from dossier_runtime.api_keys import create_key
from dossier_runtime.kafka import ensure_topics
from tests.support import ServiceProcess, free_port

PARTITIONS = 3


@dataclass
class Stream:
    """Snapshots as produced, and the final dossier of each code."""

    messages: list[tuple[str, bytes]]
    final: dict[str, Dossier]

    def expected_counters(self, catalog: Catalog) -> dict[str, Counts]:
        totals: dict[str, Counts] = {}
        for dossier in self.final.values():
            totals[dossier.agency_code] = add(
                totals.get(dossier.agency_code, ZERO), counted(dossier, catalog.calendar())
            )
        return {agency: c for agency, c in totals.items() if any(c)}


def _script(rng: random.Random, start: datetime) -> list[tuple[str, datetime, dict[str, Any]]]:
    """One dossier's events: received, then a mix of pauses, reschedules and an ending."""
    at = start
    steps: list[tuple[str, datetime, dict[str, Any]]] = [("received", at, {})]
    for _ in range(rng.randint(0, 4)):
        at += timedelta(hours=rng.randint(2, 40))
        choice = rng.random()
        if choice < 0.3:
            steps.append(("supplement_requested", at, {"reason": "thiếu giấy tờ"}))
            at += timedelta(hours=rng.randint(2, 60))
            steps.append(("supplement_received", at, {}))
        elif choice < 0.5:
            appointment = (at + timedelta(days=3)).isoformat()
            steps.append(("rescheduled", at, {"new_appointment_at": appointment, "reason": "xin lỗi"}))
        else:
            steps.append(("processing", at, {}))
    ending = rng.random()
    at += timedelta(hours=rng.randint(1, 200))
    if ending < 0.45:
        steps.append(("resolved", at, {}))
    elif ending < 0.55:
        steps.append(("withdrawn", at, {}))
    elif ending < 0.6:
        steps.append(("refused", at, {"reason": "không đủ điều kiện"}))
    elif ending < 0.7:
        steps.append(("fee_requested", at, {}))  # still paused
    return steps


def build_stream(catalog: Catalog, dossiers: int, seed: int = 7, stale: int = 10) -> Stream:
    """`dossiers` dossiers in March–April 2021, one snapshot per event, plus `stale` re-sent old
    versions after the newer ones (they must change nothing)."""
    rng = random.Random(seed)
    calendar = catalog.calendar()
    agencies = [a.code for a in catalog.agencies.values() if a.valid_to is None or a.valid_to.year >= 2021]
    agencies = [a for a in agencies if catalog.agencies[a].valid_from is None]
    procedures = sorted(catalog.procedures)
    messages: list[tuple[str, bytes]] = []
    final: dict[str, Dossier] = {}
    history: list[tuple[str, bytes]] = []
    for n in range(dossiers):
        agency = rng.choice(agencies)
        code = f"{agency}-2104{n:02d}-{n:04d}"
        start = datetime(2021, 3, 1, 8, tzinfo=VN_TZ) + timedelta(hours=rng.randint(0, 24 * 50))
        steps = _script(rng, start)
        channel = rng.choice(["online", "direct", "postal"])
        on_site = rng.random() < 0.3  # "4 tại chỗ"
        events = []
        for seq, (kind, at, data) in enumerate(steps):
            if kind == "received":
                data = {"procedure_code": rng.choice(procedures), "channel": channel, "on_site": on_site}
            events.append(
                DossierEvent(str(uuid.uuid4()), EventType("dossier." + kind), code, agency, at, data, seq)
            )
            dossier = fold(events, catalog)
            snapshot = dossier_to_snapshot(
                dossier, version=seq + 1, changed_at=at + timedelta(seconds=5), field="f", calendar=calendar
            )
            messages.append((code, snapshot.SerializeToString()))
            history.append((code, snapshot.SerializeToString()))
            final[code] = dossier
    for code, payload in rng.sample(history, min(stale, len(history))):
        messages.append((code, payload))
    return Stream(messages, final)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(default_catalog_dir())


@pytest.fixture
async def status_topic(kafka_bootstrap: str, topic_suffix: str) -> str:
    topic = "dossier.status.v1" + topic_suffix
    await ensure_topics(kafka_bootstrap, {topic: PARTITIONS})
    return topic


Produce = Callable[[list[tuple[str, bytes]]], Awaitable[None]]


@pytest.fixture
def produce(kafka_bootstrap: str, status_topic: str) -> Produce:
    async def send(messages: list[tuple[str, bytes]]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            futures = [await producer.send(status_topic, value, key=key.encode()) for key, value in messages]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    return send


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    return tmp_path / "metrics-keys.csv"


@pytest.fixture
def metrics_key(keys_file: Path) -> str:
    """A reader key for every agency, in `keys_file`."""
    return create_key(keys_file, "integration-reader", "*")


@pytest.fixture
def settings(
    kafka_bootstrap: str,
    database_url: str,
    db_schema: str,
    status_topic: str,
    topic_suffix: str,
    keys_file: Path,
    metrics_key: str,
) -> MetricsSettings:
    return MetricsSettings(
        api_keys_file=keys_file,
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        db_schema=db_schema,
        status_topic=status_topic,
        status_topic_partitions=PARTITIONS,
        consumer_group="metrics-test-" + uuid.uuid4().hex[:8],
        portal_sync_topic="portal.sync.v1" + topic_suffix,
        portal_sync_consumer_group="metrics-portal-sync-" + uuid.uuid4().hex[:8],
        max_batch_records=25,
        poll_timeout_ms=100,
        # These snapshots were committed "in 2021" (no intake instant, so known from `changed_at`):
        # the freezer would file every period since then. Filing tests turn it on themselves.
        filing_auto=False,
    )


@asynccontextmanager
async def running(settings: MetricsSettings, clock: Clock | None = None) -> AsyncIterator[FastAPI]:
    """The app with its lifespan (engine, migrations, consumer task) running in this event loop."""
    app = create_app(settings, clock=clock) if clock else create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def wait_until(condition: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
def stream_builder() -> Callable[..., Stream]:
    return build_stream


@pytest.fixture
def run_app() -> Callable[..., Any]:
    return running


@pytest.fixture
def wait() -> Callable[..., Awaitable[None]]:
    return wait_until


def service_env(settings: MetricsSettings, port: int) -> dict[str, str]:
    """The environment that makes `python -m dossier_metrics` serve these settings."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": settings.database_url,
        "METRICS_DB_SCHEMA": settings.db_schema,
        "METRICS_STATUS_TOPIC": settings.status_topic,
        "METRICS_STATUS_TOPIC_PARTITIONS": str(settings.status_topic_partitions),
        "METRICS_CONSUMER_GROUP": settings.consumer_group,
        "METRICS_PORT": str(port),
        "LOG_LEVEL": "INFO",
    }
    if settings.api_keys_file is not None:
        env["METRICS_API_KEYS_FILE"] = str(settings.api_keys_file)
    return env


@pytest.fixture
def metrics_process(settings: MetricsSettings, tmp_path: Path) -> Iterator[ServiceProcess]:
    """The metrics service as a real process (`python -m dossier_metrics`) on a free port, not
    started yet; stopped after the test."""
    port = free_port()
    service = ServiceProcess("metrics", port, service_env(settings, port), tmp_path / "metrics.log")
    try:
        yield service
    finally:
        service.stop()
