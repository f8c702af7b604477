"""Protobuf values ↔ Python values: timestamps (and the sender's UTC offset) and channels.

Timestamps come back in Vietnam time unless another zone is asked for; `to_timestamp` refuses a
naive datetime, which names no instant.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, timezone
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
    "from_timestamp",
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


def to_timestamp(value: datetime) -> Timestamp:
    """An aware datetime as a protobuf Timestamp (computed directly: FromDatetime is slow)."""
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no instant")
    return Timestamp(seconds=(value - _EPOCH) // _SECOND, nanos=value.microsecond * 1000)


def from_timestamp(ts: Timestamp, tz: timezone | ZoneInfo = VN_TZ) -> datetime:
    # fromtimestamp on whole seconds is exact and runs in C; microseconds are set apart.
    return datetime.fromtimestamp(ts.seconds, tz).replace(microsecond=ts.nanos // 1000)


@functools.lru_cache(maxsize=64)
def fixed_offset(minutes: int) -> timezone:
    """The zone of a sender's offset (`occurred_at_utc_offset_minutes`)."""
    return timezone(timedelta(minutes=minutes))
