"""Per-key token bucket."""

from __future__ import annotations

import pytest

from dossier_intake.limits import RateLimiter
from dossier_runtime.problems import Problem


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_the_steady_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("b") == 0.0  # each key has its own bucket


def test_the_bucket_never_holds_more_than_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10.0, burst=2, clock=clock)
    limiter.acquire("a")
    clock.now += 3600
    assert [limiter.acquire("a") for _ in range(3)][2] > 0


def test_check_raises_429_with_a_whole_retry_after() -> None:
    limiter = RateLimiter(rate=0.1, burst=1, clock=Clock())
    limiter.check("a")
    with pytest.raises(Problem) as caught:
        limiter.check("a")
    assert caught.value.status == 429
    assert caught.value.headers == {"Retry-After": "10"}


def test_rate_zero_turns_limiting_off() -> None:
    limiter = RateLimiter(rate=0, burst=1, clock=Clock())
    assert all(limiter.acquire("a") == 0.0 for _ in range(1000))
