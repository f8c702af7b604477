"""Domain events ↔ `dossier.v1.DossierEvent` messages, field by field and without detours.

The payload of the `payload` oneof is named after the event type (`dossier.fee_paid` → `fee_paid`)
and its fields are the fields of the type's data class (a unit test holds `events.proto` to that).
Instants inside the data come back in Vietnam time; `occurred_at` keeps the sender's offset.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from dossier_contracts.gen.dossier.v1 import events_pb2
from dossier_contracts.wire_values import (
    CHANNEL_FROM_PROTO,
    CHANNEL_TO_PROTO,
    from_offset_timestamp,
    from_timestamp,
    to_timestamp,
)
from dossier_core.codes import Channel, EventType
from dossier_core.event_data import DATA_CLASSES, EventData
from dossier_core.events import DossierEvent, MismatchedData

__all__ = ["PAYLOAD_NAMES", "TYPE_PREFIX", "check_v1", "event_from_v1", "event_to_v1", "occurred_at_of"]

TYPE_PREFIX = "dossier."
#: The payload field of each event type in the `payload` oneof.
PAYLOAD_NAMES: Mapping[EventType, str] = MappingProxyType(
    {event_type: event_type.removeprefix(TYPE_PREFIX) for event_type in EventType}
)
_ONEOF = {f.name for f in events_pb2.DossierEvent.DESCRIPTOR.oneofs_by_name["payload"].fields}
if set(PAYLOAD_NAMES.values()) != _ONEOF:
    raise TypeError(f"events.proto and EventType differ: {set(PAYLOAD_NAMES.values()) ^ _ONEOF}")
_TYPES_BY_PAYLOAD: Mapping[str, tuple[EventType, type[EventData]]] = {
    name: (event_type, DATA_CLASSES[event_type]) for event_type, name in PAYLOAD_NAMES.items()
}


def check_v1(msg: events_pb2.DossierEvent) -> None:
    """`ValueError` for a message without the event id, dossier code or payload every event has."""
    if not msg.event_id or not msg.dossier_code or msg.WhichOneof("payload") is None:
        raise ValueError("event lacks event_id, dossier_code or payload")


def occurred_at_of(msg: events_pb2.DossierEvent) -> datetime:
    """`occurred_at` with the offset the sender wrote."""
    return from_offset_timestamp(msg.occurred_at, msg.occurred_at_utc_offset_minutes)


def event_from_v1(msg: events_pb2.DossierEvent, seq: int = 0) -> DossierEvent:
    """The domain event of a v1 message; `seq` is its arrival order (e.g. log position)."""
    which = msg.WhichOneof("payload")
    if which is None:
        raise ValueError("event has no payload")
    event_type, data_class = _TYPES_BY_PAYLOAD[which]
    payload: Message = getattr(msg, which)
    values: dict[str, object] = {}
    for field, value in payload.ListFields():  # the fields that are set, each a Python value
        if field.name == "channel":
            if value in CHANNEL_FROM_PROTO:  # an unknown number is no channel
                values["channel"] = CHANNEL_FROM_PROTO[value]
        elif isinstance(value, Timestamp):
            values[field.name] = from_timestamp(value)
        else:
            values[field.name] = value
    data = data_class.from_typed(values)
    return DossierEvent(
        msg.event_id, event_type, msg.dossier_code, msg.agency_code, occurred_at_of(msg), data, seq
    )


def event_to_v1(
    event: DossierEvent, *, recorded_at: datetime | None = None, source: str = ""
) -> events_pb2.DossierEvent:
    """The v1 message of a domain event; `recorded_at` and `source` are intake's."""
    occurred_at = event.occurred_at
    offset = occurred_at.utcoffset()
    if offset is None:
        raise ValueError("occurred_at must carry an offset")
    msg = events_pb2.DossierEvent(
        event_id=event.event_id,
        dossier_code=event.dossier_code,
        agency_code=event.agency_code,
        occurred_at=to_timestamp(occurred_at),
        occurred_at_utc_offset_minutes=int(offset.total_seconds() // 60),
        source=source,
    )
    if recorded_at is not None:
        msg.recorded_at.CopyFrom(to_timestamp(recorded_at))
    data = event.data
    if type(data) is MismatchedData:  # `type() is`: far cheaper than isinstance against an ABC
        raise ValueError(f"{event.type} data has fields of another type: {sorted(data)}")
    payload: Message = getattr(msg, PAYLOAD_NAMES[event.type])
    payload.SetInParent()  # an empty payload (e.g. fee_paid) still names the type
    # Direct field assignment: about ten times cheaper than json_format.ParseDict on this hot path.
    for name, value in data.items():
        if isinstance(value, Channel):
            setattr(payload, name, CHANNEL_TO_PROTO[value])
        elif isinstance(value, datetime):
            getattr(payload, name).CopyFrom(to_timestamp(value))
        else:
            setattr(payload, name, value)
    return msg
