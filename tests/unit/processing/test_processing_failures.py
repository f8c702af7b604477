"""Deterministic or transient: how database errors are classified, and what the retry loop does with each."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.exc import DBAPIError

from dossier_processing.ingest.failures import (
    DeterministicFailure,
    Reason,
    describe,
    is_deterministic_db_error,
)
from dossier_processing.observability import Metrics
from dossier_runtime.retry import Backoff, Stall, until_done


def wrapped(error: Exception) -> DBAPIError:
    """An asyncpg error as SQLAlchemy raises it (the driver error is the cause)."""
    try:
        raise DBAPIError("insert …", {}, error)
    except DBAPIError as outer:
        outer.__cause__ = error
        return outer


@pytest.mark.parametrize(
    ("error", "deterministic"),
    [
        (asyncpg.NumericValueOutOfRangeError("smallint out of range"), True),
        (asyncpg.CharacterNotInRepertoireError("invalid byte sequence"), True),
        (asyncpg.NotNullViolationError("null value"), True),
        (asyncpg.ProgramLimitExceededError("index row size exceeds maximum"), True),
        (asyncpg.UniqueViolationError("outbox (dossier_code, version)"), False),  # a concurrent writer
        (asyncpg.SerializationError("could not serialize access"), False),
        (asyncpg.DeadlockDetectedError("deadlock detected"), False),
        (asyncpg.AdminShutdownError("terminating connection"), False),
        (asyncpg.CannotConnectNowError("the database system is starting up"), False),
        (asyncpg.UndefinedTableError("relation does not exist"), False),  # not the event's fault
        (ConnectionRefusedError("connection refused"), False),
        (OSError("network unreachable"), False),
    ],
)
def test_database_errors_are_deterministic_only_for_the_values_written(
    error: Exception, deterministic: bool
) -> None:
    assert is_deterministic_db_error(wrapped(error)) is deterministic
    assert is_deterministic_db_error(error) is deterministic


def test_describe_is_one_bounded_line() -> None:
    text = describe(ValueError("a\nb " + "x" * 5000))
    assert text.startswith("ValueError: a b ") and "\n" not in text and len(text) <= 1000


async def test_transient_failures_are_retried_and_mark_a_stall_until_success() -> None:
    stall = Stall()
    attempts: list[float | None] = []

    async def flaky() -> str:
        attempts.append(stall.since)
        if len(attempts) < 3:
            raise ConnectionRefusedError("database down")
        return "done"

    retried = until_done("write", flaky, Backoff(first_s=0.01), fatal=(DeterministicFailure,), stall=stall)
    assert await retried == "done"
    assert attempts[0] is None and attempts[1] is not None and attempts[2] == attempts[1]
    assert stall.since is None and stall.seconds() == 0.0


async def test_deterministic_failures_are_never_retried() -> None:
    stall = Stall()
    stall.failed()
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise DeterministicFailure(Reason.UNSTORABLE, "smallint out of range")

    with pytest.raises(DeterministicFailure) as failure:
        await asyncio.wait_for(until_done("write", refused, fatal=(DeterministicFailure,), stall=stall), 5)
    assert calls == 1 and failure.value.reason is Reason.UNSTORABLE and stall.since is None


def test_every_reason_has_a_dlq_series_from_the_start() -> None:
    text = generate_latest(Metrics(CollectorRegistry()).registry).decode()
    for reason in Reason:
        assert f'processing_dlq_messages_total{{reason="{reason}"}} 0.0' in text
    assert "processing_consumer_stalled_seconds 0.0" in text
