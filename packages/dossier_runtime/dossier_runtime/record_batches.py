"""Records grouped by partition and packed into closed producer batches, for a caller that sends
many records at once with `send_batch` (intake's large requests, the outbox relay's rounds): one
acknowledgement future per batch instead of one per record, and no accumulator work per record.

`by_partition` picks the partition the producer's default partitioner would (`partitioning`), so the
records of a key land where `send()` would have put them; `closed_batches` keeps their order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer

from dossier_runtime.partitioning import partition_of

T = TypeVar("T")
#: key, value and headers of a record (the batch builder takes headers as a list only)
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]
#: the headers of a record without any (never changed: shared, like aiokafka's own default)
NO_HEADERS: list[tuple[str, bytes]] = []


def by_partition(
    items: Sequence[T], key_of: Callable[[T], bytes], partitions: Sequence[int]
) -> dict[int, list[T]]:
    """The items of each partition (among the topic's `partitions`, sorted), in their order. A key met
    again is not hashed again (a request often holds several events of one dossier)."""
    of_key: dict[bytes, int] = {}
    groups: dict[int, list[T]] = {}
    for item in items:
        key = key_of(item)
        partition = of_key.get(key)
        if partition is None:
            partition = of_key[key] = partition_of(key, partitions)
        group = groups.get(partition)
        if group is None:
            groups[partition] = [item]
        else:
            group.append(item)
    return groups


def closed_batches(
    producer: AIOKafkaProducer, items: Sequence[T], record_of: Callable[[T], Record]
) -> list[tuple[Any, list[T]]]:
    """One partition's items as records, in order, in as many of the producer's batches as they need,
    each closed (sent at once: nothing more will come for it to linger for), with the items it holds."""
    batches: list[tuple[Any, list[T]]] = [(producer.create_batch(), [])]
    for item in items:
        key, value, headers = record_of(item)
        builder, held = batches[-1]
        if builder.append(timestamp=None, key=key, value=value, headers=headers) is None:  # full
            builder, held = producer.create_batch(), []
            builder.append(timestamp=None, key=key, value=value, headers=headers)  # the first fits
            batches.append((builder, held))
        held.append(item)
    for builder, _ in batches:
        builder.close()
    return batches
