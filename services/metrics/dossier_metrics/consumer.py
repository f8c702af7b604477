"""The Kafka side of the projection. Offsets live in the database (written with each batch), so on
every assignment the consumer seeks to the stored position; Kafka's own committed offsets are only
updated afterwards, for lag monitoring. `StatusConsumer.run_group` serves a consumer group;
`StatusConsumer.replay` reads every partition up to the end offsets seen at its start (rebuild)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from dossier_metrics.projector import Consumed, Projector
from dossier_metrics.settings import MetricsSettings

log = logging.getLogger(__name__)


class StatusConsumer:
    def __init__(self, settings: MetricsSettings, projector: Projector) -> None:
        self.settings = settings
        self.projector = projector
        self.topic = settings.status_topic
        self.owned: set[int] = set()
        self.assigned_once = asyncio.Event()
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None

    def _new_consumer(self, group_id: str | None) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self.settings.max_batch_records,
        )

    # -- positions -----------------------------------------------------------------------

    async def _take(self, consumer: AIOKafkaConsumer, partitions: set[TopicPartition]) -> None:
        """Seek each newly owned partition to its stored offset and load it into the live index."""
        stored = await self.projector.store.stored_offsets(self.topic, [tp.partition for tp in partitions])
        for tp in sorted(partitions):
            if tp.partition in stored:
                consumer.seek(tp, stored[tp.partition])
            else:
                await consumer.seek_to_beginning(tp)
            await self.projector.load_partition(tp.partition)
            self.owned.add(tp.partition)
        log.info(
            "partitions assigned",
            extra={
                "topic": self.topic,
                "partitions": sorted(tp.partition for tp in partitions),
                "stored": stored,
            },
        )

    def _release(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            self.owned.discard(tp.partition)
            self.projector.index.drop_partition(tp.partition)
        if partitions:
            log.info("partitions revoked", extra={"partitions": sorted(tp.partition for tp in partitions)})

    # -- batches -------------------------------------------------------------------------

    async def _poll_once(self, consumer: AIOKafkaConsumer, *, commit_to_kafka: bool) -> int:
        batch = await consumer.getmany(timeout_ms=self.settings.poll_timeout_ms)
        count = 0
        done: dict[TopicPartition, int] = {}
        async with self._lock:
            for tp, records in batch.items():
                if tp.partition not in self.owned or not records:
                    continue  # revoked while the batch was on its way
                messages = [Consumed(r.offset, r.value) for r in records]
                await self.projector.apply(tp.topic, tp.partition, messages)
                count += len(messages)
                done[tp] = messages[-1].offset + 1
        if commit_to_kafka and done:
            # Informational only (lag dashboards): the database holds the offsets that count.
            with contextlib.suppress(KafkaError):
                await consumer.commit(done)
        return count

    async def run_group(self) -> None:
        """Consume as a member of the configured group until cancelled."""
        consumer = self._new_consumer(self.settings.consumer_group)
        owner = self

        class Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
                async with owner._lock:
                    owner._release(set(revoked))

            async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
                async with owner._lock:
                    await owner._take(consumer, set(assigned))
                owner.assigned_once.set()

        await consumer.start()
        self._consumer = consumer
        try:
            consumer.subscribe([self.topic], listener=Rebalance())
            while True:
                await self._poll_once(consumer, commit_to_kafka=True)
        finally:
            self._consumer = None
            self._release({TopicPartition(self.topic, p) for p in list(self.owned)})
            await consumer.stop()

    async def replay(self) -> int:
        """Read every partition from the stored offsets (or the beginning) up to the end offsets
        seen now; returns the number of messages read."""
        consumer = self._new_consumer(None)
        await consumer.start()
        try:
            partitions = await _partitions_of(self.settings.kafka_bootstrap_servers, self.topic)
            tps = {TopicPartition(self.topic, p) for p in partitions}
            consumer.assign(list(tps))
            await self._take(consumer, tps)
            ends = await consumer.end_offsets(list(tps))
            total = 0
            while True:
                remaining = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
                if not remaining:
                    return total
                total += await self._poll_once(consumer, commit_to_kafka=False)
        finally:
            await consumer.stop()


async def _partitions_of(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description["error_code"] != 0 or not description["partitions"]:
        raise RuntimeError(f"topic {topic!r} not found (error code {description['error_code']})")
    return sorted(p["partition"] for p in description["partitions"])
