"""Working time on real Vietnamese calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from dossier_core.calendar import (
    FIRST_YEAR,
    LAST_YEAR,
    VN_TZ,
    CalendarRangeError,
    WorkingCalendar,
    WorkingHours,
)


def vn(text: str) -> datetime:
    """A Vietnam-time instant from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


def test_tet_2021_is_off_from_10_to_16_february(cal: WorkingCalendar) -> None:
    for day in range(10, 17):
        assert not cal.is_working_day(date(2021, 2, day))
    assert cal.is_working_day(date(2021, 2, 9))
    assert cal.is_working_day(date(2021, 2, 17))
    assert cal.next_working_day(date(2021, 2, 9)) == date(2021, 2, 17)


def test_work_across_tet_resumes_on_17_february(cal: WorkingCalendar) -> None:
    assert cal.add_working_minutes(vn("2021-02-09 16:00"), 60) == vn("2021-02-09 17:00")
    assert cal.add_working_minutes(vn("2021-02-09 16:00"), 61) == vn("2021-02-17 07:01")
    assert cal.working_minutes_between(vn("2021-02-09 16:00"), vn("2021-02-17 08:00")) == 120


def test_30_april_1_may_and_compensatory_3_may_2021(cal: WorkingCalendar) -> None:
    assert not cal.is_working_day(date(2021, 4, 30))
    assert not cal.is_working_day(date(2021, 5, 1))
    # 1 May 2021 fell on a Saturday: the `holidays` package gives Monday 3 May off.
    assert not cal.is_working_day(date(2021, 5, 3))
    assert cal.next_working_moment(vn("2021-04-29 17:30")) == vn("2021-05-04 07:00")


def test_national_day_2021_with_its_adjacent_day(cal: WorkingCalendar) -> None:
    assert not cal.is_working_day(date(2021, 9, 2))
    assert not cal.is_working_day(date(2021, 9, 3))
    assert cal.next_working_day(date(2021, 9, 1)) == date(2021, 9, 6)


def test_hung_kings_day_2021(cal: WorkingCalendar) -> None:
    assert not cal.is_working_day(date(2021, 4, 21))


def test_working_saturday_from_calendar_csv(cal: WorkingCalendar) -> None:
    # Saturday 26 April 2025 was worked in exchange for Friday 2 May 2025.
    assert date(2025, 4, 26).weekday() == 5
    assert cal.is_working_day(date(2025, 4, 26))
    assert not cal.is_working_day(date(2025, 5, 2))
    assert cal.next_working_moment(vn("2025-04-25 17:10")) == vn("2025-04-26 07:00")


def test_calendar_csv_days_win_over_the_weekday_rule() -> None:
    saturday, monday = date(2021, 3, 6), date(2021, 3, 8)
    plain = WorkingCalendar()
    swapped = WorkingCalendar(days_off=frozenset({monday}), working_days=frozenset({saturday}))
    assert not plain.is_working_day(saturday) and plain.is_working_day(monday)
    assert swapped.is_working_day(saturday) and not swapped.is_working_day(monday)


def test_weekend_and_lunch_break_are_not_working_time(cal: WorkingCalendar) -> None:
    assert cal.next_working_moment(vn("2021-04-10 10:00")) == vn("2021-04-12 07:00")
    assert cal.next_working_moment(vn("2021-04-12 12:00")) == vn("2021-04-12 13:30")
    assert cal.next_working_moment(vn("2021-04-12 11:30")) == vn("2021-04-12 13:30")
    assert cal.next_working_moment(vn("2021-04-12 09:00")) == vn("2021-04-12 09:00")
    assert cal.working_minutes_between(vn("2021-04-12 11:00"), vn("2021-04-12 14:00")) == 60


def test_a_deadline_at_closing_time_stays_at_closing_time(cal: WorkingCalendar) -> None:
    assert cal.add_working_minutes(vn("2021-04-12 07:00"), 480) == vn("2021-04-12 17:00")
    assert cal.add_working_minutes(vn("2021-04-12 07:00"), 270) == vn("2021-04-12 11:30")


