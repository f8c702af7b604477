"""Dead letters: messages that cannot be applied go to `dossier.events.dlq.v1` with their original
bytes and key, the error and their origin in headers; the stream goes on without them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from dossier_processing.batch import Rejected
from dossier_processing.observability import Metrics

log = logging.getLogger(__name__)


def dlq_headers(item: Rejected, reason: str) -> list[tuple[str, bytes]]:
    return [
        ("dlq-reason", reason.encode()),
        ("dlq-error", item.error[:2000].encode()),
        ("dlq-source-topic", item.topic.encode()),
        ("dlq-source-partition", str(item.partition).encode()),
        ("dlq-source-offset", str(item.offset).encode()),
    ]


class DeadLetters:
    def __init__(self, producer: AIOKafkaProducer, topic: str, metrics: Metrics) -> None:
        self.producer = producer
        self.topic = topic
        self.metrics = metrics

    async def send(self, rejected: Sequence[Rejected], reason: str) -> None:
        """Publish and wait for the broker's acknowledgement of every dead letter."""
        if not rejected:
            return
        futures = [
            await self.producer.send(
                self.topic, value=item.raw, key=item.key, headers=dlq_headers(item, reason)
            )
            for item in rejected
        ]
        await asyncio.gather(*futures)
        self.metrics.dlq.labels(reason).inc(len(rejected))
        for item in rejected:
            log.warning(
                "message sent to the DLQ",
                extra={
                    "reason": reason,
                    "error": item.error,
                    "partition": item.partition,
                    "offset": item.offset,
                },
            )
