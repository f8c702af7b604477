"""The private Kafka and PostgreSQL instances that fault tests stop and start behave like real ones."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from dossier_runtime.kafka import broker_reachable, ensure_topics

pytestmark = pytest.mark.integration


async def test_private_kafka_stops_and_starts_keeping_its_data(private_kafka) -> None:  # type: ignore[no-untyped-def]
    await ensure_topics(private_kafka.bootstrap, {"probe": 1})
    producer = AIOKafkaProducer(
        bootstrap_servers=private_kafka.bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        await producer.send_and_wait("probe", b"before")
    finally:
        await producer.stop()
    private_kafka.stop()
    assert not await broker_reachable(private_kafka.bootstrap, timeout_s=1.0)
    private_kafka.start()
    assert await broker_reachable(private_kafka.bootstrap)


async def test_private_postgres_keeps_committed_rows_across_restart(private_postgres) -> None:  # type: ignore[no-untyped-def]
    conn = await asyncpg.connect(private_postgres.url)
    await conn.execute("create table probe (v text); insert into probe values ('Cẩm Phả')")
    await conn.close()
    private_postgres.stop()
    with pytest.raises(OSError):
        await asyncpg.connect(private_postgres.url, timeout=2)
    private_postgres.start()
    conn = await asyncpg.connect(private_postgres.url)
    assert await conn.fetchval("select v from probe") == "Cẩm Phả"
    await conn.close()
