"""Which produce errors park an outbox row (the record's own fault) and which are retried."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import errors

from dossier_processing.relay.parking import describe, park_reason


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (errors.MessageSizeTooLargeError("The message is 2000000 bytes"), "too_large"),
        (errors.RecordListTooLargeError(), "too_large"),
        (errors.RecordTooLargeError(), "too_large"),
        (errors.CorruptRecordException(), "rejected"),
        (errors.InvalidTimestampError(), "rejected"),
        (errors.PolicyViolationError(), "rejected"),
    ],
)
def test_the_records_own_faults_park_it(error: Exception, reason: str) -> None:
    assert park_reason(error) == reason


@pytest.mark.parametrize(
    "error",
    [
        errors.KafkaConnectionError(),  # broker down
        errors.NoBrokersAvailable(),
        errors.RequestTimedOutError(),
        errors.NotLeaderForPartitionError(),
        errors.NotEnoughReplicasError(),
        errors.KafkaTimeoutError(),  # the producer's buffer stayed full
        errors.TopicAuthorizationFailedError(),  # every record would fail alike
        errors.OutOfOrderSequenceNumber(),  # a consequence of another record's refusal
        errors.UnknownProducerId(),
        errors.ProducerFenced(),
        errors.ProducerClosed(),
        errors.UnsupportedVersionError(),
        RuntimeError("not a Kafka error"),
        asyncio.CancelledError(),
    ],
)
def test_transient_or_foreign_failures_are_never_parked(error: BaseException) -> None:
    assert park_reason(error) is None


def test_the_stored_reason_is_bounded() -> None:
    text = describe(errors.MessageSizeTooLargeError("x" * 10_000))
    assert text.startswith("MessageSizeTooLargeError: ") and len(text) == 500
