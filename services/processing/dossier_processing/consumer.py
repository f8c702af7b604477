"""The consumer group on `dossier.events.v1`: one database transaction per `getmany()` batch.

getmany → decode (pure) → [reserve seqs, load stored history, `process_batch` (pure), write events +
dossiers + outbox] in one transaction → dead letters acknowledged → offsets committed. Offsets are only
committed after the database commit, and every event is stored under its unique `event_id` in the same
transaction as its effect, so a crash anywhere replays the batch without applying anything twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_processing import repository
from dossier_processing.batch import BatchPlan, Incoming, KafkaRecord, decode_messages, process_batch
from dossier_processing.dlq import DeadLetters
from dossier_processing.history_cache import HistoryCache
from dossier_processing.observability import Metrics
from dossier_processing.retry import T, until_done
from dossier_processing.settings import ProcessingSettings

log = logging.getLogger(__name__)


async def apply_batch(
    engine: AsyncEngine,
    incoming: Sequence[Incoming],
    catalog: Catalog,
    now: datetime,
    cache: HistoryCache | None = None,
) -> BatchPlan:
    """One transaction: the batch's new events, the re-folded dossiers and their outbox rows."""
    async with engine.begin() as conn:
        seqs = await repository.reserve_seqs(conn, len(incoming))
        stored = await repository.load_stored(conn, sorted({i.event.dossier_code for i in incoming}), cache)
        plan = process_batch(incoming, stored, seqs, catalog, now)
        await repository.write_plan(conn, plan)
    if cache is not None:  # only after the commit: the cache never holds what the database lacks
        for row in plan.dossiers:
            cache.put(row.dossier_code, row.version, plan.histories[row.dossier_code])
    return plan


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Partitions are only handed over between batches: revocation waits for the batch in flight."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self.lock = lock

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.lock:
            log.info("partitions revoked", extra={"partitions": sorted(tp.partition for tp in revoked)})

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"partitions": sorted(tp.partition for tp in assigned)})


class EventConsumer:
    def __init__(
        self,
        settings: ProcessingSettings,
        engine: AsyncEngine,
        catalog: Catalog,
        dead_letters: DeadLetters,
        metrics: Metrics,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.on_commit = on_commit  # told after each batch that wrote dossiers (wakes the relay)
        self.settings = settings
        self.engine = engine
        self.catalog = catalog
        self.dead_letters = dead_letters
        self.metrics = metrics
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        self.consumer: AIOKafkaConsumer | None = None
        self.batches = 0
        self.cache = HistoryCache(settings.history_cache_events)

    def stop(self) -> None:
        """Finish the batch in flight, commit it, then leave the group."""
        self._stopping.set()

    async def run(self) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=s.consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.batch_size,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await self._retry("start the Kafka consumer", consumer.start)
        self.consumer = consumer
        consumer.subscribe([s.events_topic], listener=_Rebalance(self._lock))
        try:
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=s.poll_timeout_ms, max_records=s.batch_size)
                if batch:
                    async with self._lock:
                        await self._handle(consumer, batch)
                await self._update_lag(consumer)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            log.info("consumer stopped", extra={"batches": self.batches})

    async def _handle(
        self, consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list[KafkaRecord]]
    ) -> None:
        started = time.perf_counter()
        records = [r for msgs in batch.values() for r in msgs]
        incoming, undecodable = decode_messages(records)
        now = datetime.now(VN_TZ)
        plan = await self._retry(
            "apply a batch", lambda: apply_batch(self.engine, incoming, self.catalog, now, self.cache)
        )
        await self._retry("send dead letters", lambda: self.dead_letters.send(undecodable, "undecodable"))
        await self._retry("send dead letters", lambda: self.dead_letters.send(plan.rejected, "unappliable"))
        if plan.dossiers and self.on_commit is not None:
            self.on_commit()
        offsets = {tp: msgs[-1].offset + 1 for tp, msgs in batch.items()}
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:  # a rebalance took the partition: the next owner skips what we stored
            log.warning(
                "offset commit failed; the batch will be seen again as duplicates", extra={"error": str(exc)}
            )
        self.batches += 1
        self._count(plan, len(records), time.perf_counter() - started)

    def _count(self, plan: BatchPlan, size: int, seconds: float) -> None:
        m = self.metrics
        for event_type, n in Counter(e.type for e in plan.events).items():
            m.events_applied.labels(event_type).inc(n)
        m.duplicates.inc(plan.duplicates)
        m.anomalies.inc(plan.anomalies_added)
        m.batch_size.observe(size)
        m.batch_latency.observe(seconds)

    async def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            with contextlib.suppress(Exception):
                position = await consumer.position(tp)
                self.metrics.consumer_lag.labels(str(tp.partition)).set(max(0, high - position))

    async def _retry(self, what: str, action: Callable[[], Awaitable[T]]) -> T:
        return await until_done(
            what, action, retries=self.metrics.batch_retries, max_backoff_s=self.settings.retry_max_backoff_s
        )
