"""The event JSON of SPEC §3 as pydantic models: one model per type, told apart by `type`.

Shape only: whether the agency and procedure exist, and whether the key may write the agency, is
checked in `admission`. Unknown fields are rejected everywhere; times must carry an offset.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)

MAX_TEXT = 4000
#: `{agency code}-{yyMMdd}-{sequence of 4+ digits}` (DOMAIN.md), e.g. `000.00.18.H43-210405-0001`.
DOSSIER_CODE = re.compile(r"^(?P<agency>\S+)-(?P<day>\d{6})-(?P<seq>\d{4,10})$")


def _iso_instant(value: Any) -> Any:
    """Only ISO 8601 strings (or datetimes) are times; numbers are not taken as Unix seconds."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string with an offset")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not an ISO 8601 date-time") from None


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_instant)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^\S+$")]
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
    dossier_code: Annotated[str, StringConstraints(min_length=1, max_length=96)]
    occurred_at: Instant

    @field_validator("dossier_code")
    @classmethod
    def _dossier_code_names_the_agency(cls, value: str, info: ValidationInfo) -> str:
        match = DOSSIER_CODE.match(value)
        if match is None:
            raise ValueError("must look like {agency_code}-{yyMMdd}-{sequence of 4+ digits}")
        try:
            datetime.strptime(match["day"], "%y%m%d")
        except ValueError:
            raise ValueError(f"{match['day']!r} is not a yyMMdd date") from None
        agency = info.data.get("agency_code")
        if agency is not None and match["agency"] != agency:
            raise ValueError(f"must start with the event's agency_code {agency!r}")
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


class EventBatch(_Strict):
    """Only the envelope of a batch: each item is checked on its own so one bad event rejects only
    itself."""

    events: list[Any]


class Accepted(_Strict):
    event_id: str
    status: Literal["accepted"] = "accepted"


class FieldError(_Strict):
    field: str
    message: str
    type: str | None = None


class Rejected(_Strict):
    event_id: str | None
    status: Literal["rejected"] = "rejected"
    status_code: int
    errors: list[FieldError]


class BatchResult(_Strict):
    results: list[Annotated[Accepted | Rejected, Field(discriminator="status")]]
