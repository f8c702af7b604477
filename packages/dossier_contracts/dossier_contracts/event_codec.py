"""Event JSON (SPEC §3 shape) ↔ protobuf `DossierEvent` ↔ bytes on `dossier.events.v1`.

The JSON given to `event_to_proto` must already be validated (intake does that); this module only
translates. Timestamps inside `data` come back in Vietnam time; `occurred_at` keeps the sender's offset.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from dossier_contracts.gen.dossier.v1 import events_pb2

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TYPE_PREFIX = "dossier."

CHANNEL_TO_PROTO = {
    "direct": events_pb2.CHANNEL_DIRECT,
    "online": events_pb2.CHANNEL_ONLINE,
    "postal": events_pb2.CHANNEL_POSTAL,
}
CHANNEL_FROM_PROTO = {v: k for k, v in CHANNEL_TO_PROTO.items()}
_TIMESTAMP_FIELDS = frozenset({"due_at", "new_appointment_at"})

# The 15 event types of SPEC §3, by the name of their payload field in the envelope.
EVENT_TYPES: tuple[str, ...] = tuple(
    TYPE_PREFIX + f.name for f in events_pb2.DossierEvent.DESCRIPTOR.oneofs_by_name["payload"].fields
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


def payload_name(event_type: str) -> str:
    """`dossier.supplement_requested` → `supplement_requested` (the oneof field)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    return event_type.removeprefix(TYPE_PREFIX)


def _parse_time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def event_to_proto(
    event: Mapping[str, Any], *, recorded_at: datetime | None = None, source: str = ""
) -> events_pb2.DossierEvent:
    """Translate one validated SPEC §3 event (JSON-like mapping) into the protobuf envelope."""
    occurred_at = _parse_time(event["occurred_at"])
    offset = occurred_at.utcoffset()
    if offset is None:
        raise ValueError("occurred_at must carry an offset")
    msg = events_pb2.DossierEvent(
        event_id=str(event["event_id"]),
        dossier_code=event["dossier_code"],
        agency_code=event["agency_code"],
        occurred_at=to_timestamp(occurred_at),
        occurred_at_utc_offset_minutes=int(offset.total_seconds() // 60),
        source=source,
    )
    if recorded_at is not None:
        msg.recorded_at.CopyFrom(to_timestamp(recorded_at))
    payload: Message = getattr(msg, payload_name(event["type"]))
    payload.SetInParent()  # an empty payload (e.g. fee_paid) still names the type
    # Direct field assignment: about ten times cheaper than json_format.ParseDict on this hot path.
    for name, value in (event.get("data") or {}).items():
        if value is None:
            continue
        if name == "channel":
            setattr(payload, name, CHANNEL_TO_PROTO[value])
        elif name in _TIMESTAMP_FIELDS:
            getattr(payload, name).CopyFrom(to_timestamp(_parse_time(value)))
        else:
            setattr(payload, name, value)
    return msg


def event_type_of(msg: events_pb2.DossierEvent) -> str:
    which = msg.WhichOneof("payload")
    if which is None:
        raise ValueError("event has no payload")
    return TYPE_PREFIX + which


@functools.lru_cache(maxsize=64)
def _fixed_offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


def occurred_at_of(msg: events_pb2.DossierEvent) -> datetime:
    return from_timestamp(msg.occurred_at, _fixed_offset(msg.occurred_at_utc_offset_minutes))


def event_data_of(msg: events_pb2.DossierEvent) -> dict[str, Any]:
    """The `data` object with Python values (datetimes in Vietnam time, channel as its JSON word)."""
    event_type = event_type_of(msg)
    payload: Message = getattr(msg, payload_name(event_type))
    data: dict[str, Any] = {}
    for field, value in payload.ListFields():
        if field.name == "channel":
            data["channel"] = CHANNEL_FROM_PROTO.get(value)
        elif isinstance(value, Timestamp):
            data[field.name] = from_timestamp(value)
        else:
            data[field.name] = value
    return data


def proto_to_event(msg: events_pb2.DossierEvent) -> dict[str, Any]:
    """The SPEC §3 JSON shape of an envelope (timestamps as ISO 8601 strings)."""
    data = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in event_data_of(msg).items()}
    return {
        "event_id": msg.event_id,
        "type": event_type_of(msg),
        "dossier_code": msg.dossier_code,
        "agency_code": msg.agency_code,
        "occurred_at": occurred_at_of(msg).isoformat(),
        "data": data,
    }


def encode_event(msg: events_pb2.DossierEvent) -> bytes:
    return msg.SerializeToString()


def decode_event(raw: bytes) -> events_pb2.DossierEvent:
    """Parse bytes from the topic; raises `ValueError` for anything that is not a usable event."""
    msg = events_pb2.DossierEvent()
    try:
        msg.ParseFromString(raw)
    except Exception as exc:  # protobuf raises DecodeError, a plain Exception subclass
        raise ValueError(f"undecodable event: {exc}") from exc
    if not msg.event_id or not msg.dossier_code or msg.WhichOneof("payload") is None:
        raise ValueError("event lacks event_id, dossier_code or payload")
    return msg
