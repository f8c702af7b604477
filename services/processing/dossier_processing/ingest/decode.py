"""From Kafka records to domain events: the first, pure step of a batch.

`decode_messages` turns each record into an `Incoming` event (with where it came from) or a `Rejected`
one for the dead-letter topic: undecodable bytes, or an event outside the SPEC §3 bounds (`bounds.py`).
The later steps set events aside as `Rejected` too (`Rejected.of`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from dossier_contracts.event_codec import decode_event
from dossier_contracts.snapshot_codec import event_from_proto
from dossier_core.events import DossierEvent
from dossier_processing.ingest.bounds import out_of_bounds
from dossier_processing.ingest.failures import Reason, describe


class KafkaRecord(Protocol):
    """What the batch needs of an aiokafka `ConsumerRecord`."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp(self) -> int: ...


@dataclass(frozen=True)
class Incoming:
    """A decoded event with where it came from."""

    event: DossierEvent
    raw: bytes
    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    #: the record's Kafka timestamp (ms): when intake's producer sent it, i.e. accepted the event
    accepted_ms: int | None = None


@dataclass(frozen=True)
class Rejected:
    """A message set aside: it goes to the DLQ with its original bytes and key, the reason and the error."""

    raw: bytes
    key: bytes | None
    topic: str
    partition: int
    offset: int
    reason: Reason
    error: str
    event_id: str | None = None

    @classmethod
    def of(cls, item: Incoming, reason: Reason, error: str) -> Rejected:
        return cls(
            item.raw, item.key, item.topic, item.partition, item.offset, reason, error, item.event.event_id
        )


def decode_messages(records: Iterable[KafkaRecord]) -> tuple[list[Incoming], list[Rejected]]:
    """Domain events from raw records; anything undecodable or outside the bounds becomes a `Rejected`."""
    incoming: list[Incoming] = []
    rejected: list[Rejected] = []
    for record in records:
        raw = record.value or b""
        try:
            event = event_from_proto(decode_event(raw))
        except Exception as exc:  # any failure to read one message must not stop the stream
            rejected.append(
                Rejected(
                    raw,
                    record.key,
                    record.topic,
                    record.partition,
                    record.offset,
                    Reason.UNDECODABLE,
                    describe(exc),
                )
            )
            continue
        item = Incoming(
            event, raw, record.topic, record.partition, record.offset, record.key, record.timestamp
        )
        problem = out_of_bounds(event)
        if problem is not None:
            rejected.append(Rejected.of(item, Reason.OUT_OF_BOUNDS, problem))
            continue
        incoming.append(item)
    return incoming, rejected
