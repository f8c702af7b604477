"""A dossier event: the envelope every event shares (SPEC §3) around the typed data of its type.

`DossierEvent(event_id, type, dossier_code, agency_code, occurred_at, data, seq)` mirrors the SPEC §3
JSON. Its `data` is the type's data class from `event_data` (e.g. `DossierReceived(...)`); a mapping
with Python or JSON values (`{"channel": "direct", "due_at": "2021-04-07T17:00:00+07:00"}`) is
converted to it by `data_of`. `seq` is the arrival order, used only to break ties between events with
the same `occurred_at`.

The codes (`EventType`, `Channel`, `StatusCode`, `STATUS_LABELS`) and `EVENT_STATUS` are importable
from here too.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args, get_type_hints

from dossier_core.codes import STATUS_LABELS, Channel, EventType, StatusCode
from dossier_core.event_data import DATA_CLASSES, EVENT_STATUS, EventData

__all__ = [
    "EVENT_STATUS",
    "STATUS_LABELS",
    "Channel",
    "DossierEvent",
    "EventData",
    "EventType",
    "MismatchedData",
    "StatusCode",
    "data_of",
    "parse_instant",
]


@dataclass(frozen=True, init=False)
class DossierEvent:
    """One thing that happened to a dossier."""

    event_id: str
    type: EventType
    dossier_code: str
    agency_code: str
    occurred_at: datetime
    data: EventData | MismatchedData
    seq: int = 0

    def __init__(
        self,
        event_id: str,
        type: EventType,
        dossier_code: str,
        agency_code: str,
        occurred_at: datetime,
        data: EventData | Mapping[str, Any] | None = None,
        seq: int = 0,
    ) -> None:
        if occurred_at.utcoffset() is None:
            raise ValueError(f"occurred_at must carry an offset: {occurred_at.isoformat()}")
        data_type = None if data.__class__ is dict else getattr(data, "TYPE", None)  # no ABC isinstance
        if data_type is None:
            data = data_of(type, data or {})
        elif data_type is not type:
            raise ValueError(f"a {type} event cannot carry the data of {data_type}")
        # Set as a frozen dataclass's own __init__ would, at a third of its cost: events are made
        # on the hot path.
        fields = self.__dict__
        fields["event_id"] = event_id
        fields["type"] = type
        fields["dossier_code"] = dossier_code
        fields["agency_code"] = agency_code
        fields["occurred_at"] = occurred_at
        fields["data"] = data
        fields["seq"] = seq

    def with_seq(self, seq: int) -> DossierEvent:
        """The same event with another arrival order (a field copy: nothing to check again)."""
        copy = object.__new__(DossierEvent)
        vars(copy).update(vars(self), seq=seq)
        return copy


@dataclass(frozen=True)
class MismatchedData(Mapping[str, Any]):
    """A `data` mapping with keys its event type does not have. Only a Python caller can make one
    (nothing decoded from the topic is one): it reads as given, and the fold uses `fitting`, the
    fields the type has."""

    fitting: EventData
    given: Mapping[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.given[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.given)

    def __len__(self) -> int:
        return len(self.given)


def data_of(event_type: EventType, values: Mapping[str, Any]) -> EventData | MismatchedData:
    """The data of `event_type` from a mapping with Python or JSON values (`None`: absent). A value
    of the wrong kind raises `ValueError`; keys of other types give a `MismatchedData`."""
    kinds = _KINDS[event_type]
    known: dict[str, Any] = {}
    foreign = False
    for name, value in values.items():
        if value is None:
            continue
        kind = kinds.get(name)
        if kind is None:
            foreign = True
        elif type(value) is kind and kind is not datetime:
            known[name] = value  # most values are already of their kind
        elif kind is Channel and type(value) is str and value in _CHANNELS:
            known[name] = _CHANNELS[value]  # a channel's word
        else:
            known[name] = _converted(name, kind, value)
    data = DATA_CLASSES[event_type].from_typed(known)
    return MismatchedData(data, dict(values)) if foreign else data


def parse_instant(value: object) -> datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string; `None` if it is not one."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo is not None and parsed.utcoffset() is not None else None


def _converted(name: str, kind: type, value: object) -> Any:
    """`value` as a field of `kind`: an instant with an offset (or its ISO 8601 text), a channel (or
    its word), bytes (or their base64), else a value of that very kind (bool is an int in Python, but
    not in JSON)."""
    if kind is datetime:
        parsed = parse_instant(value)
        if parsed is None:
            raise ValueError(f"data.{name} {value!r} is not an instant with an offset")
        return parsed
    if kind is Channel:
        channel = _CHANNELS.get(value) if isinstance(value, str) else None
        if channel is None:
            raise ValueError(f"data.{name} {value!r} is not a channel ({'|'.join(Channel)})")
        return channel
    if kind is bytes and isinstance(value, str):  # JSON carries bytes as standard base64
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise ValueError(f"data.{name} is not base64") from None
    if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    raise ValueError(f"data.{name} {value!r} is not {kind.__name__}")


_CHANNELS = {channel.value: channel for channel in Channel}  # cheaper than calling Channel()


def _kind(hint: object) -> type:
    """`X | None` → X."""
    kind: type = next(arg for arg in get_args(hint) if arg is not type(None))
    return kind


#: The kind of each `data` field of each event type, from the data classes' annotations.
_KINDS: Mapping[EventType, Mapping[str, type]] = {
    event_type: {name: _kind(hint) for name, hint in get_type_hints(cls).items() if name in cls.FIELDS}
    for event_type, cls in DATA_CLASSES.items()
}
