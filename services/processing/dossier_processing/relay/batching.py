"""A round of the relay as record batches: the round's rows grouped by the partition their key goes to
(`dossier_runtime.record_batches`, the producer's own choice), in outbox order, packed into the
producer's batches (`create_batch`) and submitted one partition after the other in turn
(`send_batch`). One future per batch instead of one per record through `send()`: the same records
in the same order on each partition, for far less work per record.

A row whose record the producer would refuse as larger than its maximum request size is not batched:
the relay sends it alone through `send()`, which refuses it as before (and the relay parks it)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from dossier_processing.relay.recovery import headers_of
from dossier_processing.relay.sql import OutboxRow
from dossier_runtime.record_batches import by_partition, closed_batches


@dataclass
class Batch:
    """Records for one partition, in outbox order, in one of the producer's batch builders."""

    partition: int
    builder: Any  # aiokafka's BatchBuilder
    rows: list[OutboxRow]


def split_oversized(
    rows: Sequence[OutboxRow], max_request_size: int
) -> tuple[list[OutboxRow], list[OutboxRow]]:
    """The rows whose record the producer's `send()` refuses as too large (`MessageSizeTooLargeError`,
    by its own estimate), and the others, each in outbox order."""
    oversized: list[OutboxRow] = []
    fitting: list[OutboxRow] = []
    estimate = DefaultRecordBatchBuilder.estimate_size_in_bytes
    for row in rows:
        size = estimate(row.dossier_code.encode(), row.payload, headers_of(row))
        (oversized if size > max_request_size else fitting).append(row)
    return oversized, fitting


def batches(producer: AIOKafkaProducer, rows: Sequence[OutboxRow], partitions: Sequence[int]) -> list[Batch]:
    """The rows' records packed into closed batches (ready to send at once, no linger), in the order
    to submit them: the first batch of each partition, then the second of each, and so on."""
    queues = [
        [Batch(partition, builder, held) for builder, held in closed_batches(producer, group, _record)]
        for partition, group in by_partition(rows, _key, partitions).items()
    ]
    return list(_in_turn(queues))


def _key(row: OutboxRow) -> bytes:
    return row.dossier_code.encode()


def _record(row: OutboxRow) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return row.dossier_code.encode(), row.payload, headers_of(row)


def _in_turn(queues: list[list[Batch]]) -> Iterator[Batch]:
    for i in range(max(map(len, queues), default=0)):
        for queue in queues:
            if i < len(queue):
                yield queue[i]
