"""The one retry policy of the services: work that waits on PostgreSQL or Kafka is tried again, with
a pause that doubles up to a bound, until it succeeds. An outage only delays; it never drops work.

Only transient failures are retried. An exception of a `fatal` type (the same input would fail
again) is raised to the caller at once, which sets the offending input aside. Cancellation is never
retried. The loop itself is tenacity's; this module only fixes the policy and what a failure tells
the operator (one warning per attempt, an optional Prometheus counter, an optional `Stall`). A
worker's own loop that must keep going (it reconnects rather than returns) paces itself with a
`Streak` of the same `Backoff`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_never

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Pauses of `first_s`, twice that, four times, … never longer than `max_s`."""

    first_s: float = 0.25
    max_s: float = 5.0

    def pause(self, failures: int) -> float:
        """The pause after the `failures`-th failure in a row (1, 2, …)."""
        doublings = min(max(failures, 1) - 1, 64)
        return min(self.max_s, self.first_s * 2.0**doublings)

    def wait(self, state: RetryCallState) -> float:
        """The pause as tenacity asks for it."""
        return self.pause(state.attempt_number)


class Streak:
    """The failures in a row of a loop that retries on its own and never gives up (a worker's main
    loop): each failure gives the next pause of `backoff`; a success starts again from the first."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self.failures = 0

    def failed(self) -> float:
        """Count one more failure and give the pause to take before the next attempt."""
        self.failures += 1
        return self.backoff.pause(self.failures)

    def succeeded(self) -> None:
        self.failures = 0


class Stall:
    """Since when a worker has been unable to progress (`since` is None while it progresses): set by the
    first failed attempt, cleared by the next answer. `/readyz` and `/metrics` read it."""

    def __init__(self) -> None:
        self.since: float | None = None

    def failed(self) -> None:
        if self.since is None:
            self.since = time.time()

    def cleared(self) -> None:
        self.since = None

    def seconds(self) -> float:
        """How long the worker has been stalled (0 while it progresses)."""
        return 0.0 if self.since is None else max(0.0, time.time() - self.since)


class Increments(Protocol):
    """What counts the retries (a `prometheus_client.Counter`)."""

    def inc(self, amount: float = 1) -> None: ...


def describe(exc: BaseException) -> str:
    """`ErrorType: message`, as a failure is logged."""
    return f"{type(exc).__name__}: {exc}"


async def until_done(
    what: str,
    action: Callable[[], Awaitable[T]],
    backoff: Backoff = Backoff(),
    *,
    fatal: tuple[type[BaseException], ...] = (),
    retries: Increments | None = None,
    stall: Stall | None = None,
    explain: Callable[[BaseException], str] = describe,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run `action` until it succeeds, pausing `backoff` between attempts, and return its result.

    Each failed attempt logs `cannot <what>; retrying` (with `explain(error)` and the pause), counts
    in `retries` and marks `stall` failed. An exception of a `fatal` type propagates at once: the
    dependency answered, so it clears `stall`, as a success does."""

    async def attempt() -> T:  # a coroutine function, whatever `action` is (e.g. a lambda)
        return await action()

    def transient(exc: BaseException) -> bool:
        return isinstance(exc, Exception) and not isinstance(exc, fatal)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        if retries is not None:
            retries.inc()
        if stall is not None:
            stall.failed()
        log.warning(
            f"cannot {what}; retrying",
            extra={"error": explain(error) if error else "", "in_s": state.upcoming_sleep},
        )

    attempts = AsyncRetrying(
        retry=retry_if_exception(transient),
        wait=backoff.wait,
        stop=stop_never,
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
    try:
        result: T = await attempts(attempt)
    except fatal:
        if stall is not None:
            stall.cleared()
        raise
    if stall is not None:
        stall.cleared()
    return result
