"""Dead letters: messages set aside go to `dossier.events.dlq.v1` with their original bytes and key, and
headers naming the reason, the error, the event id (when it could be read) and their origin; the stream
goes on without them. `dossier-processing dlq list|replay` reads them back (see `dlq_cli.py`)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from dossier_processing.ingest.decode import Rejected
from dossier_processing.observability import Metrics

log = logging.getLogger(__name__)

REASON_HEADER = "dlq-reason"
ERROR_HEADER = "dlq-error"
EVENT_ID_HEADER = "dlq-event-id"
SOURCE_TOPIC_HEADER = "dlq-source-topic"
SOURCE_PARTITION_HEADER = "dlq-source-partition"
SOURCE_OFFSET_HEADER = "dlq-source-offset"
TRUNCATED_HEADER = "dlq-truncated-from"
#: A dead letter must fit the topic's default 1 MiB record limit with its headers; a bigger original
#: (only a hostile producer writes one) keeps its first bytes and says how long it was.
MAX_RECORD_BYTES = 1_000_000
MAX_KEY_BYTES = 1024


def _fitted(item: Rejected) -> tuple[bytes | None, bytes]:
    """The key and value to publish: the originals, cut when their sum would not fit a record."""
    key, value = item.key, item.raw
    if len(key or b"") + len(value) <= MAX_RECORD_BYTES:
        return key, value
    key = key[:MAX_KEY_BYTES] if key is not None else None
    return key, value[: MAX_RECORD_BYTES - len(key or b"")]


def dlq_headers(item: Rejected) -> list[tuple[str, bytes]]:
    headers = [
        (REASON_HEADER, item.reason.value.encode()),
        (ERROR_HEADER, item.error[:2000].encode()),
        (SOURCE_TOPIC_HEADER, item.topic.encode()),
        (SOURCE_PARTITION_HEADER, str(item.partition).encode()),
        (SOURCE_OFFSET_HEADER, str(item.offset).encode()),
    ]
    if item.event_id:
        headers.append((EVENT_ID_HEADER, item.event_id[:200].encode()))
    if len(item.key or b"") + len(item.raw) > MAX_RECORD_BYTES:
        headers.append((TRUNCATED_HEADER, f"{len(item.key or b'')}+{len(item.raw)}".encode()))
    return headers


class DeadLetters:
    def __init__(self, producer: AIOKafkaProducer, topic: str, metrics: Metrics) -> None:
        self.producer = producer
        self.topic = topic
        self.metrics = metrics

    async def send(self, rejected: Sequence[Rejected]) -> None:
        """Publish and wait for the broker's acknowledgement of every dead letter, then count them."""
        if not rejected:
            return
        futures = []
        for item in rejected:
            key, value = _fitted(item)
            futures.append(
                await self.producer.send(self.topic, value=value, key=key, headers=dlq_headers(item))
            )
        await asyncio.gather(*futures)
        for reason, n in Counter(item.reason for item in rejected).items():
            self.metrics.dlq.labels(reason.value).inc(n)
        for item in rejected:
            log.warning(
                "message sent to the DLQ",
                extra={
                    "reason": item.reason.value,
                    "error": item.error,
                    "event_id": item.event_id,
                    "partition": item.partition,
                    "offset": item.offset,
                },
            )
