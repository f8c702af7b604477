"""Working time in Asia/Ho_Chi_Minh: office hours, weekends, holidays and swap days.

Every instant maps to a position on a "working clock" that only runs during office hours
on working days. Positions come from cumulative working time per day, built once per year,
so adding or measuring working time is a bisect, never a walk over days or minutes.

Years are built lazily, on first use, and only within `FIRST_YEAR`…`LAST_YEAR`: the instants the
contract admits (2000–2099) plus room for deadlines that run past the end of 2099. An instant or a
deadline outside those years raises `CalendarRangeError` at once, so no input can make the calendar
build (and keep) thousands of years.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "BEYOND_CALENDAR",
    "DEFAULT_HOURS",
    "FIRST_YEAR",
    "LAST_YEAR",
    "VN_TZ",
    "CalendarRangeError",
    "WorkingCalendar",
    "WorkingHours",
]

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

#: The years the working calendar can build (SPEC §3 admits instants in 2000–2099; the margin
#: covers deadlines of procedures received late in 2099, up to the catalog's longest duration).
FIRST_YEAR = 1999
LAST_YEAR = 2130


#: Stands for a deadline that falls after the working calendar's last year: later than any instant
#: the contract admits, so a dossier holding it is in time, and finishing before it is early.
BEYOND_CALENDAR = datetime(LAST_YEAR + 1, 1, 1, tzinfo=VN_TZ)


class CalendarRangeError(ValueError):
    """An instant or a deadline outside the years the working calendar covers."""


_US_PER_MINUTE = 60_000_000
_US_PER_DAY = 86_400_000_000
_SATURDAY = 5

Clock = tuple[int, int]


@dataclass(frozen=True)
class WorkingHours:
    """Office hours of a working day, as (start, end) pairs of (hour, minute)."""

    periods: tuple[tuple[Clock, Clock], ...] = (((7, 0), (11, 30)), ((13, 30), (17, 0)))

    def __post_init__(self) -> None:
        previous_end = 0
        for start, end in self.periods:
            s, e = start[0] * 60 + start[1], end[0] * 60 + end[1]
            if not previous_end <= s < e <= 24 * 60:
                raise ValueError(f"working periods must be increasing and within a day: {self.periods}")
            previous_end = e
        if not self.periods:
            raise ValueError("at least one working period is required")

    @property
    def minutes_per_day(self) -> int:
        """Working minutes in one working day (480 for the default hours)."""
        return sum((e[0] * 60 + e[1]) - (s[0] * 60 + s[1]) for s, e in self.periods)

    @property
    def end_of_day(self) -> time:
        """When the working day closes (17:00 by default)."""
        hour, minute = self.periods[-1][1]
        return time(hour, minute) if hour < 24 else time.max


DEFAULT_HOURS = WorkingHours()


class WorkingCalendar:
    """Working days and hours: Monday–Friday office hours, minus statutory holidays (from the
    `holidays` package) and `days_off`, plus the package's and `working_days` swap Saturdays."""

    def __init__(
        self,
        days_off: frozenset[date] = frozenset(),
        working_days: frozenset[date] = frozenset(),
        hours: WorkingHours = DEFAULT_HOURS,
    ) -> None:
        clash = days_off & working_days
        if clash:
            raise ValueError(f"dates both off and working: {sorted(clash)}")
        self.days_off = frozenset(days_off)
        self.working_days = frozenset(working_days)
        self.hours = hours
        self.minutes_per_day = hours.minutes_per_day
        self.end_of_day = hours.end_of_day
        # Periods as microseconds since midnight, and the working time before each one.
        self._starts = [(s[0] * 60 + s[1]) * _US_PER_MINUTE for s, _ in hours.periods]
        self._ends = [(e[0] * 60 + e[1]) * _US_PER_MINUTE for _, e in hours.periods]
        self._before: list[int] = []
        total = 0
        for s, e in zip(self._starts, self._ends, strict=True):
            self._before.append(total)
            total += e - s
        self._day_us = total
        self._periods = tuple(zip(self._starts, self._ends, self._before, strict=True))
        # Per period: working time up to its close, and the shift from working time to time of day.
        self._closings = tuple((b + e - s, s - b) for s, e, b in self._periods)
        self._midnights: dict[int, datetime] = {}
        self._first_year = 0
        self._base = 0  # ordinal of 1 January of the first covered year
        self._anchor: int | None = None  # ordinal of the day whose start is position 0
        self._cum: list[int] = [0]  # working-clock position at the start of each covered day
        self._flags = b""  # 1 per covered working day, aligned with `_cum`
        self._years: dict[int, bytes] = {}

    @property
    def covered_years(self) -> range:
        """The years built so far (contiguous; empty before the first use)."""
        return range(self._first_year, self._first_year + len(self._years))

    # -- days -----------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        index = d.toordinal() - self._base
        if index < 0 or index >= len(self._flags):
            self._cover(d.year)
            index = d.toordinal() - self._base
        return self._flags[index] == 1

    def is_working_moment(self, t: datetime) -> bool:
        """Whether `t` falls inside office hours of a working day."""
        return self.next_working_moment(t) == t

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after `d`."""
        day = d + timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    # -- instants -------------------------------------------------------------

    def next_working_moment(self, t: datetime) -> datetime:
        """`t` itself if it falls in office hours, else the next opening."""
        return self._instant(self._position(t), start_of_gap=False)

    def add_working_minutes(self, t: datetime, minutes: int) -> datetime:
        """The instant when `minutes` of working time have run from `t`.

        Adding 0 gives the next working moment; a result that falls exactly at a closing
        time stays there (17:00, not the next morning)."""
        if minutes < 0:
            raise ValueError(f"cannot add a negative working time ({minutes} minutes)")
        position = self._position(t)
        if minutes == 0:
            return self._instant(position, start_of_gap=False)
        return self._instant(position + minutes * _US_PER_MINUTE, start_of_gap=True)

    def working_minutes_between(self, a: datetime, b: datetime) -> int:
        """Whole working minutes from `a` to `b` (negative when `b` is before `a`)."""
        delta = self._position(b) - self._position(a)
        return delta // _US_PER_MINUTE if delta >= 0 else -(-delta // _US_PER_MINUTE)

    # -- the working clock ----------------------------------------------------

    def _position(self, t: datetime) -> int:
        if t.tzinfo is None:
            raise ValueError(f"a timezone-aware instant is required, got {t.isoformat()}")
        local = t if t.tzinfo is VN_TZ else t.astimezone(VN_TZ)
        index = local.toordinal() - self._base
        cum = self._cum
        if index < 0 or index >= len(cum) - 1:
            index = self._day_index(local.toordinal())
            cum = self._cum
        before = cum[index]
        if cum[index + 1] == before:
            return before
        of_day = ((local.hour * 60 + local.minute) * 60 + local.second) * 1_000_000 + local.microsecond
        for s, e, b in self._periods:
            if of_day < e:
                return before + b + (of_day - s if of_day > s else 0)
        return before + self._day_us

    def _instant(self, position: int, *, start_of_gap: bool) -> datetime:
        """The instant at a working-clock position: the closing time of the period that reaches
        it (`start_of_gap`), or the working moment where the clock resumes."""
        cum = self._cum
        while position >= cum[-1]:
            self._cover(self._first_year + len(self._years))
            cum = self._cum
        while position < cum[0]:
            self._cover(self._first_year - 1)
            cum = self._cum
        index = (bisect_left(cum, position) if start_of_gap else bisect_right(cum, position)) - 1
        rest = position - cum[index]
        for closing, shift in self._closings:
            if rest < closing or (start_of_gap and rest == closing):
                return self._midnight(self._base + index) + timedelta(microseconds=rest + shift)
        raise AssertionError("working clock out of range")  # pragma: no cover

    def _midnight(self, ordinal: int) -> datetime:
        """Local midnight opening a day (cached: deadlines fall on few distinct days)."""
        midnight = self._midnights.get(ordinal)
        if midnight is None:
            day = date.fromordinal(ordinal)
            midnight = datetime(day.year, day.month, day.day, tzinfo=VN_TZ)
            self._midnights[ordinal] = midnight
        return midnight

    def _day_index(self, ordinal: int) -> int:
        index = ordinal - self._base
        if not self._years or index < 0 or index >= len(self._cum) - 1:
            self._cover(date.fromordinal(ordinal).year)
            index = ordinal - self._base
        return index

    def _cover(self, year: int) -> None:
        """Extend the covered years (always contiguous) to include `year`."""
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise CalendarRangeError(
                f"{year} is outside the working calendar's years {FIRST_YEAR}–{LAST_YEAR}"
            )
        if self._years:
            first, last = self._first_year, self._first_year + len(self._years) - 1
            years = range(min(first, year), max(last, year) + 1)
        else:
            years = range(year, year + 1)
        for y in years:
            if y not in self._years:
                self._years[y] = self._flags_for(y)
        self._first_year = years.start
        self._base = date(years.start, 1, 1).toordinal()
        if self._anchor is None:
            self._anchor = self._base
        cum = [0]
        total = 0
        for y in years:
            for flag in self._years[y]:
                total += self._day_us * flag
                cum.append(total)
        # Keep positions already handed out valid when earlier years are added.
        shift = cum[self._anchor - self._base]
        self._cum = [c - shift for c in cum] if shift else cum
        self._flags = b"".join(self._years[y] for y in years)

    def _flags_for(self, year: int) -> bytes:
        """One byte per day of `year`: 1 for a working day."""
        statutory = holidays.country_holidays("VN", years=year)
        package_working = {d for d in getattr(statutory, "weekend_workdays", ()) if d.year == year}
        first = date(year, 1, 1)
        flags = bytearray()
        day = first
        while day.year == year:
            if day in self.working_days:
                working = True
            elif day in self.days_off:
                working = False
            elif day in package_working:
                working = True
            else:
                working = day.weekday() < _SATURDAY and day not in statutory
            flags.append(1 if working else 0)
            day += timedelta(days=1)
        return bytes(flags)
