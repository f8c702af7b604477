"""The event types are defined once, by the domain's data classes; what cannot be derived from them
(`events.proto`, intake's pydantic models, the OpenAPI examples) is held to them here: the same
types, the same payload fields in the same order, of the same kinds."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from dossier_contracts.event_codec import EVENT_TYPES
from dossier_contracts.gen.dossier.v1 import events_pb2
from dossier_core.codes import Channel, EventType
from dossier_core.event_data import DATA_CLASSES
from dossier_core.events import data_of
from dossier_intake.examples import EVENT_EXAMPLES, EXAMPLE_DATA, example_event
from dossier_intake.schemas import EVENT_ADAPTER, EVENT_MODELS

ONEOF = events_pb2.DossierEvent.DESCRIPTOR.oneofs_by_name["payload"]
PROTO_PAYLOADS: dict[str, Descriptor] = {f.name: f.message_type for f in ONEOF.fields}
PROTO_KINDS: dict[int, type] = {
    FieldDescriptor.TYPE_STRING: str,
    FieldDescriptor.TYPE_INT32: int,
    FieldDescriptor.TYPE_INT64: int,
    FieldDescriptor.TYPE_BOOL: bool,
    FieldDescriptor.TYPE_BYTES: bytes,
}
#: Intake takes the applicant's data in clear and the domain holds it sealed (docs/security.md):
#: the one field whose name differs, and which the examples of the domain's data cannot show.
SEALED = {"applicant": "applicant_sealed"}


def domain_kinds(event_type: EventType) -> dict[str, type]:
    """Each field of the type's data class and its kind (`X | None` → X), in order."""
    cls = DATA_CLASSES[event_type]
    hints = get_type_hints(cls)
    return {name: next(a for a in get_args(hints[name]) if a is not type(None)) for name in cls.FIELDS}


def proto_kind(field: FieldDescriptor) -> type:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        assert field.message_type.full_name == "google.protobuf.Timestamp"
        return datetime
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type.full_name == "dossier.v1.Channel"
        return Channel
    return PROTO_KINDS[field.type]


def test_the_same_fifteen_types_everywhere() -> None:
    types = [t.value for t in EventType]
    assert len(types) == 15
    assert list(EVENT_TYPES) == types  # events.proto, in the order of its oneof
    assert [t.value for t in DATA_CLASSES] == types
    assert set(EVENT_MODELS) == set(EventType)  # intake
    assert [t.value for t in EXAMPLE_DATA] == types  # the OpenAPI examples
    assert [example["summary"] for example in EVENT_EXAMPLES.values()] == types


@pytest.mark.parametrize("event_type", list(EventType))
def test_the_proto_payload_has_the_domains_fields_and_kinds(event_type: EventType) -> None:
    payload = PROTO_PAYLOADS[event_type.removeprefix("dossier.")]
    assert {f.name: proto_kind(f) for f in payload.fields} == domain_kinds(event_type)
    assert [f.name for f in payload.fields] == list(DATA_CLASSES[event_type].FIELDS)


def test_the_proto_channels_are_the_domains() -> None:
    names = [v.name for v in events_pb2.Channel.DESCRIPTOR.values if v.number != 0]
    assert [name.removeprefix("CHANNEL_").lower() for name in names] == [c.value for c in Channel]


def intake_fields(event_type: EventType) -> dict[str, Any]:
    data_model = EVENT_MODELS[event_type].model_fields["data"].annotation
    assert data_model is not None
    return {name: field.annotation for name, field in data_model.model_fields.items()}


@pytest.mark.parametrize("event_type", list(EventType))
def test_the_intake_model_has_the_domains_fields(event_type: EventType) -> None:
    names = [SEALED.get(name, name) for name in intake_fields(event_type)]
    assert names == list(DATA_CLASSES[event_type].FIELDS)


def test_intakes_channel_words_are_the_domains() -> None:
    channel = intake_fields(EventType.RECEIVED)["channel"]
    assert get_origin(channel) is Literal and list(get_args(channel)) == [c.value for c in Channel]


@pytest.mark.parametrize("event_type", list(EventType))
def test_each_example_is_valid_for_intake_and_maps_to_the_domain(event_type: EventType) -> None:
    model = EVENT_ADAPTER.validate_python(example_event(event_type))
    assert type(model) is EVENT_MODELS[event_type]
    event = model.to_domain()
    assert event.type is event_type
    assert event.data == data_of(event_type, EXAMPLE_DATA[event_type])
    shown = [name for name in DATA_CLASSES[event_type].FIELDS if name not in SEALED.values()]
    assert list(EXAMPLE_DATA[event_type]) == shown  # every field shown
