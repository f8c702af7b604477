"""Filing: each named period (month, quarter, first six months, year; `dossier_core.periods`) is
frozen at its filing instant, by default the end of the 3rd day after it closes, with what the system
knew at that instant (`report_store.ReportStore.file`: the report `as_of` the filing instant, kept per
agency, procedure and field). A closed period is then served as filed, with its revisions.

The freezer files, at each check, every named period whose filing instant has passed by at least
`METRICS_FILING_SETTLE_S` (so the events accepted before it have been projected) and came after the
first event the system learned of: a period that closed before the system knew anything (history
replayed later) is filed only on an operator's word (`dossier-metrics file --period P`), because a
copy frozen at its filing instant would be empty."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from dossier_core.periods import Period, closed_named_periods, filing_deadline
from dossier_metrics.report_store import Filing, ReportStore

log = logging.getLogger(__name__)


class Freezer:
    """Files the named periods whose filing instant has come (see the module's docstring)."""

    def __init__(
        self, store: ReportStore, delay: timedelta, settle: timedelta, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.delay = delay
        self.settle = settle
        self.clock = clock

    def deadline(self, period: Period) -> datetime:
        return filing_deadline(period, self.delay)

    async def file_due(self) -> list[Filing]:
        """File every period due and not yet filed; returns the filings made now."""
        first = await self.store.first_known()
        if first is None:
            return []
        filed = []
        for period in closed_named_periods(first, self.clock() - self.settle, self.delay):
            if await self.store.filing(period.label) is None:
                deadline = self.deadline(period)
                filed.append(await self.store.file(period, deadline, deadline))
                log.info("filed a period", extra={"period": period.label, "filed_at": deadline.isoformat()})
        return filed

    async def run_forever(self, every_s: float) -> None:
        while True:
            try:
                await self.file_due()
            except Exception:  # the database may be away; the next check tries again
                log.exception("could not file the periods due")
            await asyncio.sleep(every_s)
