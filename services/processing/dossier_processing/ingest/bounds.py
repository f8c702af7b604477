"""SPEC §3 bounds, checked again on every decoded event before it reaches the domain.

Intake refuses events outside these bounds, but the topic may also hold events from an older intake or
from any other producer. Such an event is dead-lettered (`out_of_bounds`) instead of reaching the working
calendar or the database. The checks are the ones that protect the consumer; intake's finer rules on text
(control and bidirectional characters) are not repeated, so nothing intake accepts is refused here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timezone, tzinfo

from dossier_core import contract_bounds
from dossier_core.calendar import VN_TZ
from dossier_core.events import DossierEvent

#: Every instant lies in 2000-01-01 … 2099-12-31, Vietnam time (compared in UTC: cheaper).
EARLIEST = contract_bounds.EARLIEST.astimezone(UTC)
END = contract_bounds.END.astimezone(UTC)
MAX_CODE_LENGTH = 128
MAX_TEXT_LENGTH = contract_bounds.MAX_TEXT
_CODE_FIELDS = frozenset({"procedure_code"})
#: `dossier.received`'s sealed applicant data: the largest applicant intake takes (a 200-character
#: name, 20-character id, phone, 254-character email) seals to under 1.5 KB.
MAX_SEALED_BYTES = 4096
#: The bounds on the clocks events come on (Vietnam's, and each sender's fixed offset seen so far, at
#: most 2,879): two instants on the same clock compare by their fields, far cheaper than across clocks.
#: Exact because these clocks keep one offset over the years the bounds stand in.
_BOUNDS_ON: dict[tzinfo | None, tuple[datetime, datetime]] = {
    tz: (EARLIEST.astimezone(tz), END.astimezone(tz)) for tz in (UTC, VN_TZ)
}


def _in_range(t: datetime) -> bool:
    """`EARLIEST <= t < END`, on `t`'s own clock when it keeps one offset."""
    bounds = _BOUNDS_ON.get(t.tzinfo)
    if bounds is None:
        zone = t.tzinfo
        if type(zone) is not timezone:
            return EARLIEST <= t < END
        bounds = _BOUNDS_ON[zone] = (EARLIEST.astimezone(zone), END.astimezone(zone))
    return bounds[0] <= t < bounds[1]


def _code_ok(value: str) -> bool:
    """Printable ASCII without spaces, at most `MAX_CODE_LENGTH` characters (C-level string checks)."""
    return len(value) <= MAX_CODE_LENGTH and value.isascii() and value.isprintable() and " " not in value


def _data_ok(data: Mapping[str, object]) -> bool:
    for name, value in data.items():
        if isinstance(value, datetime):
            if not _in_range(value):
                return False
        elif isinstance(value, str):
            if name in _CODE_FIELDS:
                if not _code_ok(value):
                    return False
            elif len(value) > MAX_TEXT_LENGTH or "\x00" in value:
                return False
        elif isinstance(value, bytes) and len(value) > MAX_SEALED_BYTES:
            return False
    return True


def out_of_bounds(event: DossierEvent) -> str | None:
    """What puts the event outside the bounds, or `None` when it is within them."""
    if (
        event.event_id
        and event.dossier_code
        and event.agency_code
        and _code_ok(event.event_id)
        and _code_ok(event.dossier_code)
        and _code_ok(event.agency_code)
        and _in_range(event.occurred_at)
        and _data_ok(event.data)
    ):
        return None
    return "; ".join(_problems(event)[:20])


def _problems(event: DossierEvent) -> list[str]:
    """Every bound the event breaks, each naming its field (the slow path, for rejected events only)."""
    problems = [
        _code_problem("event_id", event.event_id, required=True),
        _code_problem("dossier_code", event.dossier_code, required=True),
        _code_problem("agency_code", event.agency_code, required=True),
        _instant_problem("occurred_at", event.occurred_at),
    ]
    for name, value in event.data.items():
        if isinstance(value, datetime):
            problems.append(_instant_problem(f"data.{name}", value))
        elif isinstance(value, str) and name in _CODE_FIELDS:
            problems.append(_code_problem(f"data.{name}", value, required=False))
        elif isinstance(value, str):
            if len(value) > MAX_TEXT_LENGTH:
                problems.append(f"data.{name} is longer than {MAX_TEXT_LENGTH} characters")
            elif "\x00" in value:
                problems.append(f"data.{name} contains a NUL character")
        elif isinstance(value, bytes) and len(value) > MAX_SEALED_BYTES:
            problems.append(f"data.{name} is longer than {MAX_SEALED_BYTES} bytes")
    return [p for p in problems if p is not None]


def _code_problem(name: str, value: str, *, required: bool) -> str | None:
    if not value:
        return f"{name} is empty" if required else None
    if len(value) > MAX_CODE_LENGTH:
        return f"{name} is longer than {MAX_CODE_LENGTH} characters"
    if not _code_ok(value):
        return f"{name} has characters other than printable ASCII"
    return None


def _instant_problem(name: str, value: datetime) -> str | None:
    if not EARLIEST <= value < END:
        return f"{name} {value.isoformat()} is outside 2000-01-01 … 2099-12-31 (Vietnam time)"
    return None
