"""Reporting periods with the statutory cut-off on the 14th (Decree 09/2019/NĐ-CP), and the instant a
named period is filed (frozen) by default."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, datetime, time, timedelta

from dossier_core.calendar import VN_TZ

__all__ = [
    "CUTOFF_DAY",
    "FILING_DELAY",
    "Period",
    "closed_named_periods",
    "filing_deadline",
    "named_periods",
    "parse_period",
    "statutory_ends",
]

#: A reporting month closes on this day; the next one opens the day after.
CUTOFF_DAY = 14
#: A named period is filed at the end of the third day after its last day.
FILING_DELAY = timedelta(days=3)
#: Named periods exist for these years (a year's first month starts on 15 December before it).
_FIRST_YEAR, _LAST_YEAR = MINYEAR + 1, MAXYEAR

_NAMED = re.compile(r"^(?P<year>\d{4})(?:-(?:Q(?P<quarter>[1-4])|H(?P<half>1)|(?P<month>\d{2})))?$")


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


def _months(year: int, first: int, last: int, label: str) -> Period:
    """Reporting months `first`..`last` of `year`: from the 15th of the month before `first` to the
    14th of `last`."""
    start = date(year - 1, 12, CUTOFF_DAY + 1) if first == 1 else date(year, first - 1, CUTOFF_DAY + 1)
    return Period(start, date(year, last, CUTOFF_DAY), label)


def parse_period(text: str) -> Period:
    """`2021` (2020-12-15..2021-12-14), `2021-H1` (the first six months, 2020-12-15..2021-06-14),
    `2021-Q2` (2021-03-15..2021-06-14) or `2021-04` (2021-03-15..2021-04-14)."""
    label = text.strip()
    match = _NAMED.match(label)
    if match is None:
        raise ValueError(f"period {text!r} is not YYYY, YYYY-H1, YYYY-Qn (n = 1..4) or YYYY-MM")
    year = int(match["year"])
    if year < _FIRST_YEAR:
        raise ValueError(f"period {text!r}: year must be {_FIRST_YEAR:04d} or later")
    if match["quarter"]:
        last = int(match["quarter"]) * 3
        return _months(year, last - 2, last, label)
    if match["half"]:
        return _months(year, 1, 6, label)
    if match["month"]:
        month = int(match["month"])
        if not 1 <= month <= 12:
            raise ValueError(f"period {text!r}: month must be 01..12")
        return _months(year, month, month, label)
    return _months(year, 1, 12, label)


def filing_deadline(period: Period, delay: timedelta = FILING_DELAY) -> datetime:
    """The instant `period` is filed by default: `delay` after midnight following its last day
    (2021-Q2 ends on 14 June 2021 and is filed at 2021-06-18T00:00+07:00)."""
    return period.end_instant + delay


def named_periods(year: int) -> list[Period]:
    """Every named period of `year` (12 months, 4 quarters, the first six months, the year), in the
    order of their last day, the shorter first where they end together."""
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise ValueError(f"named periods exist for the years {_FIRST_YEAR}..{_LAST_YEAR}, not {year}")
    periods: list[Period] = []
    for month in range(1, 13):
        periods.append(_months(year, month, month, f"{year:04d}-{month:02d}"))
        if month % 3 == 0:
            periods.append(_months(year, month - 2, month, f"{year:04d}-Q{month // 3}"))
        if month == 6:
            periods.append(_months(year, 1, 6, f"{year:04d}-H1"))
    periods.append(_months(year, 1, 12, f"{year:04d}"))
    return periods


def closed_named_periods(since: datetime, until: datetime, delay: timedelta = FILING_DELAY) -> list[Period]:
    """The named periods whose filing deadline lies in (`since`, `until`] (aware instants), ordered by
    deadline. Looks only at the years those deadlines can fall in."""
    if until <= since:
        return []
    first = max(_FIRST_YEAR, (since - delay).astimezone(VN_TZ).year)
    last = min(_LAST_YEAR, (until - delay).astimezone(VN_TZ).year)
    return [
        period
        for year in range(first, last + 1)
        for period in named_periods(year)
        if since < filing_deadline(period, delay) <= until
    ]


def statutory_ends(after: datetime, until: datetime) -> list[datetime]:
    """The instants named periods end at (midnight opening the 15th of a month, Vietnam time) in
    [`after`, `until`), in order: where every monthly, quarterly, six-monthly and yearly report judges
    what is pending."""
    local = after.astimezone(VN_TZ)
    year, month = local.year, local.month
    ends: list[datetime] = []
    while True:
        end = datetime(year, month, CUTOFF_DAY + 1, tzinfo=VN_TZ)
        if end >= until:
            return ends
        if end >= after:
            ends.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
