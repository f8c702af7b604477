"""Helpers shared by the processing integration tests: produce, run the app, read back."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from processing_factory import Sent

from dossier_processing.app import create_app
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.db import plain_url
from dossier_runtime.kafka import ensure_topics


async def produce(settings: ProcessingSettings, events: Iterable[Sent | tuple[bytes, bytes]]) -> None:
    await ensure_topics(settings.kafka_bootstrap_servers, {settings.events_topic: settings.topic_partitions})
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=10)
    await producer.start()
    try:
        futures = []
        for e in events:
            key, value = (e.dossier_code.encode(), e.raw) if isinstance(e, Sent) else e
            futures.append(await producer.send(settings.events_topic, value=value, key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@asynccontextmanager
async def running_app(settings: ProcessingSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://processing") as client:
            yield client


async def wait_until(
    check: Callable[[], Awaitable[bool]], timeout_s: float = 60, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@asynccontextmanager
async def db(settings: ProcessingSettings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(
        plain_url(settings.database_url), server_settings={"search_path": settings.db_schema}
    )
    try:
        yield conn
    finally:
        await conn.close()


async def scalar(settings: ProcessingSettings, sql: str, *args: Any) -> Any:
    async with db(settings) as conn:
        try:
            return await conn.fetchval(sql, *args)
        except asyncpg.UndefinedTableError:
            return None


async def events_stored(settings: ProcessingSettings, n: int) -> bool:
    """Whether exactly `n` events are stored."""
    return bool((await scalar(settings, "select count(*) from events")) == n)


async def all_synced(settings: ProcessingSettings) -> bool:
    """Whether the portal holds the latest version of every dossier."""
    return bool(
        await scalar(
            settings,
            "select count(*) > 0 and bool_and(coalesce(st.synced_version, 0) = d.version)"
            " from dossiers d left join sync_state st using (dossier_code)",
        )
    )


def process_env(settings: ProcessingSettings, **extra: str) -> dict[str, str]:
    """The environment of a `python -m dossier_processing` process on `settings`' database, schema,
    topics and group, with `extra` variables on top."""
    s = settings
    return {
        **os.environ,
        "DATABASE_URL": s.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
        "PROCESSING_DB_SCHEMA": s.db_schema,
        "PROCESSING_EVENTS_TOPIC": s.events_topic,
        "PROCESSING_STATUS_TOPIC": s.status_topic,
        "PROCESSING_DLQ_TOPIC": s.dlq_topic,
        "PROCESSING_PORTAL_SYNC_TOPIC": s.portal_sync_topic,
        "PROCESSING_CONSUMER_GROUP": s.consumer_group,
        "PROCESSING_TOPIC_PARTITIONS": str(s.topic_partitions),
        **extra,
    }


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record of a topic, from the beginning to its current end."""
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await reader.start()
    try:
        probe = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await probe.start()
        try:
            parts = await probe.partitions_for(topic)
        finally:
            await probe.stop()
        tps = [TopicPartition(topic, p) for p in parts]
        ends = await reader.end_offsets(tps)
        pending = [tp for tp in tps if ends[tp] > 0]
        if not pending:
            return []
        reader.assign(pending)
        await reader.seek_to_beginning(*pending)
        out: list[Any] = []
        while pending:
            batch = await reader.getmany(*pending, timeout_ms=1000)
            for msgs in batch.values():
                out.extend(msgs)
            pending = [tp for tp in pending if await reader.position(tp) < ends[tp]]
        return out
    finally:
        await reader.stop()
