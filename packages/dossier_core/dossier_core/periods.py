"""Reporting periods with the statutory cut-off on the 14th (Decree 09/2019/NĐ-CP)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dossier_core.calendar import VN_TZ

__all__ = ["CUTOFF_DAY", "Period", "parse_period"]

#: A reporting month closes on this day; the next one opens the day after.
CUTOFF_DAY = 14

_NAMED = re.compile(r"^(?P<year>\d{4})(?:-(?:Q(?P<quarter>[1-4])|(?P<month>\d{2})))?$")


@dataclass(frozen=True)
class Period:
    """Dates `start`..`end`, both included, in Vietnam time."""

    start: date
    end: date
    label: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period {self.label!r} ends ({self.end}) before it starts ({self.start})")

    @property
    def start_instant(self) -> datetime:
        """Midnight opening the first day (included)."""
        return datetime.combine(self.start, time(0), tzinfo=VN_TZ)

    @property
    def end_instant(self) -> datetime:
        """Midnight after the last day (excluded): pending is judged here."""
        return datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=VN_TZ)

    def contains(self, t: datetime) -> bool:
        return self.start_instant <= t < self.end_instant

    @classmethod
    def between(cls, start: date, end: date) -> Period:
        """An explicit period, e.g. from a report's `from`/`to`."""
        return cls(start, end, f"{start.isoformat()}..{end.isoformat()}")


def _month_period(year: int, month: int) -> tuple[date, date]:
    """The reporting month `month`: 15th of the previous month to the 14th of `month`."""
    prev_year, prev_month = (year - 1, 12) if month == 1 else (year, month - 1)
    return date(prev_year, prev_month, CUTOFF_DAY + 1), date(year, month, CUTOFF_DAY)


def parse_period(text: str) -> Period:
    """`2021` (2020-12-15..2021-12-14), `2021-Q2` (2021-03-15..2021-06-14) or `2021-04`
    (2021-03-15..2021-04-14)."""
    match = _NAMED.match(text.strip())
    if match is None:
        raise ValueError(f"period {text!r} is not YYYY, YYYY-Qn (n = 1..4) or YYYY-MM")
    year = int(match["year"])
    if year < 1:
        raise ValueError(f"period {text!r}: year must be 0001 or later")
    label = text.strip()
    if match["quarter"]:
        last_month = int(match["quarter"]) * 3
        start, _ = _month_period(year, last_month - 2)
        _, end = _month_period(year, last_month)
    elif match["month"]:
        month = int(match["month"])
        if not 1 <= month <= 12:
            raise ValueError(f"period {text!r}: month must be 01..12")
        start, end = _month_period(year, month)
    else:
        start, _ = _month_period(year, 1)
        _, end = _month_period(year, 12)
    return Period(start, end, label)
