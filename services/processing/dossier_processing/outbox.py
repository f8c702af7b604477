"""The outbox relay: publishes `DossierStatusChanged` snapshots written by the consumer's transactions.

One relay is active per schema (a PostgreSQL advisory lock elects it), so snapshots leave in outbox
order and a dossier's versions reach `dossier.status.v1` in order (key = dossier code). The producer is
idempotent (acks=all). After publishing, the rows are marked sent together with the status topic's end
offsets. A crash between the broker's acknowledgement and that mark is healed on the next start: the
relay reads the topic from the last recorded offsets and marks what it finds there as sent (by the
`outbox-id` header) before publishing anything else — so each snapshot is published once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dossier_processing import repository
from dossier_processing.observability import Metrics
from dossier_processing.settings import ProcessingSettings

log = logging.getLogger(__name__)
OUTBOX_ID = "outbox-id"


def headers_of(row: repository.OutboxRow) -> list[tuple[str, bytes]]:
    return [(OUTBOX_ID, str(row.id).encode()), ("version", str(row.version).encode())]


class LeadershipLost(RuntimeError):
    pass


class OutboxRelay:
    def __init__(
        self, settings: ProcessingSettings, engine: AsyncEngine, producer: AIOKafkaProducer, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.producer = producer
        self.metrics = metrics
        self.topic = settings.status_topic
        self._stopping = asyncio.Event()
        self._work = asyncio.Event()
        self._last_gauges = 0.0
        self._last_purge = time.monotonic()
        self.published = 0

    def stop(self) -> None:
        self._stopping.set()
        self._work.set()

    def wake(self) -> None:
        """New outbox rows were committed: publish now instead of at the next idle poll."""
        self._work.set()

    async def _idle(self) -> None:
        """Wait for a wake-up, or `relay_idle_s` (rows written by another instance's consumer)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._work.wait(), self.settings.relay_idle_s)
        self._work.clear()

    async def run(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                await self._lead()
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "outbox relay interrupted; retrying", extra={"error": f"{type(exc).__name__}: {exc}"}
                )
                await self._sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_backoff_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _lead(self) -> None:
        """Hold the relay lock of this schema and publish until stopped or the lock is lost."""
        lock_name = f"{self.settings.db_schema}.outbox-relay"
        async with self.engine.connect() as lock:
            got = await lock.scalar(text("select pg_try_advisory_lock(hashtext(:n))"), {"n": lock_name})
            await lock.commit()
            if not got:
                await self._sleep(2.0)
                return
            try:
                await self._reconcile()
                while not self._stopping.is_set():
                    await self._check_lock(lock)
                    if await self.publish_once() == 0:
                        await self._idle()
            finally:
                with contextlib.suppress(Exception):
                    await lock.execute(text("select pg_advisory_unlock(hashtext(:n))"), {"n": lock_name})
                    await lock.commit()

    async def _check_lock(self, lock: AsyncConnection) -> None:
        try:
            await lock.execute(text("select 1"))
            await lock.commit()
        except Exception as exc:
            raise LeadershipLost("the relay's lock connection is gone") from exc

    async def publish_once(self) -> int:
        """Publish up to one batch of unsent snapshots; returns how many."""
        async with self.engine.connect() as conn:
            rows = await repository.unsent(conn, self.settings.relay_batch_size)
        await self._gauges(force=not rows)
        if not rows:
            return 0
        futures = [
            await self.producer.send(
                self.topic, value=r.payload, key=r.dossier_code.encode(), headers=headers_of(r)
            )
            for r in rows
        ]
        metadata = await asyncio.gather(*futures)
        positions: dict[int, int] = {}
        for md in metadata:
            positions[md.partition] = max(positions.get(md.partition, 0), md.offset + 1)
        async with self.engine.begin() as conn:
            await repository.mark_sent(conn, [r.id for r in rows])
            await repository.save_relay_positions(conn, self.topic, positions)
        self.metrics.outbox_published.inc(len(rows))
        self.published += len(rows)
        return len(rows)

    async def _gauges(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_gauges < 1.0:
            return
        self._last_gauges = now
        async with self.engine.connect() as conn:
            count, oldest = await repository.outbox_backlog(conn)
            if now - self._last_purge > 3600:
                self._last_purge = now
                await repository.purge_sent_outbox(conn, self.settings.outbox_retention_days)
                await conn.commit()
        self.metrics.outbox_backlog.set(count)
        self.metrics.outbox_age.oldest = oldest

    async def _reconcile(self) -> None:
        """Mark as sent whatever reached the topic after the last recorded offsets."""
        async with self.engine.connect() as conn:
            positions = await repository.relay_positions(conn, self.topic)
            anything_sent = await conn.scalar(
                text("select exists (select 1 from outbox where sent_at is not null)")
            )
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await reader.start()
        try:
            parts = await self.producer.partitions_for(self.topic)
            tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
            if not tps:
                return
            ends = await reader.end_offsets(tps)
            if not positions and not anything_sent:  # nothing of this schema was ever published
                async with self.engine.begin() as conn:
                    await repository.save_relay_positions(
                        conn, self.topic, {tp.partition: ends[tp] for tp in tps}
                    )
                return
            found = await _read_outbox_ids(reader, tps, positions, ends)
            async with self.engine.begin() as conn:
                await repository.mark_sent(conn, found)
                await repository.save_relay_positions(
                    conn, self.topic, {tp.partition: ends[tp] for tp in tps}
                )
            if found:
                log.info("relay recovered snapshots published before a crash", extra={"count": len(found)})
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
