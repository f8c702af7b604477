"""The shared retry policy: transient failures are tried again with doubling pauses up to the bound,
a fatal failure and a cancellation are not, and a failure is counted, logged and marks the stall; a
worker loop's streak of failures pauses the same way and starts again after a success."""

from __future__ import annotations

import asyncio
import logging

import pytest

from dossier_runtime.retry import Backoff, Stall, Streak, until_done


class Refused(Exception):
    """The same input would fail again."""


class Flaky:
    """Fails `failures` times with `error`, then answers `result`."""

    def __init__(self, failures: int, error: Exception, result: str = "done") -> None:
        self.failures, self.error, self.result, self.calls = failures, error, result, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.result


class Pauses:
    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


class Count:
    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount


def test_pauses_double_up_to_the_bound() -> None:
    backoff = Backoff(first_s=0.25, max_s=2.0)
    assert [backoff.pause(n) for n in range(1, 7)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert backoff.pause(10_000) == 2.0


def test_a_streak_pauses_longer_up_to_the_bound_and_starts_again_after_a_success() -> None:
    streak = Streak(Backoff(first_s=0.25, max_s=2.0))
    assert [streak.failed() for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert streak.failures == 6
    streak.succeeded()
    assert streak.failures == 0 and streak.failed() == 0.25


async def test_transient_failures_are_retried_until_done(caplog: pytest.LogCaptureFixture) -> None:
    action, pauses, retries, stall = Flaky(4, ConnectionError("refused")), Pauses(), Count(), Stall()
    stalled_meanwhile: list[bool] = []

    async def pause(seconds: float) -> None:
        stalled_meanwhile.append(stall.since is not None)
        await pauses(seconds)

    with caplog.at_level(logging.WARNING, logger="dossier_runtime.retry"):
        result = await until_done(
            "write", action, Backoff(0.1, 0.3), retries=retries, stall=stall, sleep=pause
        )
    assert result == "done" and action.calls == 5
    assert pauses.taken == [0.1, 0.2, 0.3, 0.3]
    assert retries.value == 4 and stalled_meanwhile == [True] * 4 and stall.since is None
    warnings = [r for r in caplog.records if r.getMessage() == "cannot write; retrying"]
    assert len(warnings) == 4
    assert warnings[0].error == "ConnectionError: refused" and warnings[0].in_s == 0.1  # type: ignore[attr-defined]


async def test_an_action_that_returns_an_awaitable_is_awaited_each_time() -> None:
    action = Flaky(2, TimeoutError("slow"))
    assert await until_done("read", lambda: action(), sleep=Pauses()) == "done"
    assert action.calls == 3


async def test_a_fatal_failure_is_raised_at_once_and_clears_the_stall() -> None:
    stall, pauses = Stall(), Pauses()
    stall.failed()
    action = Flaky(1, Refused("no"))
    with pytest.raises(Refused):
        await until_done("write", action, fatal=(Refused,), stall=stall, sleep=pauses)
    assert action.calls == 1 and pauses.taken == [] and stall.since is None


async def test_a_fatal_failure_after_transient_ones_is_raised_then() -> None:
    pauses = Pauses()
    calls = 0

    async def action() -> None:
        nonlocal calls
        calls += 1
        raise (OSError("down") if calls < 3 else Refused("no"))

    with pytest.raises(Refused):
        await until_done("write", action, fatal=(Refused,), sleep=pauses)
    assert calls == 3 and len(pauses.taken) == 2


async def test_cancellation_is_not_retried() -> None:
    started = asyncio.Event()

    async def waits() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(until_done("wait", waits))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_explanation_of_a_failure_is_the_callers() -> None:
    seen: list[BaseException] = []

    def explain(exc: BaseException) -> str:
        seen.append(exc)
        return "explained"

    await until_done("write", Flaky(1, ValueError("bad")), explain=explain, sleep=Pauses())
    assert [str(e) for e in seen] == ["bad"]
