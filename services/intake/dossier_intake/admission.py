"""Whether one event may be written: shape (`schemas`), the key's agencies, then the catalog.

Order of the checks, for an event that fails several: a malformed event is 422; a well-formed event
for an agency outside the key's patterns is 403 (the catalog is not consulted for it); a well-formed,
permitted event naming an agency or procedure missing from the catalog is 422.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dossier_core.catalog import Catalog
from dossier_core.events import EventType
from dossier_intake.schemas import EVENT_ADAPTER, Event
from dossier_runtime.api_keys import ApiKey

EVENT_TYPES = frozenset(t.value for t in EventType)
_TAG_ERRORS = {"union_tag_invalid", "union_tag_not_found"}


@dataclass(frozen=True)
class Rejection:
    """Why one event was not written, with the HTTP status it would get on its own."""

    status_code: int
    errors: list[dict[str, Any]]
    event_id: str | None = None
    event_type: str | None = None


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as `{"field": "data.channel", "message", "type"}`, without the union tag."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in err["loc"]]
        if loc and loc[0] in EVENT_TYPES:
            loc = loc[1:]
        field = ".".join(loc) or ("type" if err["type"] in _TAG_ERRORS else "event")
        message = err["msg"].removeprefix("Value error, ")
        out.append({"field": field, "message": message, "type": err["type"]})
    return out


def _guess(raw: Any, name: str) -> str | None:
    value = raw.get(name) if isinstance(raw, Mapping) else None
    return value if isinstance(value, str) and len(value) <= 128 else None


def admit(raw: Any, key: ApiKey, catalog: Catalog) -> Event | Rejection:
    try:
        event = EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        return Rejection(422, field_errors(exc), _guess(raw, "event_id"), _guess(raw, "type"))
    event_id = str(event.event_id)
    if not key.allows(event.agency_code):
        message = f"this API key may not write events of agency {event.agency_code!r}"
        return Rejection(403, [{"field": "agency_code", "message": message}], event_id, event.type)
    errors = []
    if event.agency_code not in catalog.agencies:
        errors.append({"field": "agency_code", "message": f"unknown agency {event.agency_code!r}"})
    procedure = getattr(event.data, "procedure_code", None)
    if procedure is not None and procedure not in catalog.procedures:
        errors.append({"field": "data.procedure_code", "message": f"unknown procedure {procedure!r}"})
    if errors:
        return Rejection(422, errors, event_id, event.type)
    return event
