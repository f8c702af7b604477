"""Whether one event may be written: shape and bounds (`schemas`), the key's agencies, then the catalog.

Order of the checks, for an event that fails several: a malformed event is 422; a well-formed event
for an agency outside the key's patterns is 403 (the catalog is not consulted for it); a well-formed,
permitted event naming an agency or procedure missing from the catalog is 422, and so is one whose
agency was not valid on the event's date (Vietnam time), beyond the grace period after its `valid_to`
(`dossier_core.restructuring`); so is one carrying applicant data when the service has no key to seal
it with (`applicant`: it is never written in clear). Validity is decided here, at admission, once:
processing folds every event it is given, so an event taken in the grace period, replayed from the
dead letters or sent again is never refused downstream.

`admit` never raises, whatever JSON-like value it is given, and a rejection lists at most
`MAX_ERRORS` errors, each bounded in length (`errors`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.events import EventType
from dossier_core.restructuring import DEFAULT_GRACE_DAYS, validity_refusal
from dossier_intake.applicant import KEY_MISSING
from dossier_intake.errors import MAX_ERRORS, bounded_error, first_errors
from dossier_intake.schemas import DATA_FIELDS, EVENT_ADAPTER, EVENT_FIELDS, Event
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
    errors_truncated: int = field(default=0)


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as `{"field": "data.channel", "message", "type"}`, without the union tag,
    field names and messages bounded in length."""
    out = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(part) for part in err["loc"]]
        if loc and loc[0] in EVENT_TYPES:
            loc = loc[1:]
        name = ".".join(loc) or ("type" if err["type"] in _TAG_ERRORS else "event")
        out.append(bounded_error(name, err["msg"].removeprefix("Value error, "), err["type"]))
    return out


def _some_unknown_keys(mapping: dict[Any, Any], known: frozenset[str]) -> tuple[dict[Any, Any], int]:
    """`mapping` with at most `MAX_ERRORS` unknown keys, and how many unknown keys were left out.

    Each unknown key is one error; there is no use validating hundreds of thousands of them only to
    list the first twenty."""
    if len(mapping) <= len(known) + MAX_ERRORS:
        return mapping, 0
    kept: dict[Any, Any] = {}
    unknown = 0
    for name, value in mapping.items():
        if name in known:
            kept[name] = value
        elif unknown < MAX_ERRORS:
            kept[name] = value
            unknown += 1
    return kept, len(mapping) - len(kept)


def _trimmed(raw: Any) -> tuple[Any, int]:
    if not isinstance(raw, dict):
        return raw, 0
    event, left_out = _some_unknown_keys(raw, EVENT_FIELDS)
    data = event.get("data")
    if isinstance(data, dict):
        kept, data_left_out = _some_unknown_keys(data, DATA_FIELDS)
        if data_left_out:
            event = {**event, "data": kept}
            left_out += data_left_out
    return event, left_out


def _guess(raw: Any, name: str) -> str | None:
    """A value that may identify a malformed event to its sender: a short printable ASCII string."""
    value = raw.get(name) if isinstance(raw, Mapping) else None
    if isinstance(value, str) and len(value) <= 64 and value.isascii() and value.isprintable():
        return value
    return None


def _validated(raw: Any, context: dict[str, Any]) -> Event | Rejection:
    """The event if its shape and bounds are right, else a 422 with at most `MAX_ERRORS` errors.
    `context` is `{"now": the service's clock}`."""
    event, left_out = _trimmed(raw)
    try:
        return EVENT_ADAPTER.validate_python(event, context=context)
    except ValidationError as exc:
        errors = field_errors(exc)
    if left_out and any(e["type"] == "extra_forbidden" for e in errors):
        total = len(errors) + left_out
    else:
        total = len(errors)
    listed, truncated = first_errors(errors, total)
    return Rejection(422, listed, _guess(raw, "event_id"), _guess(raw, "type"), truncated)


class Admission:
    """The checks of one request: its key, the catalog and the clock, with each agency's verdict for
    the key worked out once however many of the request's events name it. `grace_days`: how long
    after its `valid_to` an agency's events are still taken; `takes_applicant`: whether the service
    can seal applicant data (else an event carrying it is refused)."""

    def __init__(
        self,
        key: ApiKey,
        catalog: Catalog,
        now: datetime,
        grace_days: int = DEFAULT_GRACE_DAYS,
        *,
        takes_applicant: bool = False,
    ) -> None:
        self.key, self.catalog, self.grace_days = key, catalog, grace_days
        self.takes_applicant = takes_applicant
        self._context = {"now": now}
        self._allowed: dict[str, bool] = {}

    def admit(self, raw: Any) -> Event | Rejection:
        """The event, or why it may not be written."""
        outcome = _validated(raw, self._context)
        if isinstance(outcome, Rejection):
            return outcome
        event = outcome
        agency = event.agency_code
        allowed = self._allowed.get(agency)
        if allowed is None:
            allowed = self._allowed[agency] = self.key.allows(agency)
        if not allowed:
            message = f"this API key may not write events of agency {agency!r}"
            return Rejection(
                403, [{"field": "agency_code", "message": message}], str(event.event_id), event.type
            )
        errors = []
        known = self.catalog.agencies.get(agency)
        if known is None:
            errors.append({"field": "agency_code", "message": f"unknown agency {agency!r}"})
        elif known.valid_from is not None or known.valid_to is not None:
            day = event.occurred_at.astimezone(VN_TZ).date()
            refusal = validity_refusal(known, day, self.grace_days)
            if refusal is not None:
                errors.append({"field": "agency_code", "message": refusal})
        procedure = event.data.__dict__.get("procedure_code")  # a plain read: no pydantic fallback
        if procedure is not None and procedure not in self.catalog.procedures:
            errors.append({"field": "data.procedure_code", "message": f"unknown procedure {procedure!r}"})
        if not self.takes_applicant and event.data.__dict__.get("applicant") is not None:
            errors.append({"field": "data.applicant", "message": KEY_MISSING})
        if errors:
            return Rejection(422, errors, str(event.event_id), event.type)
        return event


def admit(
    raw: Any, key: ApiKey, catalog: Catalog, now: datetime, grace_days: int = DEFAULT_GRACE_DAYS
) -> Event | Rejection:
    """The event, or why it may not be written. `now` is the service's clock (aware)."""
    return Admission(key, catalog, now, grace_days).admit(raw)
