"""The bounded values of SPEC §3 events as pydantic types: instants, codes, the dossier code's
pattern and free text, each with the JSON Schema that says the same wherever JSON Schema can.

Instants are RFC 3339 with an offset, within 2000–2099 Vietnam time, `occurred_at` at most 24 hours
ahead of the clock; codes are printable ASCII; free text is at most 2,000 characters without control
or bidirectional formatting characters. What JSON Schema cannot say (real dates, the clock) is
checked here all the same, as is the dossier code's agency prefix (the event's `agency_code`, which
the models declare before it).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import PlainValidator, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

from dossier_core.calendar import VN_TZ
from dossier_core.contract_bounds import EARLIEST, LATEST, MAX_TEXT
from dossier_intake.errors import FORBIDDEN, FORBIDDEN_CLASS

#: SPEC §3 bounds: every instant lies in these years (Vietnam time); `occurred_at` may be at most
#: `MAX_AHEAD` after the service's clock; free text is at most `MAX_TEXT` characters.
MAX_AHEAD = timedelta(hours=24)
MAX_CODE = 64
MAX_DOSSIER_CODE = 96

#: RFC 3339 `date-time` (the OpenAPI `format: date-time`): seconds and an offset are required.
RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
#: A code: printable ASCII without spaces.
CODE = re.compile(r"[!-~]+")
CODE_PATTERN = "^[!-~]+$"
#: `{agency code}-{yyMMdd}-{sequence of 4 to 10 ASCII digits}` (DOMAIN.md), e.g.
#: `000.00.18.H43-210405-0001`.
DOSSIER_CODE = re.compile(r"(?P<agency>[!-~]+)-(?P<day>[0-9]{6})-(?P<seq>[0-9]{4,10})")
DOSSIER_CODE_PATTERN = "^[!-~]+-[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])-[0-9]{4,10}$"
#: Free text: no forbidden character, and at least one character that is not whitespace
#: (`str.strip()` removes exactly this whitespace once the forbidden characters are out).
_SPACE_CLASS = r"\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = rf"^[^{FORBIDDEN_CLASS}]*[^{FORBIDDEN_CLASS}{_SPACE_CLASS}][^{FORBIDDEN_CLASS}]*$"


def _first_bad(value: str, pattern: re.Pattern[str], *, matching: bool) -> str:
    """`character N is U+XXXX`: the first character (1-based) that matches `pattern` (or, with
    `matching=False`, that does not)."""
    for position, char in enumerate(value, 1):
        if (pattern.fullmatch(char) is not None) is matching:
            return f"character {position} is U+{ord(char):04X}"
    return "a character is not allowed"


def _instant(value: Any) -> datetime:
    """An RFC 3339 date-time with an offset, within 2000–2099 Vietnam time. Numbers are not taken as
    Unix seconds, naive times and dates alone are refused."""
    if isinstance(value, datetime):
        parsed = value
        if parsed.utcoffset() is None:
            raise PydanticCustomError("timezone_aware", "must carry an offset")
    elif isinstance(value, str) and len(value) <= 40 and RFC3339.fullmatch(value):
        try:
            parsed = datetime.fromisoformat(value.upper())
        except ValueError:
            raise PydanticCustomError("datetime_from_date_parsing", "is not a real date and time") from None
    else:
        raise PydanticCustomError(
            "datetime_type",
            "must be an RFC 3339 date-time string with an offset, like 2021-04-05T09:15:00+07:00",
        )
    # Any offset is less than a day, so only the first and last years need the exact comparison.
    if not EARLIEST.year < parsed.year < LATEST.year and not EARLIEST <= parsed <= LATEST:
        raise PydanticCustomError(
            "instant_out_of_range",
            "must lie between 2000-01-01T00:00:00 and 2099-12-31T23:59:59.999999 Vietnam time (+07:00)",
        )
    return parsed


def _occurred_at(value: Any, info: ValidationInfo) -> datetime:
    """An `_instant` at most `MAX_AHEAD` after the clock given as `context={"now": ...}` (else the
    real one)."""
    parsed = _instant(value)
    now = info.context.get("now") if isinstance(info.context, dict) else None
    if not isinstance(now, datetime):
        now = datetime.now(UTC)
    if parsed > now + MAX_AHEAD:
        raise PydanticCustomError(
            "instant_in_future",
            "must be at most 24 hours after the service's clock ({now})",
            {"now": now.astimezone(VN_TZ).isoformat(timespec="seconds")},
        )
    return parsed


def _code(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    if not 1 <= len(value) <= MAX_CODE:
        raise PydanticCustomError("string_length", f"must be 1 to {MAX_CODE} characters long")
    if not CODE.fullmatch(value):
        raise PydanticCustomError(
            "code_not_ascii",
            "must be printable ASCII without spaces; {where}",
            {"where": _first_bad(value, CODE, matching=False)},
        )
    return value


def _free_text(value: Any) -> str:
    """At most `MAX_TEXT` characters as sent, none of them forbidden, not blank; trimmed."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    if len(value) > MAX_TEXT:
        raise PydanticCustomError(
            "string_too_long",
            f"must be at most {MAX_TEXT} characters; this one has {{length}}",
            {"length": len(value)},
        )
    if FORBIDDEN.search(value):
        raise PydanticCustomError(
            "text_forbidden_character",
            "must not contain control or bidirectional formatting characters; {where}",
            {"where": _first_bad(value, FORBIDDEN, matching=True)},
        )
    text = value.strip()
    if not text:
        raise PydanticCustomError("string_too_short", "must not be blank")
    return text