def test_adding_zero_to_a_closed_instant_gives_the_next_opening(cal: WorkingCalendar) -> None:
    assert cal.add_working_minutes(vn("2021-04-12 17:00"), 0) == vn("2021-04-13 07:00")


def test_instants_in_other_offsets_are_answered_in_vietnam_time(cal: WorkingCalendar) -> None:
    utc = datetime(2021, 4, 12, 1, 0, tzinfo=UTC)  # 08:00 in Hà Nội
    result = cal.add_working_minutes(utc, 60)
    assert result == vn("2021-04-12 09:00")
    assert result.tzinfo is VN_TZ


def test_spans_across_years_and_backwards(cal: WorkingCalendar) -> None:
    a, b = vn("2020-12-31 16:00"), vn("2022-01-04 08:00")
    minutes = cal.working_minutes_between(a, b)
    assert cal.add_working_minutes(a, minutes) == b
    assert cal.working_minutes_between(b, a) == -minutes


def test_naive_instants_and_negative_durations_are_refused(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.next_working_moment(datetime(2021, 4, 12, 9, 0))
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_minutes(vn("2021-04-12 09:00"), -1)


def test_configurable_hours() -> None:
    hours = WorkingHours((((8, 0), (12, 0)), ((13, 0), (17, 0))))
    cal = WorkingCalendar(hours=hours)
    assert hours.minutes_per_day == 480
    assert cal.add_working_minutes(vn("2021-04-12 11:00"), 120) == vn("2021-04-12 14:00")
    with pytest.raises(ValueError):
        WorkingHours((((13, 0), (17, 0)), ((8, 0), (12, 0))))


def test_clashing_swap_days_are_refused() -> None:
    day = date(2021, 3, 6)
    with pytest.raises(ValueError, match="both off and working"):
        WorkingCalendar(days_off=frozenset({day}), working_days=frozenset({day}))


def test_every_working_day_of_a_year_holds_eight_hours(cal: WorkingCalendar) -> None:
    start = vn("2023-01-01 00:00")
    days = sum(cal.is_working_day(date(2023, 1, 1) + timedelta(days=i)) for i in range(365))
    assert cal.working_minutes_between(start, vn("2024-01-01 00:00")) == days * 480


@pytest.mark.parametrize("year", [1, 1900, FIRST_YEAR - 1, LAST_YEAR + 1, 9999])
def test_instants_outside_the_calendar_years_are_refused_without_building_them(year: int) -> None:
    cal = WorkingCalendar()
    cal.is_working_day(date(2021, 4, 5))
    with pytest.raises(CalendarRangeError, match=f"^{year} is outside"):
        cal.next_working_moment(datetime(year, 6, 1, 9, 0, tzinfo=VN_TZ))
    with pytest.raises(CalendarRangeError):
        cal.is_working_day(date(year, 6, 1))
    assert cal.covered_years == range(2021, 2022)  # nothing was built for the refused instant


def test_a_deadline_past_the_last_year_is_refused() -> None:
    cal = WorkingCalendar()
    with pytest.raises(CalendarRangeError, match=f"^{LAST_YEAR + 1} is outside"):
        cal.add_working_minutes(vn("2099-12-01 09:00"), 10**9)


def test_years_are_built_on_first_use_and_the_whole_range_stays_bounded() -> None:
    cal = WorkingCalendar()
    assert cal.covered_years == range(0)
    assert cal.is_working_day(date(2021, 4, 5))
    assert cal.covered_years == range(2021, 2022)
    # the extreme instants the contract admits, and a deadline from the last one
    cal.next_working_moment(datetime(2000, 1, 1, tzinfo=VN_TZ))
    due = cal.add_working_minutes(datetime(2099, 12, 31, 16, 0, tzinfo=VN_TZ), 3650 * 480)
    assert due.year < LAST_YEAR
    assert cal.covered_years.start == 2000 and cal.covered_years.stop <= LAST_YEAR + 1
    # positions handed out before earlier years were added stay valid
    assert cal.working_minutes_between(vn("2021-04-05 07:00"), vn("2021-04-05 08:00")) == 60
