"""The Kafka side of the projection. Offsets live in the database (written with each batch), so on
every assignment the consumer seeks to the stored position; Kafka's own committed offsets are only
updated afterwards, for lag monitoring. `StatusConsumer.run_forever` serves a consumer group;
`StatusConsumer.replay` reads every partition up to the end offsets seen at its start (rebuild).

The live index keeps every partition through failures: only a rebalance that gives a partition to
another member drops it (at the next assignment, so a partition that comes back is replaced in one
step and its counters never dip). While the consumer cannot progress (PostgreSQL or Kafka does not
answer, partitions not loaded yet) `progressing` is false and `/readyz` answers 503; the records of
a failed batch are read again after a pause that grows up to `METRICS_MAX_BACKOFF_S`."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from dossier_metrics.projector import Consumed, Projector
from dossier_metrics.settings import MetricsSettings
from dossier_runtime.db import database_reachable
from dossier_runtime.kafka import KafkaConnection, client_options, ensure_topics, retention
from dossier_runtime.retry import Backoff, Streak

log = logging.getLogger(__name__)


class BatchFailed(RuntimeError):
    """A batch (or a partition load) could not be stored; nothing of it was committed."""


class StatusConsumer:
    def __init__(self, settings: MetricsSettings, projector: Projector) -> None:
        self.settings = settings
        self.projector = projector
        self.topic = settings.status_topic
        self.owned: set[int] = set()  # assigned, loaded into the index, consumed
        self.pending: set[int] = set()  # assigned, not loaded yet (paused until then)
        self.stale: set[int] = set()  # in the index but not assigned now (kept until the next assignment)
        self.assigned = False  # member of the group with a current assignment
        self.failing: str | None = None  # why the consumer cannot progress, while it cannot
        self._lock = asyncio.Lock()

    @property
    def progressing(self) -> bool:
        return self.assigned and not self.pending and self.failing is None

    def _backoff(self) -> Backoff:
        """Pauses after failures in a row: 0.25 s, 0.5 s, 1 s, … up to `METRICS_MAX_BACKOFF_S`."""
        return Backoff(0.25, self.settings.max_backoff_s)

    def _new_consumer(self, group_id: str | None) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **client_options(self.settings.kafka),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self.settings.max_batch_records,
        )

    # -- assignment ----------------------------------------------------------------------

    def _revoked(self, partitions: set[int]) -> None:
        """Partitions leave the consumer but stay in the index until the next assignment."""
        self.stale |= (self.owned | self.pending) & partitions
        self.owned -= partitions
        self.pending -= partitions
        self.assigned = False
        if partitions:
            log.info("partitions revoked", extra={"partitions": sorted(partitions)})

    def _assigned(self, consumer: AIOKafkaConsumer, partitions: set[int]) -> None:
        """Drop from the index what went to another member; load the rest before consuming it."""
        for partition in sorted(self.stale - partitions):
            self.projector.index.drop_partition(partition)
        self.stale.clear()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions - self.owned)]
        if tps:
            consumer.pause(*tps)
        self.pending |= partitions - self.owned
        self.assigned = True
        log.info("partitions assigned", extra={"topic": self.topic, "partitions": sorted(partitions)})

    async def _load_pending(self, consumer: AIOKafkaConsumer) -> None:
        """Seek each newly assigned partition to its stored offset and load it into the live index
        (replacing what the index held for it in one step), then let it be consumed."""
        async with self._lock:
            if not self.pending:
                return
            partitions = sorted(self.pending)
            try:
                stored = await self.projector.store.stored_offsets(self.topic, partitions)
                for partition in partitions:
                    tp = TopicPartition(self.topic, partition)
                    if tp not in consumer.assignment():
                        continue  # a rebalance has begun; its revocation will follow
                    if partition in stored:
                        consumer.seek(tp, stored[partition])
                    else:
                        await consumer.seek_to_beginning(tp)
                    await self.projector.load_partition(partition)
                    self.pending.discard(partition)
                    self.owned.add(partition)
                    consumer.resume(tp)
            except (asyncio.CancelledError, KafkaError):
                raise
            except Exception as exc:
                raise BatchFailed(f"loading partitions {partitions}: {type(exc).__name__}: {exc}") from exc
            log.info("partitions loaded", extra={"partitions": partitions, "stored": stored})

    # -- batches -------------------------------------------------------------------------

    async def _poll_once(self, consumer: AIOKafkaConsumer, *, commit_to_kafka: bool) -> int:
        batch = await consumer.getmany(timeout_ms=self.settings.poll_timeout_ms)
        count = 0
        done: dict[TopicPartition, int] = {}
        async with self._lock:
            items = [(tp, records) for tp, records in batch.items() if records]
            for n, (tp, records) in enumerate(items):
                if tp.partition not in self.owned:
                    continue  # revoked while the batch was on its way, or not loaded yet
                messages = [Consumed(r.offset, r.value) for r in records]
                try:
                    await self.projector.apply(tp.topic, tp.partition, messages)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # Nothing of this batch was committed: read it and the rest again later.
                    assignment = consumer.assignment()
                    for later, later_records in items[n:]:
                        if later.partition in self.owned and later in assignment:
                            consumer.seek(later, later_records[0].offset)
                    raise BatchFailed(f"partition {tp.partition}: {type(exc).__name__}: {exc}") from exc
                count += len(messages)
                done[tp] = messages[-1].offset + 1
        if commit_to_kafka and done:
            # Informational only (lag dashboards): the database holds the offsets that count.
            with contextlib.suppress(KafkaError):
                await consumer.commit(done)
        return count

    async def _step(self, consumer: AIOKafkaConsumer, failures: Streak) -> None:
        """One round: load new partitions, apply one batch. A database failure makes the consumer
        unready and pauses; the next round tries the same records again."""
        try:
            await self._load_pending(consumer)
            count = await self._poll_once(consumer, commit_to_kafka=True)
        except BatchFailed as exc:
            if self.failing is None:
                log.error("the projection cannot be stored; retrying", extra={"error": str(exc)})
            self.failing = str(exc)
            await asyncio.sleep(failures.failed())
            return
        if self.failing is not None and (
            count or await database_reachable(self.projector.store.engine, timeout_s=5)
        ):
            log.info("the projection is stored again", extra={"after": self.failing})
            self.failing = None
        failures.succeeded()

    async def run_group(self) -> None:
        """Consume as a member of the configured group until cancelled or Kafka fails."""
        consumer = self._new_consumer(self.settings.consumer_group)
        owner = self

        class Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
                async with owner._lock:
                    owner._revoked({tp.partition for tp in revoked})

            async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
                async with owner._lock:
                    owner._assigned(consumer, {tp.partition for tp in assigned})

        await consumer.start()
        failures = Streak(self._backoff())
        try:
            consumer.subscribe([self.topic], listener=Rebalance())
            while True:
                await self._step(consumer, failures)
        finally:
            async with self._lock:
                self._revoked(self.owned | self.pending)
            await consumer.stop()

    async def run_forever(self) -> None:
        """`run_group`, started again after any Kafka failure; the index is kept meanwhile."""
        failures = Streak(self._backoff())
        while True:
            try:
                await ensure_topics(
                    self.settings.kafka,
                    {self.topic: self.settings.status_topic_partitions},
                    timeout_s=self.settings.kafka_startup_timeout_s,
                    configs={self.topic: retention(self.settings.kafka_status_retention_days)},
                    policy=self.settings.topic_policy,
                )
                await self.run_group()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failing = f"Kafka consumer: {type(exc).__name__}: {exc}"
                log.exception("status consumer stopped; starting it again", extra={"error": str(exc)})
                await asyncio.sleep(failures.failed())

    async def replay(self) -> int:
        """Read every partition from the stored offsets (or the beginning) up to the end offsets
        seen now; returns the number of messages read."""
        consumer = self._new_consumer(None)
        await consumer.start()
        try:
            partitions = await _partitions_of(self.settings.kafka, self.topic)
            tps = {TopicPartition(self.topic, p) for p in partitions}
            consumer.assign(list(tps))
            self.pending = set(partitions)
            self.assigned = True
            await self._load_pending(consumer)
            ends = await consumer.end_offsets(list(tps))
            total = 0
            while True:
                remaining = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
                if not remaining:
                    return total
                total += await self._poll_once(consumer, commit_to_kafka=False)
        finally:
            await consumer.stop()


async def _partitions_of(connection: KafkaConnection, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(**client_options(connection))
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description["error_code"] != 0 or not description["partitions"]:
        raise RuntimeError(f"topic {topic!r} not found (error code {description['error_code']})")
    return sorted(p["partition"] for p in description["partitions"])