def _dossier_code(value: Any, info: ValidationInfo) -> str:
    """`<agency_code>-<yyMMdd>-<sequence>` in printable ASCII, a real date, the event's agency."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    match = DOSSIER_CODE.fullmatch(value) if len(value) <= MAX_DOSSIER_CODE else None
    if match is None:
        raise PydanticCustomError(
            "dossier_code_shape",
            "must be <agency_code>-<yyMMdd>-<sequence of 4 to 10 digits>, in printable ASCII, "
            f"at most {MAX_DOSSIER_CODE} characters",
        )
    day = match["day"]
    try:
        date(2000 + int(day[:2]), int(day[2:4]), int(day[4:]))  # 2000+yy: the same leap years as 19yy
    except ValueError:
        raise PydanticCustomError("dossier_code_date", "{day} is not a yyMMdd date", {"day": day}) from None
    agency = info.data.get("agency_code")
    if agency is not None and match["agency"] != agency:
        raise PydanticCustomError(
            "dossier_code_agency", "must start with the event's agency_code {agency}", {"agency": agency}
        )
    return value


_INSTANT_SCHEMA = {
    "type": "string",
    "format": "date-time",
    "description": "RFC 3339 with an offset, within 2000-01-01 … 2099-12-31 Vietnam time",
}
Instant = Annotated[datetime, PlainValidator(_instant), WithJsonSchema(_INSTANT_SCHEMA)]
OccurredAt = Annotated[datetime, PlainValidator(_occurred_at), WithJsonSchema(_INSTANT_SCHEMA)]
Text = Annotated[
    str,
    PlainValidator(_free_text),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": TEXT_PATTERN}),
]
Code = Annotated[
    str,
    PlainValidator(_code),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_CODE, "pattern": CODE_PATTERN}),
]
DossierCode = Annotated[
    str,
    PlainValidator(_dossier_code),
    WithJsonSchema(
        {"type": "string", "minLength": 13, "maxLength": MAX_DOSSIER_CODE, "pattern": DOSSIER_CODE_PATTERN}
    ),
]
ChannelName = Literal["direct", "online", "postal"]
#: `dossier.fee_paid`'s `payment_channel` (`dossier_core.codes.PAYMENT_CHANNELS`).
PaymentChannelName = Literal["online", "direct", "postal"]
