"""The upcast step: every schema version decodes to the current domain event, and a new version plugs in
by registering its message and its upcaster."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from dossier_contracts import upcast
from dossier_contracts.event_codec import decode_event, encode_event, event_to_proto
from dossier_contracts.event_json import event_from_json
from dossier_contracts.gen.dossier.v1 import events_pb2
from dossier_core.calendar import VN_TZ
from dossier_core.codes import Channel, EventType
from dossier_core.event_data import DossierReceived
from dossier_core.events import DossierEvent

AT = datetime(2021, 4, 5, 9, 15, tzinfo=VN_TZ)
RECEIVED = DossierEvent(
    "6f1c0e0a-7a57-4a43-9a3b-0e3a8d1d2b7e",
    EventType.RECEIVED,
    "000.00.18.H49-210405-0001",
    "000.00.18.H49",
    AT,
    DossierReceived(procedure_code="1.001612", channel=Channel.ONLINE, on_site=True),
)


def v2_message_class() -> type[Message]:
    """A made-up `dossier.v2.DossierEvent` that cannot be an additive change of v1: the type is a
    string and the data is a JSON text."""
    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="test/v2.proto", package="dossier.v2", syntax="proto3")
    message = file.message_type.add(name="DossierEvent")
    names = ["event_id", "type", "dossier_code", "agency_code", "occurred_at", "data_json"]
    for number, name in enumerate(names, 1):
        message.field.add(name=name, number=number, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)  # type: ignore[no-untyped-call]
    descriptor = pool.FindMessageTypeByName("dossier.v2.DossierEvent")  # type: ignore[no-untyped-call]
    return message_factory.GetMessageClass(descriptor)


def event_from_v2(msg: Any, seq: int) -> DossierEvent:
    """The upcaster a v2 would register: its message brought to today's domain event."""
    return event_from_json(
        {
            "event_id": msg.event_id,
            "type": msg.type,
            "dossier_code": msg.dossier_code,
            "agency_code": msg.agency_code,
            "occurred_at": msg.occurred_at,
            "data": json.loads(msg.data_json or "{}"),
        },
        seq,
    )


@pytest.fixture
def v2() -> Iterator[type[Message]]:
    message = v2_message_class()
    forget = upcast.register(upcast.EventSchema("dossier.v2", message, event_from_v2))
    yield message
    forget()


def test_v1_is_the_current_version_and_decodes_to_the_domain_event() -> None:
    assert upcast.CURRENT_VERSION == "dossier.v1" and set(upcast.SCHEMAS) == {"dossier.v1"}
    raw = encode_event(event_to_proto(RECEIVED, source="counter-1"))
    assert upcast.decode(raw, seq=4) == RECEIVED.with_seq(4)
    assert upcast.event_from_proto(decode_event(raw), 4) == RECEIVED.with_seq(4)


def test_a_v2_plugs_in_with_its_message_and_upcaster(v2: type[Message]) -> None:
    msg = v2(
        event_id=RECEIVED.event_id,
        type="dossier.received",
        dossier_code=RECEIVED.dossier_code,
        agency_code=RECEIVED.agency_code,
        occurred_at=AT.isoformat(),
        data_json=json.dumps({"procedure_code": "1.001612", "channel": "online", "on_site": True}),
    )
    assert upcast.event_from_proto(msg, 4) == RECEIVED.with_seq(4)
    assert upcast.decode(msg.SerializeToString(), 4, version="dossier.v2") == RECEIVED.with_seq(4)
    v1 = encode_event(event_to_proto(RECEIVED))
    assert upcast.decode(v1, 4) == upcast.decode(msg.SerializeToString(), 4, version="dossier.v2")


def test_a_version_is_registered_once_and_can_be_forgotten(v2: type[Message]) -> None:
    with pytest.raises(ValueError, match="already registered"):
        upcast.register(upcast.EventSchema("dossier.v2", v2, event_from_v2))
    assert set(upcast.SCHEMAS) == {"dossier.v1", "dossier.v2"}


def test_a_message_of_no_registered_version_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("no schema version reads dossier.v2.DossierEvent")):
        upcast.event_from_proto(v2_message_class()(event_id="e"))
    with pytest.raises(ValueError, match=re.escape("no schema version reads dossier.v1.Submitted")):
        upcast.event_from_proto(events_pb2.Submitted())
    with pytest.raises(KeyError):
        upcast.decode(b"", version="dossier.v9")


@pytest.mark.parametrize("raw", [b"\xff\xff\xff", b"", b"\x0a\x02id"])
def test_what_decode_event_refuses_decode_refuses_too(raw: bytes) -> None:
    with pytest.raises(ValueError) as caught:
        decode_event(raw)
    with pytest.raises(ValueError, match=re.escape(str(caught.value))):
        upcast.decode(raw)
