"""Request limits: body size (413), events per batch (422) and a per-key request rate (429)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from dossier_runtime.problems import Problem


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def body_too_large(limit: int) -> Problem:
    return Problem(413, "Request body too large", f"The body may be at most {limit} bytes.")


def batch_too_large(count: int, limit: int) -> Problem:
    message = f"a batch holds at most {limit} events; this one has {count}"
    return Problem(
        422,
        "Batch too large",
        f"Split the batch into requests of at most {limit} events.",
        errors=[{"field": "events", "message": message}],
    )


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key name: `rate` requests a second on average, bursts of `burst`.

    `rate == 0` turns limiting off. Buckets live in this process only: with N instances behind a
    load balancer a key gets up to N times the rate.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, key_name: str) -> float:
        """Take one token; return 0 when allowed, else the seconds until a token is available."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key_name)
        if bucket is None:
            bucket = self._buckets[key_name] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def check(self, key_name: str) -> None:
        wait = self.acquire(key_name)
        if wait > 0:
            raise Problem(
                429,
                "Too many requests",
                "This API key is over its request rate; retry after the given delay.",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
