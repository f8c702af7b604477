"""The bounds check on an instant's own clock agrees with comparing instants, for any clock and for
instants at and around the bounds (2000-01-01 and 2100-01-01, Vietnam time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from dossier_core.calendar import VN_TZ
from dossier_processing.ingest.bounds import EARLIEST, END, _in_range

ZONES = [
    VN_TZ,
    UTC,
    timezone(timedelta(hours=7)),
    timezone(timedelta(hours=-12)),
    timezone(timedelta(hours=14), "far east"),
    timezone(timedelta(minutes=-1439)),
    ZoneInfo("America/New_York"),
    ZoneInfo("Europe/London"),
]
near = st.sampled_from([EARLIEST, END]).flatmap(
    lambda bound: st.integers(-3 * 86_400_000_000, 3 * 86_400_000_000).map(
        lambda us: bound + timedelta(microseconds=us)
    )
)
instants = st.one_of(
    near, st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9000, 1, 1), timezones=st.just(UTC))
)


@settings(max_examples=2000)
@given(instants, st.sampled_from(ZONES), st.booleans())
def test_in_range_is_the_comparison_of_instants(instant: datetime, zone: object, fold: bool) -> None:
    t = instant.astimezone(zone).replace(fold=int(fold))  # type: ignore[arg-type]
    assert _in_range(t) == (EARLIEST <= t < END)
