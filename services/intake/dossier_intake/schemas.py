"""The event JSON of SPEC §3 as pydantic models: one model per type, told apart by `type`.

Shape and SPEC §3 bounds only: whether the agency and procedure exist, and whether the key may
write the agency, is checked in `admission`. Unknown fields are rejected everywhere; instants are
RFC 3339 with an offset, within 2000–2099 Vietnam time, `occurred_at` at most 24 hours ahead of the
clock; codes are printable ASCII; free text is at most 2,000 characters without control or
bidirectional formatting characters. The JSON Schema of each type says the same wherever JSON
Schema can (patterns, lengths); what it cannot (real dates, the dossier code's agency prefix, the
clock) is checked here all the same.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from dossier_core.calendar import VN_TZ
from dossier_intake.errors import FORBIDDEN, FORBIDDEN_CLASS, MAX_ERRORS

#: SPEC §3 bounds: every instant lies in these years (Vietnam time); `occurred_at` may be at most
#: `MAX_AHEAD` after the service's clock; free text is at most `MAX_TEXT` characters.
EARLIEST = datetime(2000, 1, 1, tzinfo=VN_TZ)
LATEST = datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=VN_TZ)
MAX_AHEAD = timedelta(hours=24)
MAX_TEXT = 2000
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
    WithJsonSchema(
        {"type": "string", "minLength": 13, "maxLength": MAX_DOSSIER_CODE, "pattern": DOSSIER_CODE_PATTERN}
    ),
]
ChannelName = Literal["direct", "online", "postal"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoData(_Strict):
    """`data` of the types that carry none: `{}` or left out."""


class SubmittedData(_Strict):
    procedure_code: Code
    channel: ChannelName


class NotAcceptedData(_Strict):
    reason: Text


class ReceivedData(_Strict):
    procedure_code: Code
    channel: ChannelName
    due_at: Instant | None = None
    applicant_type: Annotated[StrictInt, Field(ge=1, le=4)] | None = None
    on_site: StrictBool | None = None


class ProcessingData(_Strict):
    step: Text | None = None
    department: Text | None = None


class ReasonData(_Strict):
    reason: Text


class FeeRequestedData(_Strict):
    amount: Annotated[StrictInt, Field(ge=0, le=2**63 - 1)] | None = None


class RescheduledData(_Strict):
    new_appointment_at: Instant
    reason: Text


class ResolvedData(_Strict):
    result: Text | None = None


class WithdrawnData(_Strict):
    reason: Text | None = None


class _Envelope(_Strict):
    event_id: UUID
    agency_code: Code
    dossier_code: DossierCode
    occurred_at: OccurredAt

    @field_validator("dossier_code", mode="plain")
    @classmethod
    def _dossier_code(cls, value: Any, info: ValidationInfo) -> str:
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
            raise PydanticCustomError(
                "dossier_code_date", "{day} is not a yyMMdd date", {"day": day}
            ) from None
        agency = info.data.get("agency_code")
        if agency is not None and match["agency"] != agency:
            raise PydanticCustomError(
                "dossier_code_agency", "must start with the event's agency_code {agency}", {"agency": agency}
            )
        return value

    def to_json(self) -> dict[str, Any]:
        """The SPEC §3 JSON shape that `event_codec.event_to_proto` reads."""
        return self.model_dump(mode="python", exclude_none=True) | {"event_id": str(self.event_id)}


class Submitted(_Envelope):
    type: Literal["dossier.submitted"]
    data: SubmittedData


class NotAccepted(_Envelope):
    type: Literal["dossier.not_accepted"]
    data: NotAcceptedData


class Received(_Envelope):
    type: Literal["dossier.received"]
    data: ReceivedData


class Processing(_Envelope):
    type: Literal["dossier.processing"]
    data: ProcessingData = ProcessingData()


class SupplementRequested(_Envelope):
    type: Literal["dossier.supplement_requested"]
    data: ReasonData


class SupplementReceived(_Envelope):
    type: Literal["dossier.supplement_received"]
    data: NoData = NoData()


class FeeRequested(_Envelope):
    type: Literal["dossier.fee_requested"]
    data: FeeRequestedData = FeeRequestedData()


class FeePaid(_Envelope):
    type: Literal["dossier.fee_paid"]
    data: NoData = NoData()


class Suspended(_Envelope):
    type: Literal["dossier.suspended"]
    data: ReasonData


class Resumed(_Envelope):
    type: Literal["dossier.resumed"]
    data: NoData = NoData()


class Rescheduled(_Envelope):
    type: Literal["dossier.rescheduled"]
    data: RescheduledData


class Resolved(_Envelope):
    type: Literal["dossier.resolved"]
    data: ResolvedData = ResolvedData()


class Returned(_Envelope):
    type: Literal["dossier.returned"]
    data: NoData = NoData()


class Withdrawn(_Envelope):
    type: Literal["dossier.withdrawn"]
    data: WithdrawnData = WithdrawnData()


class Refused(_Envelope):
    type: Literal["dossier.refused"]
    data: ReasonData


Event = Annotated[
    Submitted
    | NotAccepted
    | Received
    | Processing
    | SupplementRequested
    | SupplementReceived
    | FeeRequested
    | FeePaid
    | Suspended
    | Resumed
    | Rescheduled
    | Resolved
    | Returned
    | Withdrawn
    | Refused,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
#: The field names an event, and the `data` of an event, may have (whatever its type).
EVENT_FIELDS = frozenset([*_Envelope.model_fields, "type", "data"])
DATA_FIELDS = frozenset(
    name
    for model in (
        SubmittedData,
        NotAcceptedData,
        ReceivedData,
        ProcessingData,
        ReasonData,
        FeeRequestedData,
        RescheduledData,
        ResolvedData,
        WithdrawnData,
    )
    for name in model.model_fields
)


class Accepted(_Strict):
    event_id: str
    status: Literal["accepted"] = "accepted"


class FieldError(_Strict):
    field: str = Field(description="dotted path of the bad field, relative to the event")
    message: str
    type: str | None = None


class Rejected(_Strict):
    event_id: str | None
    status: Literal["rejected"] = "rejected"
    status_code: Literal[403, 422]
    errors: Annotated[list[FieldError], Field(max_length=MAX_ERRORS)]
    errors_truncated: int | None = Field(
        default=None, ge=1, description="how many errors were left out beyond the first 20"
    )


class BatchResult(_Strict):
    results: list[Annotated[Accepted | Rejected, Field(discriminator="status")]]


class Health(_Strict):
    status: Literal["ok"] = "ok"


class Ready(_Strict):
    status: Literal["ready"] = "ready"
