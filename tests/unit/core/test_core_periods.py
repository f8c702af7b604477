"""Named reporting periods (month, quarter, first six months, year) under the cut-off on the 14th, their
filing deadline and the periods closed in a span of instants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dossier_core.calendar import VN_TZ
from dossier_core.periods import (
    FILING_DELAY,
    Period,
    closed_named_periods,
    filing_deadline,
    named_periods,
    parse_period,
)

SETTINGS = settings(max_examples=200, deadline=None)
YEARS = st.integers(min_value=2000, max_value=2099)
#: Instants of the contract's years, in Vietnam time or UTC.
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.sampled_from([VN_TZ, UTC])
)
DELAYS = st.integers(min_value=0, max_value=10 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes))


def vn(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


def days(period: Period) -> set[date]:
    return {period.start + timedelta(days=n) for n in range((period.end - period.start).days + 1)}


def by_label(year: int) -> dict[str, Period]:
    return {period.label: period for period in named_periods(year)}


def test_first_six_months_close_on_14_june() -> None:
    half = parse_period("2021-H1")
    assert (half.start, half.end, half.label) == (date(2020, 12, 15), date(2021, 6, 14), "2021-H1")
    assert parse_period(" 2021-H1 ").label == "2021-H1"


@pytest.mark.parametrize("text", ["2021-H2", "2021-H0", "2021-h1", "2021-H", "2021-S1", "2021-H12"])
def test_only_the_first_half_is_named(text: str) -> None:
    with pytest.raises(ValueError, match="period"):
        parse_period(text)


def test_a_year_needs_the_december_before_it() -> None:
    with pytest.raises(ValueError, match="0002 or later"):
        parse_period("0001-H1")
    with pytest.raises(ValueError, match="named periods exist"):
        named_periods(1)
    assert named_periods(9999)[-1].end == date(9999, 12, 14)


@given(YEARS)
@SETTINGS
def test_named_periods_are_the_parsed_ones_in_order_of_their_end(year: int) -> None:
    periods = named_periods(year)
    labels = [p.label for p in periods]
    assert len(labels) == len(set(labels)) == 12 + 4 + 1 + 1
    assert all(parse_period(p.label) == p for p in periods)
    assert [p.end for p in periods] == sorted(p.end for p in periods)


@given(YEARS)
@SETTINGS
def test_every_named_period_lies_in_the_statutory_year(year: int) -> None:
    whole = parse_period(f"{year}")
    assert (whole.start, whole.end) == (date(year - 1, 12, 15), date(year, 12, 14))
    assert all(whole.start <= p.start <= p.end <= whole.end for p in named_periods(year))


@given(YEARS)
@SETTINGS
def test_months_tile_the_year(year: int) -> None:
    months = [parse_period(f"{year}-{m:02d}") for m in range(1, 13)]
    assert months[0].start == parse_period(f"{year}").start
    assert months[-1].end == parse_period(f"{year}").end
    assert all(a.end + timedelta(days=1) == b.start for a, b in pairwise(months))
    assert all(m.end.day == 14 and m.start.day == 15 for m in months)


@given(YEARS)
@SETTINGS
def test_quarters_and_the_half_are_unions_of_months(year: int) -> None:
    named = by_label(year)
    for quarter in range(1, 5):
        months = [named[f"{year}-{3 * quarter - k:02d}"] for k in (2, 1, 0)]
        assert days(named[f"{year}-Q{quarter}"]) == set().union(*map(days, months))
    assert days(named[f"{year}-H1"]) == days(named[f"{year}-Q1"]) | days(named[f"{year}-Q2"])
    assert not days(named[f"{year}-Q1"]) & days(named[f"{year}-Q2"])


def test_filing_deadline_is_the_end_of_the_third_day_after_the_last() -> None:
    q2 = parse_period("2021-Q2")
    assert q2.end == date(2021, 6, 14)
    assert filing_deadline(q2) == vn("2021-06-18 00:00")
    assert filing_deadline(q2).isoformat() == "2021-06-18T00:00:00+07:00"
    assert filing_deadline(parse_period("2021-H1")) == filing_deadline(q2)
    assert filing_deadline(parse_period("2021"), timedelta(hours=12)) == vn("2021-12-15 12:00")


@given(YEARS, DELAYS)
@SETTINGS
def test_filing_deadline_is_the_end_instant_plus_the_delay(year: int, delay: timedelta) -> None:
    for period in named_periods(year):
        assert filing_deadline(period, delay) == period.end_instant + delay
        assert not period.contains(filing_deadline(period, delay))


def test_closed_named_periods_bounds() -> None:
    june = ["2021-06", "2021-Q2", "2021-H1"]
    deadline = vn("2021-06-18 00:00")
    assert [p.label for p in closed_named_periods(deadline - timedelta(microseconds=1), deadline)] == june
    assert closed_named_periods(deadline, deadline + timedelta(days=1)) == []  # since is excluded
    assert closed_named_periods(deadline - timedelta(days=1), deadline - timedelta(microseconds=1)) == []
    assert closed_named_periods(deadline, deadline) == []
    assert closed_named_periods(deadline, deadline - timedelta(days=40)) == []
    year_end = closed_named_periods(vn("2021-12-17 23:59"), vn("2021-12-18 00:00"))
    assert [p.label for p in year_end] == ["2021-12", "2021-Q4", "2021"]


def test_closed_named_periods_of_a_span_across_years() -> None:
    closed = closed_named_periods(vn("2020-12-01 00:00"), vn("2022-01-31 00:00"))
    assert [p.label for p in closed][:4] == ["2020-12", "2020-Q4", "2020", "2021-01"]
    assert [p.label for p in closed][-1] == "2022-01"
    assert len(closed) == 3 + 18 + 1


@given(INSTANTS, INSTANTS, DELAYS)
@example(vn("2021-06-17 00:00"), vn("2021-06-18 00:00"), FILING_DELAY)
@example(vn("2021-01-01 00:00"), vn("2021-01-18 00:00"), timedelta(0))
@example(datetime(2021, 12, 31, 17, 0, tzinfo=UTC), vn("2022-01-15 00:00"), timedelta(0))
@SETTINGS
def test_closed_named_periods_are_those_filed_in_the_span(
    since: datetime, until: datetime, delay: timedelta
) -> None:
    if until - since > timedelta(days=3 * 366):
        until = since + timedelta(days=3 * 366)
    closed = closed_named_periods(since, until, delay)
    deadlines = [filing_deadline(p, delay) for p in closed]
    assert deadlines == sorted(deadlines)
    expected = {
        p.label
        for year in range(max(2000, since.year - 1), min(2099, until.year + 1) + 1)
        for p in named_periods(year)
        if since < filing_deadline(p, delay) <= until
    }
    assert {p.label for p in closed} == expected
