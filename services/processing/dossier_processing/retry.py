"""Retrying work that waits on PostgreSQL or Kafka: an outage only delays, it never drops work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from prometheus_client import Counter

log = logging.getLogger(__name__)
T = TypeVar("T")


async def until_done(
    what: str,
    action: Callable[[], Awaitable[T]],
    *,
    retries: Counter | None = None,
    max_backoff_s: float = 10.0,
    first_backoff_s: float = 0.2,
) -> T:
    """Run `action` until it succeeds, doubling the pause between attempts up to `max_backoff_s`."""
    delay = first_backoff_s
    while True:
        try:
            return await action()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if retries is not None:
                retries.inc()
            log.warning(
                f"cannot {what}; retrying", extra={"error": f"{type(exc).__name__}: {exc}", "in_s": delay}
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff_s)
