"""The consumer through failures, on a private PostgreSQL or a private Kafka that the test stops and
starts: the live counters never go down (Prometheus would read a reset), `/readyz` answers 503 while
the consumer cannot progress and 200 again after, and the counts end exact. A message that cannot be
decoded or stored is skipped and counted by reason, and the good ones beside it are applied."""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from dossier_contracts.gen.dossier.v1 import status_pb2
from dossier_core.catalog import Catalog
from dossier_metrics.app import Projection
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.state import STATE
from dossier_runtime.kafka import ensure_topics

pytestmark = pytest.mark.integration

Wait = Callable[..., Awaitable[None]]


async def send(
    bootstrap: str, topic: str, messages: list[tuple[str, bytes | None]], partition: int | None = None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value, key=key.encode(), partition=partition)
    finally:
        await producer.stop()


def counters(text: str) -> dict[str, float]:
    """Every SPEC §5 counter sample, by name and labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("dossier_") and sample.name.endswith("_total"):
                out[f"{sample.name}{sorted(sample.labels.items())}"] = sample.value
    return out


class Watch:
    """Scrapes `/metrics` every 50 ms and records any counter that went down."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.last: dict[str, float] = {}
        self.decreases: list[str] = []
        self.scrapes = 0
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            response = await self.client.get("/metrics")
            assert response.status_code == 200
            for key, value in counters(response.text).items():
                if value < self.last.get(key, 0.0):
                    self.decreases.append(f"{key}: {self.last[key]} -> {value}")
                self.last[key] = max(value, self.last.get(key, 0.0))
            self.scrapes += 1
            await asyncio.sleep(0.05)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self.task is not None
        if self.task.done():
            self.task.result()  # a failed scrape fails the test
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task


def projection(app: FastAPI) -> Projection:
    return STATE.of_app(app).projection


def live_totals(app: FastAPI) -> dict[str, tuple[int, ...]]:
    figures = STATE.of_app(app).collector.figures()
    totals = {code: figures.counters_of(code) for code in figures.codes}
    return {code: c for code, c in totals.items() if any(c)}


async def readiness(client: httpx.AsyncClient) -> int:
    return (await client.get("/readyz", timeout=30)).status_code


