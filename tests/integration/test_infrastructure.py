"""The real Kafka broker and PostgreSQL answer as the services expect."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from dossier_runtime.kafka import broker_reachable, ensure_topics

pytestmark = pytest.mark.integration


async def _consume_one(bootstrap: str, topic: str, group: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
        values = [m.value for msgs in batch.values() for m in msgs if m.value is not None]
        for tp, msgs in batch.items():
            await consumer.commit({tp: msgs[-1].offset + 1})
        return values
    finally:
        await consumer.stop()


async def test_committed_message_is_not_redelivered_after_consumer_restart(
    kafka_bootstrap: str, topic_suffix: str
) -> None:
    topic = "infra.roundtrip" + topic_suffix
    await ensure_topics(kafka_bootstrap, {topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        payload = uuid.uuid4().bytes
        meta = await producer.send_and_wait(topic, payload, key=b"k")
    finally:
        await producer.stop()
    assert meta.offset == 0

    group = "infra-" + uuid.uuid4().hex
    assert await _consume_one(kafka_bootstrap, topic, group) == [payload]
    # A new consumer in the same group starts after the committed offset: nothing comes back.
    assert await _consume_one(kafka_bootstrap, topic, group) == []

    check = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await check.start()
    try:
        assert await check.committed(TopicPartition(topic, 0)) == 1
    finally:
        await check.stop()


async def test_broker_reachable(kafka_bootstrap: str) -> None:
    assert await broker_reachable(kafka_bootstrap)
    assert not await broker_reachable("127.0.0.1:1", timeout_s=1.0)


async def test_row_written_through_sqlalchemy_asyncpg_is_read_back(database_url: str, db_schema: str) -> None:
    engine = create_async_engine(database_url.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"create schema {db_schema}"))
            await conn.execute(text(f"create table {db_schema}.probe (id uuid primary key, note text)"))
            row_id = uuid.uuid4()
            await conn.execute(
                text(f"insert into {db_schema}.probe values (:id, :note)"), {"id": row_id, "note": "Hạ Long"}
            )
        async with engine.connect() as conn:
            note = (
                await conn.execute(text(f"select note from {db_schema}.probe where id = :id"), {"id": row_id})
            ).scalar_one()
        assert note == "Hạ Long"
    finally:
        await engine.dispose()
