"""Legal deadlines per procedure unit."""

from __future__ import annotations

from datetime import UTC, datetime

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import Catalog, DeadlineUnit
from dossier_core.deadlines import SAME_DAY_CUTOFF, DeadlineRule, legal_deadline, rule_for
from dossier_core.events import Channel


def vn(text: str) -> datetime:
    """A Vietnam-time instant from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


def due(unit: DeadlineUnit, n: int | None, received: str, cal: WorkingCalendar) -> object:
    return legal_deadline(DeadlineRule(unit, n), vn(received), cal)


def test_working_days_count_eight_hours_each(cal: WorkingCalendar) -> None:
    assert due(DeadlineUnit.WORKING_DAYS, 3, "2021-04-05 09:15", cal) == vn("2021-04-08 09:15")


def test_receipt_after_closing_starts_next_working_morning(cal: WorkingCalendar) -> None:
    assert due(DeadlineUnit.WORKING_DAYS, 1, "2021-04-05 17:30", cal) == vn("2021-04-06 17:00")


def test_receipt_on_a_weekend_starts_on_monday(cal: WorkingCalendar) -> None:
    assert due(DeadlineUnit.WORKING_DAYS, 2, "2021-04-10 10:00", cal) == vn("2021-04-13 17:00")


def test_working_days_skip_tet_2021(cal: WorkingCalendar) -> None:
    assert due(DeadlineUnit.WORKING_DAYS, 2, "2021-02-09 09:00", cal) == vn("2021-02-18 09:00")


def test_working_days_skip_30_april_to_3_may_2021(cal: WorkingCalendar) -> None:
    assert due(DeadlineUnit.WORKING_DAYS, 1, "2021-04-29 14:00", cal) == vn("2021-05-04 14:00")


def test_working_days_skip_national_day_2021(cal: WorkingCalendar) -> None:
    assert due(DeadlineUnit.WORKING_DAYS, 1, "2021-09-01 08:00", cal) == vn("2021-09-06 08:00")


def test_working_hours(cal: WorkingCalendar) -> None:
    assert due(DeadlineUnit.WORKING_HOURS, 2, "2021-04-05 10:30", cal) == vn("2021-04-05 14:30")
    assert due(DeadlineUnit.WORKING_HOURS, 24, "2021-04-05 07:00", cal) == vn("2021-04-07 17:00")


def test_same_day_before_the_cut_off(cal: WorkingCalendar) -> None:
    assert SAME_DAY_CUTOFF.hour == 15
    assert due(DeadlineUnit.SAME_DAY, None, "2021-04-05 14:59", cal) == vn("2021-04-05 17:00")
    assert due(DeadlineUnit.SAME_DAY, None, "2021-04-05 06:30", cal) == vn("2021-04-05 17:00")


def test_same_day_from_the_cut_off_is_next_working_day(cal: WorkingCalendar) -> None:
    assert due(DeadlineUnit.SAME_DAY, None, "2021-04-05 15:00", cal) == vn("2021-04-06 17:00")
    assert due(DeadlineUnit.SAME_DAY, None, "2021-04-09 16:00", cal) == vn("2021-04-12 17:00")
    assert due(DeadlineUnit.SAME_DAY, None, "2021-04-10 09:00", cal) == vn("2021-04-12 17:00")


def test_calendar_days_roll_forward_to_a_working_day(cal: WorkingCalendar) -> None:
    assert due(DeadlineUnit.CALENDAR_DAYS, 10, "2021-04-05 09:00", cal) == vn("2021-04-15 17:00")
    # 5 + 5 = Saturday 10 April → Monday 12 April.
    assert due(DeadlineUnit.CALENDAR_DAYS, 5, "2021-04-05 09:00", cal) == vn("2021-04-12 17:00")
    # 20 April + 10 = 30 April (holiday) → Tuesday 4 May.
    assert due(DeadlineUnit.CALENDAR_DAYS, 10, "2021-04-20 09:00", cal) == vn("2021-05-04 17:00")


def test_calendar_days_use_the_local_date_of_receipt(cal: WorkingCalendar) -> None:
    # 23:30 UTC on 4 April is 06:30 on 5 April in Vietnam.
    received = datetime(2021, 4, 4, 23, 30, tzinfo=UTC)
    rule = DeadlineRule(DeadlineUnit.CALENDAR_DAYS, 1)
    assert legal_deadline(rule, received, cal) == vn("2021-04-06 17:00")


def test_no_deadline(cal: WorkingCalendar) -> None:
    assert due(DeadlineUnit.NONE, None, "2021-04-05 09:00", cal) is None
    assert due(DeadlineUnit.WORKING_DAYS, None, "2021-04-05 09:00", cal) is None


def test_online_channel_uses_online_duration(catalog: Catalog) -> None:
    land = catalog.procedures["1.012786"]  # Cấp lại Giấy chứng nhận do bị mất: 20 / online 10 by law
    assert (land.legal_duration_for(False), land.legal_duration_for(True)) == (20, 10)
    # the province applies its published shorter durations: 10, online 7
    assert rule_for(land, Channel.DIRECT) == DeadlineRule(DeadlineUnit.WORKING_DAYS, 10)
    assert rule_for(land, Channel.ONLINE) == DeadlineRule(DeadlineUnit.WORKING_DAYS, 7)
    assert rule_for(land, "postal") == DeadlineRule(DeadlineUnit.WORKING_DAYS, 10)
    residence = catalog.procedures["1.004194"]  # not shortened: the legal duration
    assert rule_for(residence, Channel.ONLINE) == DeadlineRule(DeadlineUnit.WORKING_DAYS, 3)
