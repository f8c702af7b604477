"""At most N reports at once. A report is CPU and database work proportional to the dossiers of its
period; one more than the limit is refused at once (503 with `Retry-After`) rather than queued, so a
burst of report requests never piles up work, and the consumer keeps its share of the event loop."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dossier_runtime.problems import Problem

#: Why a report was answered 503: the limit was reached, a query hit the statement timeout, or the
#: database did not answer (or no connection of the readers' pool became free in time).
REFUSAL_REASONS = ("busy", "timeout", "database")


class ReportGate:
    def __init__(self, limit: int, retry_after_s: int) -> None:
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.running = 0
        self.refused: Counter[str] = Counter()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.running >= self.limit:
            self.refused["busy"] += 1
            raise Problem(
                503,
                "Too many reports at once",
                f"At most {self.limit} reports run at the same time (METRICS_REPORT_CONCURRENCY); "
                f"try again in {self.retry_after_s} s.",
                headers={"Retry-After": str(self.retry_after_s)},
            )
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
