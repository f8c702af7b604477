"""The upcast step of decoding: an event message of any schema version becomes the current domain event.

A schema version is a protobuf package (`dossier.v1`). Additive changes stay within a version
(proto/README.md); a change that cannot be additive is a new package on new topics, written beside
the old one for a while. Each version registers an `EventSchema`: its message class and its upcaster,
the function that brings one of its messages to today's `DossierEvent`. Only v1 exists today; a v2
would register `EventSchema("dossier.v2", v2_pb2.DossierEvent, event_from_v2)` here, and once the
domain moves on, v1's upcaster fills in what v1 never carried.

Every decoded message goes through `event_from_proto`, so whoever reads events (the consumer, the
operator API, the tests) gets the current domain type whatever version wrote them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from dossier_contracts.event_mapping import check_v1, event_from_v1
from dossier_contracts.gen.dossier.v1 import events_pb2
from dossier_core.events import DossierEvent

__all__ = ["CURRENT_VERSION", "SCHEMAS", "EventSchema", "decode", "event_from_proto", "register"]

M = TypeVar("M", bound=Message)


def _any_message(msg: Message) -> None:
    """Every message that parses is an event (a version with nothing more to check)."""


@dataclass(frozen=True)
class EventSchema(Generic[M]):
    """One version of the event message on the wire, and how it becomes the current domain event.
    `check` raises `ValueError` for a message that parses but is no usable event."""

    version: str
    message: type[M]
    upcast: Callable[[M, int], DossierEvent]
    check: Callable[[M], None] = _any_message

    def parse(self, raw: bytes) -> M:
        """The message in `raw`; `ValueError` for bytes that are not a usable event."""
        msg = self.message()
        try:
            msg.ParseFromString(raw)
        except Exception as exc:  # protobuf raises DecodeError, a plain Exception subclass
            raise ValueError(f"undecodable event: {exc}") from exc
        self.check(msg)
        return msg


#: The schema versions this code reads, by version.
SCHEMAS: dict[str, EventSchema[Any]] = {}
_BY_MESSAGE: dict[type[Message], EventSchema[Any]] = {}
CURRENT_VERSION = "dossier.v1"


def register(schema: EventSchema[Any]) -> Callable[[], None]:
    """Read `schema` from now on; returns the function that forgets it again."""
    if schema.version in SCHEMAS or schema.message in _BY_MESSAGE:
        raise ValueError(f"schema version {schema.version} is already registered")
    SCHEMAS[schema.version] = schema
    _BY_MESSAGE[schema.message] = schema

    def forget() -> None:
        del SCHEMAS[schema.version]
        del _BY_MESSAGE[schema.message]

    return forget


def event_from_proto(msg: Message, seq: int = 0) -> DossierEvent:
    """The current domain event of a message of any registered version; `seq` is its arrival order."""
    schema = _BY_MESSAGE.get(type(msg))
    if schema is None:
        raise ValueError(f"no schema version reads {msg.DESCRIPTOR.full_name}")
    return schema.upcast(msg, seq)


def decode(raw: bytes, seq: int = 0, version: str = CURRENT_VERSION) -> DossierEvent:
    """The current domain event in `raw`, written with schema `version` (the topic's): for v1 the
    same as `event_from_proto(event_codec.decode_event(raw), seq)`, in one call."""
    schema = SCHEMAS[version]
    return schema.upcast(schema.parse(raw), seq)


register(EventSchema(CURRENT_VERSION, events_pb2.DossierEvent, event_from_v1, check_v1))
