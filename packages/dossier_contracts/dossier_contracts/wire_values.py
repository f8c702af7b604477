"""Protobuf values ↔ Python values: timestamps (and the sender's UTC offset) and channels.

Timestamps come back in Vietnam time unless another zone is asked for; `to_timestamp` refuses a
naive datetime, which names no instant.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from types import MappingProxyType
from typing import TYPE_CHECKING

from google.protobuf.timestamp_pb2 import Timestamp

from dossier_contracts.gen.dossier.v1 import events_pb2
from dossier_core.calendar import VN_TZ
from dossier_core.codes import Channel

if TYPE_CHECKING:
    from collections.abc import Mapping
    from zoneinfo import ZoneInfo

__all__ = [
    "CHANNEL_FROM_PROTO",
    "CHANNEL_TO_PROTO",
    "VN_TZ",
    "fixed_offset",
    "from_offset_timestamp",
    "from_timestamp",
    "timestamp_fields",
    "to_timestamp",
]

CHANNEL_TO_PROTO: Mapping[str, events_pb2.Channel.ValueType] = MappingProxyType(
    {
        Channel.DIRECT: events_pb2.CHANNEL_DIRECT,
        Channel.ONLINE: events_pb2.CHANNEL_ONLINE,
        Channel.POSTAL: events_pb2.CHANNEL_POSTAL,
    }
)
#: Unspecified and unknown numbers are absent from this map: such a channel is no channel.
CHANNEL_FROM_PROTO: Mapping[int, Channel] = MappingProxyType(
    {number: Channel(name) for name, number in CHANNEL_TO_PROTO.items()}
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
#: Between these instants Vietnam keeps UTC+7 (its rule since 1975-06-13), so there Vietnam's clock,
#: like a fixed offset's, is a fixed distance from `_LOW`: adding a timedelta to `_LOW` on that clock
#: gives exactly what `fromtimestamp` gives, for less. Other instants take `fromtimestamp`.
_LOW = datetime(1976, 1, 1, tzinfo=UTC)
_LOW_SECONDS = (_LOW - _EPOCH) // _SECOND
_HIGH_SECONDS = (datetime(9000, 1, 1, tzinfo=UTC) - _EPOCH) // _SECOND
_NANOS = 1_000_000_000
#: `_LOW` on Vietnam's clock, and on the clock of each sender's offset seen so far.
_LOW_IN_VN = _LOW.astimezone(VN_TZ)
_LOW_AT_OFFSET: dict[int, datetime] = {}
#: The offset in seconds of the clocks that keep one offset from `_LOW` on: Vietnam's, UTC, and each
#: sender's offset seen so far (at most 2,879 of them).
_OFFSET_SECONDS: dict[tzinfo | None, int] = {VN_TZ: 7 * 3600, UTC: 0}
_EPOCH_DAY = _EPOCH.toordinal()


def _seconds(value: datetime) -> int:
    offset = _OFFSET_SECONDS.get(value.tzinfo)
    if offset is not None and value.year >= _LOW.year:  # from the clock's fields: no timedelta
        return (
            (value.toordinal() - _EPOCH_DAY) * 86_400
            + value.hour * 3600
            + value.minute * 60
            + value.second
            - offset
        )
    try:
        return (value - _EPOCH) // _SECOND
    except TypeError:  # only a naive datetime cannot be subtracted from an aware one
        raise ValueError(f"naive datetime {value.isoformat()} has no instant") from None


def to_timestamp(value: datetime) -> Timestamp:
    """An aware datetime as a protobuf Timestamp (computed directly: FromDatetime is slow)."""
    return Timestamp(seconds=_seconds(value), nanos=value.microsecond * 1000)


def timestamp_fields(value: datetime) -> dict[str, int]:
    """The fields of `to_timestamp(value)`, for a message's constructor (cheaper than a Timestamp)."""
    return {"seconds": _seconds(value), "nanos": value.microsecond * 1000}


def from_timestamp(ts: Timestamp, tz: timezone | ZoneInfo = VN_TZ) -> datetime:
    """The instant of `ts` on the clock of `tz` (Vietnam time unless told)."""
    seconds, nanos = ts.seconds, ts.nanos
    if tz is VN_TZ and _LOW_SECONDS <= seconds < _HIGH_SECONDS and 0 <= nanos < _NANOS:
        return _LOW_IN_VN + timedelta(0, seconds - _LOW_SECONDS, nanos // 1000)
    # fromtimestamp on whole seconds is exact and runs in C; microseconds are set apart.
    return datetime.fromtimestamp(seconds, tz).replace(microsecond=nanos // 1000)


def from_offset_timestamp(ts: Timestamp, minutes: int) -> datetime:
    """The instant of `ts` on the clock of the sender's offset (`occurred_at_utc_offset_minutes`)."""
    seconds, nanos = ts.seconds, ts.nanos
    if _LOW_SECONDS <= seconds < _HIGH_SECONDS and 0 <= nanos < _NANOS:
        low = _LOW_AT_OFFSET.get(minutes)
        if low is None:  # fixed_offset refuses offsets of a day or more: at most 2,879 entries
            low = _LOW_AT_OFFSET[minutes] = _LOW.astimezone(fixed_offset(minutes))
        return low + timedelta(0, seconds - _LOW_SECONDS, nanos // 1000)
    return from_timestamp(ts, fixed_offset(minutes))


@functools.lru_cache(maxsize=64)
def fixed_offset(minutes: int) -> timezone:
    """The zone of a sender's offset (`occurred_at_utc_offset_minutes`)."""
    zone = timezone(timedelta(minutes=minutes))
    _OFFSET_SECONDS[zone] = minutes * 60
    return zone
