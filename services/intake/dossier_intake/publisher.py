"""Writes events to Kafka and says so only once the broker acknowledged them (acks=all, idempotent).

The records of one request are grouped into one record batch per partition (the partition the
producer's default partitioner would choose for the key, `partitioning`), each handed to the producer
with `send_batch`: one acknowledgement future per partition instead of one per event, and no
per-record accumulator work. The records of one partition keep their order within the request, and
the batches of successive requests keep theirs on each partition.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.producer.message_accumulator import BatchBuilder

from dossier_intake.observability import IntakeMetrics
from dossier_intake.partitioning import partition_of
from dossier_intake.settings import IntakeSettings

log = logging.getLogger(__name__)

Record = tuple[bytes, bytes]  # (key = dossier_code, value = protobuf DossierEvent)


class KafkaUnavailable(Exception):
    """Kafka did not acknowledge every event of a request in time; none of them is reported accepted."""


class EventPublisher:
    def __init__(self, settings: IntakeSettings, metrics: IntakeMetrics) -> None:
        self.topic = settings.events_topic
        self.timeout_s = settings.kafka_send_timeout_s
        self.metrics = metrics
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id="dossier-intake",
            acks="all",
            enable_idempotence=True,
            linger_ms=settings.kafka_linger_ms,
            max_batch_size=settings.kafka_max_batch_bytes,
            max_request_size=max(settings.kafka_max_batch_bytes, 1024 * 1024),
        )

    async def start(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(self._producer.start(), timeout_s)
        except BaseException:
            await self._producer.stop()
            raise

    async def stop(self) -> None:
        """Flush what is buffered and close (graceful shutdown)."""
        await self._producer.stop()

    async def publish(self, records: Sequence[Record]) -> None:
        """Send every record, then wait for all acknowledgements; raise `KafkaUnavailable` if any
        failed or the whole did not finish within the send timeout."""
        if not records:
            return
        started = time.perf_counter()
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        futures: list[asyncio.Future[object]] = []
        try:
            async with asyncio.timeout_at(deadline):
                partitions = sorted(await self._producer.partitions_for(self.topic))
                for partition, batch in self._batches(records, partitions):
                    futures.append(await self._producer.send_batch(batch, self.topic, partition=partition))
            # asyncio.wait, not gather: a timeout must not cancel the producer's own futures.
            remaining = max(0.0, deadline - asyncio.get_running_loop().time())
            done, pending = await asyncio.wait(futures, timeout=remaining)
        except (TimeoutError, KafkaError) as exc:
            self._failed(len(records), exc)
            raise KafkaUnavailable(str(exc) or type(exc).__name__) from exc
        if pending:
            for future in pending:  # their outcome no longer matters; keep asyncio from warning
                future.add_done_callback(_retrieve)
            self._failed(len(records), TimeoutError(f"{len(pending)} events not acknowledged in time"))
            raise KafkaUnavailable("Kafka did not acknowledge in time")
        for future in done:
            error = future.exception()
            if error is not None:
                self._failed(len(records), error)
                raise KafkaUnavailable(str(error) or type(error).__name__) from error
        self.metrics.kafka_send.observe(time.perf_counter() - started)

    def _batches(self, records: Sequence[Record], partitions: list[int]) -> list[tuple[int, BatchBuilder]]:
        """The records grouped by partition, in order, each group in as many batches as it needs."""
        by_key: dict[bytes, int] = {}  # a request often holds several events of one dossier
        open_batches: dict[int, BatchBuilder] = {}
        full: list[tuple[int, BatchBuilder]] = []
        for key, value in records:
            partition = by_key.get(key)
            if partition is None:
                partition = by_key[key] = partition_of(key, partitions)
            batch = open_batches.get(partition)
            if batch is None:
                batch = open_batches[partition] = self._producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                full.append((partition, batch))
                batch = open_batches[partition] = self._producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)  # a batch takes its first record
        for batch in open_batches.values():
            batch.close()  # sent at once: the request's records are all there, nothing to linger for
        return full + list(open_batches.items())

    def _failed(self, count: int, exc: BaseException) -> None:
        self.metrics.kafka_failures.inc()
        log.warning("kafka write failed", extra={"events": count, "error": repr(exc), "topic": self.topic})


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
