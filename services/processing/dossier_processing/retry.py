"""Retrying work that waits on PostgreSQL or Kafka: an outage only delays, it never drops work.

Only transient failures are retried. A `DeterministicFailure` (the same input would fail again) is
raised to the caller at once, which sets the offending input aside.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import Counter

from dossier_processing.ingest.failures import DeterministicFailure, describe

log = logging.getLogger(__name__)
T = TypeVar("T")


class Stall:
    """Since when a worker has been unable to progress (`since` is None while it progresses): set by the
    first failed attempt, cleared by the next success. `/readyz` and `/metrics` read it."""

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


async def until_done(
    what: str,
    action: Callable[[], Awaitable[T]],
    *,
    retries: Counter | None = None,
    max_backoff_s: float = 10.0,
    first_backoff_s: float = 0.2,
    stall: Stall | None = None,
) -> T:
    """Run `action` until it succeeds, doubling the pause between attempts up to `max_backoff_s`.
    A `DeterministicFailure` is not retried: it propagates (an answer, so not a stall)."""
    delay = first_backoff_s
    while True:
        try:
            result = await action()
        except asyncio.CancelledError:
            raise
        except DeterministicFailure:
            if stall is not None:  # the database answered: the worker progresses by setting input aside
                stall.cleared()
            raise
        except Exception as exc:
            if retries is not None:
                retries.inc()
            if stall is not None:
                stall.failed()
            log.warning(f"cannot {what}; retrying", extra={"error": describe(exc), "in_s": delay})
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff_s)
        else:
            if stall is not None:
                stall.cleared()
            return result
