"""The background workers of one instance (consumer, outbox relay, push worker): started as tasks, told to
stop on shutdown (and cancelled if they do not stop in time), and reported to `/readyz`: each must still
be running, and a worker that can stall (the consumer) must be progressing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class _Worker:
    name: str
    stop: Callable[[], None]
    task: asyncio.Task[None]
    progressing: Callable[[], bool] | None


class Workers:
    """The background tasks of one app instance."""

    def __init__(self) -> None:
        self._workers: list[_Worker] = []

    @property
    def names(self) -> list[str]:
        return [w.name for w in self._workers]

    def start(
        self,
        name: str,
        stop: Callable[[], None],
        work: Coroutine[Any, Any, None],
        *,
        progressing: Callable[[], bool] | None = None,
    ) -> None:
        """Run `work` as a task; `stop()` asks it to finish, `progressing()` says whether it is stalled."""
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(_report_crash)
        self._workers.append(_Worker(name, stop, task, progressing))

    async def stop(self, timeout_s: float) -> None:
        for worker in self._workers:
            worker.stop()
        tasks = [w.task for w in self._workers]
        _done, pending = await asyncio.wait(tasks, timeout=timeout_s) if tasks else (set(), set())
        for task in pending:
            log.warning("worker did not stop in time; cancelling", extra={"worker": task.get_name()})
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)

    def alive(self) -> bool:
        return all(not w.task.done() for w in self._workers)

    def progress(self) -> dict[str, bool]:
        """Per worker that can stall: whether it is progressing (False once it has retried too long)."""
        return {w.name: w.progressing() for w in self._workers if w.progressing is not None}


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("worker stopped on an error", extra={"worker": task.get_name()}, exc_info=task.exception())
