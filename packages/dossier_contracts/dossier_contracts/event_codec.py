"""Bytes on `dossier.events.v1` ↔ protobuf `DossierEvent` ↔ domain events, and the SPEC §3 JSON view.

The usual paths: intake turns its validated model into a domain event and writes
`encode_event(event_to_proto(event, ...))`; a reader decodes with `decode_event` and gets the
domain event with `event_from_proto` (the upcast step, `upcast.py`), or does both at once with
`upcast.decode`. `event_to_proto` also takes the SPEC §3 JSON of an event (already validated: this
module only translates), and `proto_to_event` gives that JSON back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dossier_contracts.event_json import event_from_json, event_to_json
from dossier_contracts.event_mapping import TYPE_PREFIX, event_to_v1, occurred_at_of
from dossier_contracts.gen.dossier.v1 import events_pb2
from dossier_contracts.upcast import CURRENT_VERSION, SCHEMAS, event_from_proto
from dossier_contracts.wire_values import (
    CHANNEL_FROM_PROTO,
    CHANNEL_TO_PROTO,
    VN_TZ,
    from_timestamp,
    to_timestamp,
)
from dossier_core.events import DossierEvent

__all__ = [
    "CHANNEL_FROM_PROTO",
    "CHANNEL_TO_PROTO",
    "EVENT_TYPES",
    "TYPE_PREFIX",
    "VN_TZ",
    "decode_event",
    "encode_event",
    "event_data_of",
    "event_from_proto",
    "event_to_proto",
    "event_type_of",
    "from_timestamp",
    "occurred_at_of",
    "payload_name",
    "proto_to_event",
    "to_timestamp",
]

# The 15 event types of SPEC §3, by the name of their payload field in the envelope.
EVENT_TYPES: tuple[str, ...] = tuple(
    TYPE_PREFIX + f.name for f in events_pb2.DossierEvent.DESCRIPTOR.oneofs_by_name["payload"].fields
)


def payload_name(event_type: str) -> str:
    """`dossier.supplement_requested` → `supplement_requested` (the oneof field)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    return event_type.removeprefix(TYPE_PREFIX)


def event_to_proto(
    event: DossierEvent | Mapping[str, Any], *, recorded_at: datetime | None = None, source: str = ""
) -> events_pb2.DossierEvent:
    """The protobuf envelope of a domain event, or of one validated SPEC §3 JSON event."""
    if not isinstance(event, DossierEvent):
        event = event_from_json(event)
    return event_to_v1(event, recorded_at=recorded_at, source=source)


def event_type_of(msg: events_pb2.DossierEvent) -> str:
    which = msg.WhichOneof("payload")
    if which is None:
        raise ValueError("event has no payload")
    return TYPE_PREFIX + which


def event_data_of(msg: events_pb2.DossierEvent) -> dict[str, Any]:
    """The `data` object with Python values (datetimes in Vietnam time, the channel as `Channel`)."""
    return dict(event_from_proto(msg).data)


def proto_to_event(msg: events_pb2.DossierEvent) -> dict[str, Any]:
    """The SPEC §3 JSON shape of an envelope (timestamps as ISO 8601 strings)."""
    return event_to_json(event_from_proto(msg))


def encode_event(msg: events_pb2.DossierEvent) -> bytes:
    return msg.SerializeToString()


def decode_event(raw: bytes) -> events_pb2.DossierEvent:
    """Parse bytes from the topic; raises `ValueError` for anything that is not a usable event."""
    msg: events_pb2.DossierEvent = SCHEMAS[CURRENT_VERSION].parse(raw)
    return msg
