"""The consumer group on `dossier.events.v1`: one database transaction per `getmany()` batch.

getmany → decode and bounds-check (pure) → [reserve seqs, look up the batch's event ids, load stored
history, `process_batch` (pure), write events + dossiers + outbox + sealed applicant data] in one
transaction → dead letters acknowledged → offsets committed. Offsets are only committed after the
database commit, and every event is stored under its unique `event_id` in the same transaction as its
effect, so a crash anywhere replays the batch without applying anything twice.

Failures (see `failures.py`): transient ones (database or Kafka unavailable, serialization failure,
concurrent writer) retry the same step with bounded back-off and mark the consumer stalled, which
`/readyz` reports; deterministic ones set aside only the offending event. A batch whose transaction fails
deterministically is split in halves, and again, until the event that causes it is alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_processing.applicant.store import store_sealed
from dossier_processing.history.partitions import EventPartitions
from dossier_processing.ingest import sql
from dossier_processing.ingest.decode import Incoming, KafkaRecord, Rejected, decode_messages
from dossier_processing.ingest.dlq import DeadLetters
from dossier_processing.ingest.failures import (
    DeterministicFailure,
    Reason,
    describe,
    is_deterministic_db_error,
)
from dossier_processing.ingest.history_cache import HistoryCache
from dossier_processing.ingest.plan import DEFAULT_EVENT_LIMIT, BatchPlan, process_batch, resume_points
from dossier_processing.observability import Metrics
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.kafka import client_options
from dossier_runtime.retry import Backoff, Stall, until_done

log = logging.getLogger(__name__)
T = TypeVar("T")


async def apply_batch(
    engine: AsyncEngine,
    incoming: Sequence[Incoming],
    catalog: Catalog,
    now: datetime,
    cache: HistoryCache | None = None,
    event_limit: int = DEFAULT_EVENT_LIMIT,
) -> BatchPlan:
    """One transaction: the batch's new events, the re-folded dossiers and their outbox rows.

    Raises `DeterministicFailure` when the batch can never be written as it is (the pure step failed
    outside any one dossier, or PostgreSQL refused a value); any other error is transient."""
    async with engine.begin() as conn:
        seqs = await sql.reserve_seqs(conn, len(incoming))
        payloads = await sql.stored_payloads(conn, [i.event.event_id for i in incoming])
        stored = await sql.load_stored(conn, resume_points(incoming, seqs, payloads), cache)
        try:
            plan = process_batch(
                incoming, stored, seqs, catalog, now, stored_payloads=payloads, event_limit=event_limit
            )
        except Exception as exc:
            raise DeterministicFailure(Reason.UNAPPLIABLE, describe(exc)) from exc
        try:
            await sql.write_plan(conn, plan)
            await store_sealed(conn, plan.events)  # applicant data, sealed (docs/security.md)
        except Exception as exc:
            if is_deterministic_db_error(exc):
                raise DeterministicFailure(Reason.UNSTORABLE, describe(exc)) from exc
            raise
    if cache is not None:  # only after the commit: the cache never holds what the database lacks
        cache.remember(plan)
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
        self.cache = HistoryCache(settings.history_cache_events, settings.fold_state_cache_dossiers)
        self.partitions = EventPartitions(engine, settings.db_schema)
        self.stall = Stall()  # set while a step is being retried: the consumer cannot progress
        metrics.consumer_stalled.seconds = self.stall.seconds

    def progressing(self) -> bool:
        """False once a step has been retried for `stalled_unready_after_s` without success."""
        return self.stall.since is None or self.stall.seconds() < self.settings.stalled_unready_after_s

    def stop(self) -> None:
        """Finish the batch in flight, commit it, then leave the group."""
        self._stopping.set()

    async def run(self) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(
            **client_options(s.kafka),
            group_id=s.consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.batch_size,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await self._retry("start the Kafka consumer", consumer.start)
        self.consumer = consumer
        await self._retry(
            "create the months' partitions of events",
            lambda: self.partitions.prepare(datetime.now(VN_TZ), s.events_months_ahead),
        )
        consumer.subscribe([s.events_topic], listener=_Rebalance(self._lock))
        try:
            while not self._stopping.is_set():
                batch = await self._retry(
                    "fetch records",
                    lambda: consumer.getmany(timeout_ms=s.poll_timeout_ms, max_records=s.batch_size),
                )
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
        incoming, rejected = decode_messages(records)
        now = datetime.now(VN_TZ)
        instants = [i.event.occurred_at for i in incoming]
        await self._retry("create the batch's month partitions", lambda: self.partitions.ensure(instants))
        plans = await self._store(incoming, now)
        rejected += [r for plan in plans for r in plan.rejected]
        await self._retry("send dead letters", lambda: self.dead_letters.send(rejected))
        if any(plan.dossiers for plan in plans) and self.on_commit is not None:
            self.on_commit()
        offsets = {tp: msgs[-1].offset + 1 for tp, msgs in batch.items()}
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:  # a rebalance took the partition: the next owner skips what we stored
            log.warning(
                "offset commit failed; the batch will be seen again as duplicates", extra={"error": str(exc)}
            )
        self.batches += 1
        self._count(plans, len(records), time.perf_counter() - started)

    async def _store(self, incoming: Sequence[Incoming], now: datetime) -> list[BatchPlan]:
        """Write the batch in one transaction; if that fails deterministically, write each half on its
        own, down to the single event that cannot be written, which is set aside."""
        if not incoming:
            return []
        s = self.settings
        try:
            plan = await self._retry(
                "apply a batch",
                lambda: apply_batch(
                    self.engine, incoming, self.catalog, now, self.cache, s.dossier_event_limit
                ),
            )
        except DeterministicFailure as failure:
            if len(incoming) == 1:
                return [BatchPlan(rejected=[Rejected.of(incoming[0], failure.reason, failure.error)])]
            log.warning(
                "a batch cannot be written as it is; writing its halves apart",
                extra={"events": len(incoming), "error": str(failure)},
            )
            middle = len(incoming) // 2
            return [*await self._store(incoming[:middle], now), *await self._store(incoming[middle:], now)]
        return [plan]

    def _count(self, plans: Sequence[BatchPlan], size: int, seconds: float) -> None:
        m = self.metrics
        for event_type, n in Counter(e.type for plan in plans for e in plan.events).items():
            m.events_applied.labels(event_type).inc(n)
        m.duplicates.inc(sum(plan.duplicates for plan in plans))
        m.anomalies.inc(sum(plan.anomalies_added for plan in plans))
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
            what,
            action,
            Backoff(0.2, self.settings.retry_max_backoff_s),
            fatal=(DeterministicFailure,),
            retries=self.metrics.batch_retries,
            stall=self.stall,
            explain=describe,
        )
