"""The timestamp conversions give exactly what the datetime library gives: the same instant, the same
clock (zone object and offset), the same fields, and the same error for what names no datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dossier_contracts.wire_values import (
    VN_TZ,
    fixed_offset,
    from_offset_timestamp,
    from_timestamp,
    timestamp_fields,
    to_timestamp,
)

#: Around the range where the shortcut applies (1976–9000) and well beyond it on both sides.
seconds = st.one_of(
    st.integers(min_value=-62_135_596_800, max_value=253_402_300_799),
    st.integers(min_value=180_000_000, max_value=220_000_000),  # 1975–1976: the last change of zone
    st.integers(min_value=946_000_000, max_value=4_200_000_000),  # 2000–2100: the contract's instants
    st.integers(min_value=-(2**62), max_value=2**62),
)
nanos = st.one_of(
    st.integers(min_value=0, max_value=999_999_999), st.integers(min_value=-(2**31), max_value=2**31 - 1)
)
offsets = st.one_of(st.integers(-24 * 60, 24 * 60), st.integers(-(2**31), 2**31 - 1))


def _reference(ts: Timestamp, tz: timezone | object) -> datetime:
    return datetime.fromtimestamp(ts.seconds, tz).replace(microsecond=ts.nanos // 1000)  # type: ignore[arg-type]


def _outcome(call: object) -> tuple[str, object]:
    try:
        value = call()  # type: ignore[operator]
    except Exception as exc:
        return "raises", (type(exc), str(exc))
    return "gives", (repr(value), value.tzinfo, value.fold, value.utcoffset())


@settings(max_examples=500, deadline=None)
@given(seconds, nanos)
def test_from_timestamp_in_vietnam_time_is_fromtimestamps(s: int, n: int) -> None:
    ts = Timestamp(seconds=s, nanos=n)
    assert _outcome(lambda: from_timestamp(ts)) == _outcome(lambda: _reference(ts, VN_TZ))


@settings(max_examples=500, deadline=None)
@given(seconds, nanos, offsets)
def test_from_offset_timestamp_is_fromtimestamp_at_the_fixed_offset(s: int, n: int, minutes: int) -> None:
    ts = Timestamp(seconds=s, nanos=n)
    expected = _outcome(lambda: _reference(ts, fixed_offset(minutes)))
    assert _outcome(lambda: from_offset_timestamp(ts, minutes)) == expected
    assert _outcome(lambda: from_timestamp(ts, fixed_offset(minutes))) == expected


zones = st.sampled_from(
    [
        VN_TZ,
        UTC,
        fixed_offset(420),
        fixed_offset(-330),
        timezone(timedelta(hours=7), "ICT"),
        ZoneInfo("Asia/Bangkok"),
    ]
)


@given(
    st.one_of(st.datetimes(timezones=zones), st.datetimes(timezones=zones, min_value=datetime(1975, 1, 1)))
)
@example(datetime(1947, 4, 1, 0, 0, tzinfo=VN_TZ))  # a wall time Vietnam skipped
def test_to_timestamp_round_trips_and_agrees_with_timestamp_fields(value: datetime) -> None:
    ts = to_timestamp(value)
    assert ts == Timestamp(**timestamp_fields(value))
    expected = Timestamp()
    expected.FromDatetime(value)
    assert ts == expected
    back = from_timestamp(ts, value.tzinfo)  # type: ignore[arg-type]
    # The instant round trips. The wall clock does too, except for a time the zone skipped or repeated
    # (e.g. 1 April 1947 00:00 in Vietnam, when clocks jumped to +8): there the library names the
    # instant by its canonical wall time, as datetime.fromtimestamp does.
    assert back.astimezone(UTC) == value.astimezone(UTC)
    assert back == _reference(ts, value.tzinfo)


def test_a_naive_datetime_names_no_instant() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        to_timestamp(datetime(2025, 3, 3, 8, 0))
    with pytest.raises(ValueError, match="naive datetime"):
        timestamp_fields(datetime(2025, 3, 3, 8, 0))
