"""The overview's figures per agency, read from the projection's tables in PostgreSQL (so every
instance of the service shows the same numbers, whatever partitions it owns):

- received today and in the current period, by channel, and resolved in the current period, early /
  on time / late, with the on-time rate of each of the last months: the facts' counts per agency and
  statutory month (`console_agency_month`, migration 0009) and per agency and day for today
  (`console_agency_day`, 0007), of receipt or end, kept by triggers on `report_fact` in the
  transaction that writes the facts, so a page reads O(agencies x months), not the dossiers;
- pending now, in time / overdue / paused, and due soon (the open dossiers, migration 0003).

Each figure follows the rules of the report and live APIs: a day or a period counts as the report of
that range does (`dossier_core.report`), and "now" as `/v1/stats/live` does (`dossier_core.dossier`):
an open dossier is judged from its stored report facts when no pause spans the instant, and by the
domain from its stored snapshot otherwise (`open_dossiers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.periods import CUTOFF_DAY, Period, parse_period
from dossier_metrics.console.open_dossiers import OpenDossiers, prepared_cache, read_open
from dossier_metrics.counters import CHANNELS

#: How many statutory months the on-time trend shows (the current one last).
TREND_MONTHS = 6
RESOLVED = ("early", "on_time", "late")


def statutory_month(day: date) -> Period:
    """The reporting month holding `day` (the 15th opens the next one)."""
    year, month = (day.year, day.month) if day.day <= CUTOFF_DAY else (day.year, day.month + 1)
    if month == 13:
        year, month = year + 1, 1
    return parse_period(f"{year:04d}-{month:02d}")


def current_quarter(day: date) -> Period:
    month = statutory_month(day)
    year, number = int(month.label[:4]), int(month.label[5:])
    return parse_period(f"{year:04d}-Q{(number - 1) // 3 + 1}")


def trend_months(day: date, count: int = TREND_MONTHS) -> list[Period]:
    """The `count` reporting months ending with the one holding `day`, oldest first."""
    months = [statutory_month(day)]
    while len(months) < count:
        months.append(statutory_month(months[-1].start - timedelta(days=1)))
    return list(reversed(months))


@dataclass
class Figures:
    """One agency's (or a sum of agencies') overview figures."""

    today: list[int] = field(default_factory=lambda: [0, 0, 0])  # by CHANNELS
    period: list[int] = field(default_factory=lambda: [0, 0, 0])  # by CHANNELS
    resolved: list[int] = field(default_factory=lambda: [0, 0, 0])  # early, on time, late
    in_time: int = 0
    overdue: int = 0
    paused: int = 0
    due_soon: int = 0
    #: per trend month: (resolved early or on time, resolved)
    trend: list[list[int]] = field(default_factory=lambda: [[0, 0] for _ in range(TREND_MONTHS)])

    def add(self, other: Figures) -> None:
        for mine, theirs in ((self.today, other.today), (self.period, other.period)):
            for k in range(3):
                mine[k] += theirs[k]
        for k in range(3):
            self.resolved[k] += other.resolved[k]
        self.in_time += other.in_time
        self.overdue += other.overdue
        self.paused += other.paused
        self.due_soon += other.due_soon
        for month, theirs in zip(self.trend, other.trend, strict=True):
            month[0] += theirs[0]
            month[1] += theirs[1]

    @property
    def today_total(self) -> int:
        return sum(self.today)

    @property
    def period_total(self) -> int:
        return sum(self.period)

    @property
    def resolved_total(self) -> int:
        return sum(self.resolved)

    @property
    def pending_total(self) -> int:
        return self.in_time + self.overdue

    @property
    def on_time_rate(self) -> float | None:
        """Resolved early or on time ÷ resolved, in the current period (None: nothing resolved)."""
        total = self.resolved_total
        return (self.resolved[0] + self.resolved[1]) / total if total else None

    @property
    def rates(self) -> list[float | None]:
        return [good / total if total else None for good, total in self.trend]

    def is_zero(self) -> bool:
        return not (
            any(self.today) or any(self.period) or any(self.resolved) or self.pending_total or self.paused
        )


# $1 the period's first day, $2 its last, $3 today, $4 agencies (NULL: all). The console's tables
# (migrations 0007, 0009) hold per agency and statutory month, and per agency and day (Vietnam time),
# what `report_fact` counts by receipt; a period is whole statutory months.
_RECEIVED = f"""SELECT agency_code, {", ".join(f"sum(received_{c})::bigint" for c in CHANNELS)}, 0
FROM console_agency_month
WHERE month >= $1 AND month <= $2 AND ($4::text[] IS NULL OR agency_code = ANY($4::text[]))
GROUP BY 1
UNION ALL
SELECT agency_code, {", ".join(f"sum(received_{c})::bigint" for c in CHANNELS)}, 1
FROM console_agency_day
WHERE day >= $3 AND day <= $2 AND ($4::text[] IS NULL OR agency_code = ANY($4::text[]))
GROUP BY 1"""
# $1 the trend's first month, $2 the period's last day, $3 the period's first day, $4 agencies, $5 the
# trend months' first days. The report counts an ended dossier in the period it ended in when it was
# received before the period's end; the table holds those by the statutory month they ended in (the
# period's months after the current one too: ends a clock behind the data may see). One row per
# agency: resolved early, on time and late in the period, then per trend month (resolved early or on
# time, resolved).
_GOOD = "resolved_early + resolved_on_time"
_ALL = "resolved_early + resolved_on_time + resolved_late"
_IN_PERIOD = [f"coalesce(sum(resolved_{t}) FILTER (WHERE month >= $3), 0)::bigint" for t in RESOLVED]
_BY_MONTH = [
    f"coalesce(sum({what}) FILTER (WHERE month = ($5::date[])[{k + 1}]), 0)::bigint"
    for k in range(TREND_MONTHS)
    for what in (_GOOD, _ALL)
]
_RESOLVED = f"""SELECT agency_code, {", ".join(_IN_PERIOD + _BY_MONTH)}
FROM console_agency_month
WHERE month >= $1 AND month <= $2 AND ($4::text[] IS NULL OR agency_code = ANY($4::text[]))
GROUP BY 1"""


async def overview_figures(
    engine: AsyncEngine,
    calendar: WorkingCalendar,
    agencies: Sequence[str] | None,
    now: datetime,
) -> tuple[dict[str, Figures], Period, list[Period]]:
    """Figures per agency code (only agencies with a figure), the current period, the trend months."""
    local = now.astimezone(VN_TZ)
    period = current_quarter(local.date())
    months = trend_months(local.date())
    listed = sorted(agencies) if agencies is not None else None
    figures: dict[str, Figures] = {}

    def of(code: str) -> Figures:
        found = figures.get(code)
        if found is None:
            found = figures[code] = Figures()
        return found

    async with engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        async with driver.transaction(isolation="repeatable_read", readonly=True):
            for agency, *received, today in await driver.fetch(
                _RECEIVED, period.start, period.end, local.date(), listed
            ):
                into = of(agency).today if today else of(agency).period
                for k in range(len(CHANNELS)):
                    into[k] += received[k]
            starts = [m.start for m in months]
            for agency, *counts in await driver.fetch(
                _RESOLVED, starts[0], period.end, period.start, listed, starts
            ):
                target = of(agency)
                target.resolved = counts[:3]
                target.trend = [counts[3 + 2 * k : 5 + 2 * k] for k in range(TREND_MONTHS)]
            opened = await read_open(driver, calendar, listed, now, prepared_cache(engine))
    _add_open(opened, of)
    return figures, period, months


def _add_open(opened: OpenDossiers, of: Any) -> None:
    for agency, state in opened.counts.items():
        target = of(agency)
        target.in_time += state.in_time
        target.overdue += state.overdue
        target.paused += state.paused
        target.due_soon += state.due_soon
