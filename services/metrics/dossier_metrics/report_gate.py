"""At most N reports at once. A report is CPU and database work proportional to the dossiers of its
period; one more than the limit is refused at once (503 with `Retry-After`) rather than queued, so a
burst of report requests never piles up work, and the consumer keeps its share of the event loop.

`ReportGate.guard` is what every report route runs its reads in: a slot of the gate, and a database
error turned into a 503 problem with `Retry-After` (timeout, busy pool or database down), never a 500."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asyncpg.exceptions import InterfaceError, PostgresError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from dossier_metrics.db import QUERY_CANCELED, sqlstate
from dossier_runtime.problems import Problem

#: Why a report was answered 503: the limit was reached, a query hit the statement timeout, or the
#: database did not answer (or no connection of the readers' pool became free in time).
REFUSAL_REASONS = ("busy", "timeout", "database")

#: What a report's reads raise when the database cannot answer: an error PostgreSQL reported (through
#: SQLAlchemy or asyncpg), a lost connection, or no free connection in the readers' pool.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    DBAPIError,
    PoolTimeout,
    OSError,
    PostgresError,
    InterfaceError,
)


def unavailable(title: str, detail: str, retry_after_s: int) -> Problem:
    return Problem(503, title, detail, headers={"Retry-After": str(retry_after_s)})


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

    def database_problem(self, exc: BaseException, statement_timeout_ms: int) -> Problem:
        """The 503 for a report whose reads failed with `exc`, counted by reason."""
        if sqlstate(exc) == QUERY_CANCELED:
            self.refused["timeout"] += 1
            return unavailable(
                "Report timed out",
                f"A report query ran longer than the statement timeout ({statement_timeout_ms} ms); ask "
                "for a shorter period or one agency, or try again later.",
                self.retry_after_s,
            )
        self.refused["database"] += 1
        if isinstance(exc, PoolTimeout):
            return unavailable(
                "Reports busy", "No report connection became free in time.", self.retry_after_s
            )
        return unavailable(
            "Database unavailable", "The report could not be read from the database.", self.retry_after_s
        )

    @asynccontextmanager
    async def guard(self, statement_timeout_ms: int) -> AsyncIterator[None]:
        """A slot of the gate (503 when none is free), and a database error raised inside as a 503."""
        async with self.slot():
            try:
                yield
            except DATABASE_ERRORS as exc:
                raise self.database_problem(exc, statement_timeout_ms) from exc
