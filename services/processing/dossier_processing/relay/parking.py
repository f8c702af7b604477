"""Which relay failures park a snapshot and which are retried, and the outcome of one publishing round.

A record the status topic refuses for a reason of its own (too large, or refused by the broker for that
record alone) is *parked*: set aside for an operator, never retried, so one dossier can never stop the
others. Every failure that concerns the topic, the producer or the connection is transient and retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import errors as kafka_errors
from aiokafka.structs import RecordMetadata

from dossier_processing.relay.sql import OutboxRow

#: Non-retriable errors that say nothing about the record itself: the topic, the producer or the
#: connection is at fault, so every record would fail alike. They are retried, never parked.
_NOT_THE_RECORDS_FAULT: tuple[type[Exception], ...] = (
    kafka_errors.KafkaTimeoutError,
    kafka_errors.KafkaUnavailableError,
    kafka_errors.ProducerClosed,
    kafka_errors.ProducerFenced,
    kafka_errors.IllegalStateError,
    kafka_errors.IllegalOperation,
    kafka_errors.KafkaConfigurationError,
    kafka_errors.IncompatibleBrokerVersion,
    kafka_errors.UnsupportedVersionError,
    kafka_errors.AuthenticationFailedError,
    kafka_errors.SaslAuthenticationFailed,
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.ClusterAuthorizationFailedError,
    kafka_errors.TransactionalIdAuthorizationFailed,
    kafka_errors.InvalidTopicError,
    kafka_errors.InvalidRequiredAcksError,
    kafka_errors.OutOfOrderSequenceNumber,
    kafka_errors.InvalidProducerEpoch,
    kafka_errors.InvalidProducerIdMapping,
    kafka_errors.UnknownProducerId,
)
_TOO_LARGE: tuple[type[Exception], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.RecordListTooLargeError,
)


def park_reason(exc: BaseException) -> str | None:
    """Why a record that failed alone can never be published (`too_large`, `rejected`), or None when
    the failure is transient or not the record's own (then it is retried, never parked)."""
    if not isinstance(exc, kafka_errors.KafkaError) or isinstance(exc, _NOT_THE_RECORDS_FAULT):
        return None
    if isinstance(exc, _TOO_LARGE):
        return "too_large"
    return None if exc.retriable else "rejected"


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


@dataclass
class Outcome:
    """What one publishing round did with its rows, and where the published ones ended on the topic:
    `positions` is, per partition, the offset after the last record published there."""

    published: list[OutboxRow] = field(default_factory=list)
    parked: list[tuple[OutboxRow, str, str]] = field(default_factory=list)  # row, reason, error
    positions: dict[int, int] = field(default_factory=dict)

    def delivered(self, rows: Sequence[OutboxRow], metadata: RecordMetadata) -> None:
        """`rows` reached the topic as consecutive records from `metadata.offset` on (one record's
        metadata, or a batch's with its base offset)."""
        self.published.extend(rows)
        end = metadata.offset + len(rows)
        if end > self.positions.get(metadata.partition, 0):
            self.positions[metadata.partition] = end

    def __len__(self) -> int:
        return len(self.published) + len(self.parked)
