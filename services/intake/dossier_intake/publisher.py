"""Writes events to Kafka and says so only once the broker acknowledged them (acks=all, idempotent).

The records of one request are grouped by partition (the partition the producer's default
partitioner would choose for the key, `dossier_runtime.record_batches`). A partition's group of at least
`OWN_BATCH_MIN` records goes out as record batches of its own (`send_batch`): one acknowledgement
future per batch instead of one per event, and no per-record accumulator work. A smaller group (a
single event, a short batch) is sent record by record into the producer's shared batches, where it
lingers with the records of concurrent requests: a batch of its own per request would cost a
produce round trip per request and partition. Either way the records of one partition keep their
order within the request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from dossier_intake.observability import IntakeMetrics
from dossier_intake.settings import IntakeSettings
from dossier_runtime.kafka import client_options
from dossier_runtime.record_batches import NO_HEADERS, by_partition, closed_batches

log = logging.getLogger(__name__)

Record = tuple[bytes, bytes]  # (key = dossier_code, value = protobuf DossierEvent)
#: The fewest records of one request and partition sent as a record batch of their own.
OWN_BATCH_MIN = 16


class KafkaUnavailable(Exception):
    """Kafka did not acknowledge every event of a request in time; none of them is reported accepted."""


class EventPublisher:
    def __init__(self, settings: IntakeSettings, metrics: IntakeMetrics) -> None:
        self.topic = settings.events_topic
        self.timeout_s = settings.kafka_send_timeout_s
        self.metrics = metrics
        self._producer = AIOKafkaProducer(
            **client_options(settings.kafka),
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

    async def publish(self, records: Sequence[Record], topic: str | None = None) -> None:
        """Send every record (to `topic`, by default the events topic), then wait for all
        acknowledgements; raise `KafkaUnavailable` if any failed or the whole did not finish within
        the send timeout."""
        if not records:
            return
        topic = topic or self.topic
        started = time.perf_counter()
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        futures: list[asyncio.Future[object]] = []
        try:
            async with asyncio.timeout_at(deadline):
                partitions = sorted(await self._producer.partitions_for(topic))
                for partition, group in by_partition(records, _key, partitions).items():
                    futures += await self._send(topic, partition, group)
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

    async def _send(self, topic: str, partition: int, group: list[Record]) -> list[asyncio.Future[object]]:
        """Hand one partition's records to the producer; the futures of their acknowledgements."""
        if len(group) < OWN_BATCH_MIN:
            return [await self._producer.send(topic, value, key, partition=partition) for key, value in group]
        return [
            await self._producer.send_batch(batch, topic, partition=partition)
            for batch, _ in closed_batches(self._producer, group, _record)
        ]

    def _failed(self, count: int, exc: BaseException) -> None:
        self.metrics.kafka_failures.inc()
        log.warning("kafka write failed", extra={"events": count, "error": repr(exc), "topic": self.topic})


def _key(record: Record) -> bytes:
    return record[0]


def _record(record: Record) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return record[0], record[1], NO_HEADERS


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled():
        future.exception()
