"""Crash recovery of the outbox relay: each published record carries its `outbox-id` header, and before
publishing anything a new leader reads the status topic from the offsets recorded after the last
confirmed write to its end, and marks every row it finds there as sent. A crash between the broker's
acknowledgement and the mark therefore never publishes a snapshot twice."""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_processing.relay import sql
from dossier_processing.relay.sql import OutboxRow
from dossier_runtime.kafka import KafkaConnection, client_options

log = logging.getLogger(__name__)
OUTBOX_ID = "outbox-id"


def headers_of(row: OutboxRow) -> list[tuple[str, bytes]]:
    """The headers of a published snapshot: its outbox row (for recovery) and its version."""
    return [(OUTBOX_ID, str(row.id).encode()), ("version", str(row.version).encode())]


async def reconcile(
    engine: AsyncEngine, producer: AIOKafkaProducer, connection: KafkaConnection | str, topic: str
) -> int:
    """Mark as sent whatever reached `topic` after the last recorded offsets, and record the topic's end
    offsets; returns how many rows were found published."""
    async with engine.connect() as conn:
        positions = await sql.relay_positions(conn, topic)
        anything_sent = await sql.anything_sent(conn)
    reader = AIOKafkaConsumer(
        **client_options(connection), enable_auto_commit=False, group_id=None, auto_offset_reset="earliest"
    )
    await reader.start()
    try:
        parts = await producer.partitions_for(topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return 0
        ends = await reader.end_offsets(tps)
        if not positions and not anything_sent:  # nothing of this schema was ever published
            async with engine.begin() as conn:
                await sql.save_relay_positions(conn, topic, {tp.partition: ends[tp] for tp in tps})
            return 0
        found = await _read_outbox_ids(reader, tps, positions, ends)
        async with engine.begin() as conn:
            await sql.mark_sent(conn, found)
            await sql.save_relay_positions(conn, topic, {tp.partition: ends[tp] for tp in tps})
        if found:
            log.info("relay recovered snapshots published before a crash", extra={"count": len(found)})
        return len(found)
    finally:
        await reader.stop()


async def _read_outbox_ids(
    reader: AIOKafkaConsumer,
    tps: list[TopicPartition],
    starts: dict[int, int],
    ends: dict[TopicPartition, int],
) -> list[int]:
    pending = [tp for tp in tps if ends[tp] > starts.get(tp.partition, 0)]
    if not pending:
        return []
    reader.assign(pending)
    for tp in pending:
        reader.seek(tp, starts.get(tp.partition, 0))
    found: list[int] = []
    while pending:
        batch = await reader.getmany(*pending, timeout_ms=1000)
        for msgs in batch.values():
            for m in msgs:
                for key, value in m.headers or ():
                    if key == OUTBOX_ID:
                        found.append(int(value))
        pending = [tp for tp in pending if await reader.position(tp) < ends[tp]]
    return found