def asgi(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://metrics", timeout=30)


async def test_a_database_outage_keeps_the_counters_and_makes_the_service_unready(
    catalog: Catalog,
    settings: MetricsSettings,
    private_postgres: Any,
    stream_builder: Callable[..., Any],
    run_app: Callable[..., Any],
    wait: Wait,
    metrics_key: str,
) -> None:
    settings = settings.model_copy(update={"database_url": private_postgres.url, "max_backoff_s": 0.5})
    stream = stream_builder(catalog, dossiers=60, stale=0)
    half = len(stream.messages) // 2
    await send(settings.kafka_bootstrap_servers, settings.status_topic, stream.messages[:half])
    async with run_app(settings) as app, asgi(app) as client:
        consumer = projection(app).consumer

        async def applied(n: int) -> bool:
            offsets = await projection(app).store.stored_offsets(settings.status_topic, range(3))
            return sum(offsets.values()) >= n

        await wait(lambda: applied(half))
        before = live_totals(app)
        assert before and await readiness(client) == 200
        watch = Watch(client)
        watch.start()

        await asyncio.to_thread(private_postgres.stop)
        await send(settings.kafka_bootstrap_servers, settings.status_topic, stream.messages[half:])

        async def failing() -> bool:
            return consumer.failing is not None

        await wait(failing, 60)
        assert await readiness(client) == 503
        assert live_totals(app) == before  # kept, not zeroed
        assert "metrics_consumer_progressing 0.0" in (await client.get("/metrics")).text
        auth = {"Authorization": f"Bearer {metrics_key}"}
        live = await client.get("/v1/stats/live", headers=auth)
        assert live.status_code == 200  # the live figures answer from the index
        assert sum(a["received"]["total"] for a in live.json()["agencies"]) == sum(
            c[0] + c[1] + c[2] for c in before.values()
        )
        report = await client.get("/v1/reports/dossiers?period=2021-Q2", headers=auth)
        assert report.status_code == 503, report.text
        assert report.headers["content-type"] == "application/problem+json"
        assert report.json()["title"] == "Database unavailable" and report.headers["retry-after"]
        outage_scrapes = watch.scrapes

        await asyncio.to_thread(private_postgres.start)

        async def ready() -> bool:
            return await readiness(client) == 200

        await wait(ready, 90)
        await wait(lambda: applied(len(stream.messages)), 60)
        await watch.stop()
        assert watch.scrapes > outage_scrapes
        assert watch.decreases == []
        assert live_totals(app) == stream.expected_counters(catalog)
        stored = await projection(app).store.counter_totals()
        assert {a: c for a, c in stored.items() if any(c)} == stream.expected_counters(catalog)


async def test_a_kafka_outage_keeps_the_counters_and_makes_the_service_unready(
    catalog: Catalog,
    settings: MetricsSettings,
    private_kafka: Any,
    stream_builder: Callable[..., Any],
    run_app: Callable[..., Any],
    wait: Wait,
) -> None:
    settings = settings.model_copy(
        update={"kafka_bootstrap_servers": private_kafka.bootstrap, "max_backoff_s": 0.5}
    )
    await ensure_topics(private_kafka.bootstrap, {settings.status_topic: 3})
    stream = stream_builder(catalog, dossiers=60, stale=0)
    half = len(stream.messages) // 2
    await send(private_kafka.bootstrap, settings.status_topic, stream.messages[:half])
    async with run_app(settings) as app, asgi(app) as client:

        async def applied(n: int) -> bool:
            offsets = await projection(app).store.stored_offsets(settings.status_topic, range(3))
            return sum(offsets.values()) >= n

        async def ready() -> bool:
            return await readiness(client) == 200

        await wait(lambda: applied(half), 60)
        await wait(ready, 60)
        before = live_totals(app)
        watch = Watch(client)
        watch.start()

        await asyncio.to_thread(private_kafka.stop)
        assert await readiness(client) == 503
        assert live_totals(app) == before
        outage_scrapes = watch.scrapes

        await asyncio.to_thread(private_kafka.start)
        await send(private_kafka.bootstrap, settings.status_topic, stream.messages[half:])
        await wait(lambda: applied(len(stream.messages)), 120)
        await wait(ready, 120)
        await watch.stop()
        assert watch.scrapes > outage_scrapes
        assert watch.decreases == []
        assert live_totals(app) == stream.expected_counters(catalog)


def _poisoned(good: bytes, **changes: Any) -> bytes:
    msg = status_pb2.DossierStatusChanged()
    msg.ParseFromString(good)
    for name, value in changes.items():
        setattr(msg, name, value)
    return msg.SerializeToString()


async def test_bad_messages_are_skipped_and_counted_and_their_neighbours_applied(
    catalog: Catalog,
    settings: MetricsSettings,
    status_topic: str,
    stream_builder: Callable[..., Any],
    run_app: Callable[..., Any],
    wait: Wait,
) -> None:
    stream = stream_builder(catalog, dossiers=2, stale=0)
    (a, b) = sorted(stream.final)
    a_versions = [payload for code, payload in stream.messages if code == a]
    b_last = [payload for code, payload in stream.messages if code == b][-1]
    rng = random.Random(5)
    huge_code = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(12_000))
    messages: list[tuple[str, bytes | None]] = [
        (a, a_versions[0]),
        (a, b"\xff\x00 not a snapshot"),  # undecodable
        (a, None),  # a tombstone
        (a, _poisoned(a_versions[0], agency_code="000.00.12.H49\x00", version=99)),  # invalid
        (a, _poisoned(a_versions[0], dossier_code=huge_code, version=1)),  # PostgreSQL refuses it
        (b, b_last),
        (a, a_versions[-1]),
    ]
    await send(settings.kafka_bootstrap_servers, status_topic, messages, partition=0)
    async with run_app(settings) as app, asgi(app) as client:

        async def applied() -> bool:
            offsets = await projection(app).store.stored_offsets(status_topic, [0])
            return offsets.get(0, 0) >= len(messages)

        await wait(applied)
        skipped = projection(app).projector.skipped
        assert dict(skipped) == {"empty": 1, "undecodable": 1, "invalid": 1, "unappliable": 1}
        assert live_totals(app) == stream.expected_counters(catalog)
        assert await projection(app).store.snapshot_versions() == {
            a: stream.final[a].event_count,
            b: stream.final[b].event_count,
        }
        text = (await client.get("/metrics")).text
        for reason in ("empty", "undecodable", "invalid", "unappliable"):
            assert f'metrics_skipped_messages_total{{reason="{reason}"}} 1.0' in text
        assert await readiness(client) == 200
