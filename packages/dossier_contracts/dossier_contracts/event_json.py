"""Domain events ↔ the event JSON of SPEC §3 (`event_id`, `type`, `dossier_code`, `agency_code`,
`occurred_at`, `data`), with instants as ISO 8601 strings, the channel as its word and bytes (the
sealed applicant data) as standard base64."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from dossier_core.codes import EventType
from dossier_core.events import DossierEvent

__all__ = ["data_to_json", "event_from_json", "event_to_json"]

_EVENT_TYPES = {event_type.value: event_type for event_type in EventType}  # cheaper than EventType()


def event_from_json(event: Mapping[str, Any], seq: int = 0) -> DossierEvent:
    """The domain event of a SPEC §3 JSON event (validated beforehand: this only translates).
    `ValueError` for a type, instant or value that does not fit."""
    occurred_at = event["occurred_at"]
    if not isinstance(occurred_at, datetime):
        occurred_at = datetime.fromisoformat(occurred_at)
    event_type = _EVENT_TYPES.get(event["type"])
    if event_type is None:
        raise ValueError(f"unknown event type {event['type']!r}")
    return DossierEvent(
        str(event["event_id"]),
        event_type,
        event["dossier_code"],
        event["agency_code"],
        occurred_at,
        event.get("data") or {},
        seq,
    )


def data_to_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """The `data` object: the fields that are set, instants in ISO 8601, enums as their value, bytes in
    base64."""
    return {name: _json_value(value) for name, value in data.items()}


def event_to_json(event: DossierEvent) -> dict[str, Any]:
    """The SPEC §3 JSON of a domain event."""
    return {
        "event_id": event.event_id,
        "type": event.type.value,
        "dossier_code": event.dossier_code,
        "agency_code": event.agency_code,
        "occurred_at": event.occurred_at.isoformat(),
        "data": data_to_json(event.data),
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
