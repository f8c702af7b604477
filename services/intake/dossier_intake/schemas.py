"""The event JSON of SPEC §3 as pydantic models: one model per type, told apart by `type`, each
mapping to the domain's event (`to_domain`: `dossier_core.events.DossierEvent` with the type's data
class from `dossier_core.event_data`).

Shape and SPEC §3 bounds only (the bounded values are in `bounded`): whether the agency and procedure
exist, and whether the key may write the agency, is checked in `admission`. Unknown fields are
rejected everywhere. The event types and the fields of their `data` are the domain's: the models
must cover `EventType` exactly (checked on import), and a unit test holds their fields, `events.proto`
and the OpenAPI examples to the domain's data classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast, get_args
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    TypeAdapter,
)

from dossier_core.codes import EventType
from dossier_core.event_data import DATA_CLASSES, EventData
from dossier_core.events import DossierEvent, MismatchedData, data_of
from dossier_intake.applicant import KEY_MISSING, ApplicantIn, ApplicantSealer
from dossier_intake.bounded import (
    ChannelName,
    Code,
    DossierCode,
    Instant,
    OccurredAt,
    PaymentChannelName,
    Text,
)
from dossier_intake.errors import MAX_ERRORS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Data(_Strict):
    """The `data` of one or more event types."""

    def to_domain(self, event_type: EventType, sealer: ApplicantSealer | None = None) -> EventData:
        """The domain's data of `event_type` with these fields."""
        data = data_of(event_type, self._domain_fields(sealer))
        if type(data) is MismatchedData:  # a model with a field the domain's type does not have
            raise TypeError(f"the data of {event_type} has no field {sorted(set(data) - set(data.fitting))}")
        return cast(EventData, data)

    def _domain_fields(self, sealer: ApplicantSealer | None) -> dict[str, Any]:
        return self.__dict__


class NoData(_Data):
    """`data` of the types that carry none: `{}` or left out."""


class SubmittedData(_Data):
    procedure_code: Code
    channel: ChannelName


class NotAcceptedData(_Data):
    reason: Text


class ReceivedData(_Data):
    procedure_code: Code
    channel: ChannelName
    due_at: Instant | None = None
    applicant_type: Annotated[StrictInt, Field(ge=1, le=4)] | None = None
    on_site: StrictBool | None = None
    digitised: StrictBool | None = None
    #: personal data: sealed into the domain's `applicant_sealed` before the event leaves intake
    applicant: ApplicantIn | None = None

    def _domain_fields(self, sealer: ApplicantSealer | None) -> dict[str, Any]:
        fields = dict(self.__dict__)
        applicant = fields.pop("applicant")
        if applicant is not None:
            if sealer is None:
                raise ValueError(KEY_MISSING)
            fields["applicant_sealed"] = sealer.seal(applicant)
        return fields


class ProcessingData(_Data):
    step: Text | None = None
    department: Text | None = None


class ReasonData(_Data):
    reason: Text


class FeeRequestedData(_Data):
    amount: Annotated[StrictInt, Field(ge=0, le=2**63 - 1)] | None = None


class FeePaidData(_Data):
    payment_channel: PaymentChannelName | None = None


class RescheduledData(_Data):
    new_appointment_at: Instant
    reason: Text


class ResolvedData(_Data):
    result: Text | None = None


class WithdrawnData(_Data):
    reason: Text | None = None


class _Envelope(_Strict):
    event_id: UUID
    agency_code: Code
    dossier_code: DossierCode
    occurred_at: OccurredAt
    if TYPE_CHECKING:  # each model declares its own (pydantic's field order stays that of SPEC §3)
        type: str
        data: _Data

    def to_domain(self, sealer: ApplicantSealer | None = None) -> DossierEvent:
        """The domain event this JSON describes, its applicant data (if any) sealed with `sealer`
        (`ValueError` without one: applicant data is never written in clear)."""
        event_type = _EVENT_TYPES[self.type]
        return DossierEvent(
            str(self.event_id),
            event_type,
            self.dossier_code,
            self.agency_code,
            self.occurred_at,
            self.data.to_domain(event_type, sealer),
        )

    def to_json(self) -> dict[str, Any]:
        """The SPEC §3 JSON shape with Python values (datetimes), as `event_codec.event_to_proto`
        also reads it."""
        return self.model_dump(mode="python", exclude_none=True) | {"event_id": str(self.event_id)}


_EVENT_TYPES: Mapping[str, EventType] = {event_type.value: event_type for event_type in EventType}


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
    data: FeePaidData = FeePaidData()


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
#: The model of each event type.
EVENT_MODELS: Mapping[EventType, type[_Envelope]] = MappingProxyType(
    {
        EventType(get_args(model.model_fields["type"].annotation)[0]): model
        for model in get_args(get_args(Event)[0])
    }
)
if set(EVENT_MODELS) != set(EventType):
    raise TypeError(f"event types without exactly one model: {set(EventType) ^ set(EVENT_MODELS)}")
#: The field names an event, and the `data` of an event, may have (whatever its type).
EVENT_FIELDS = frozenset([*_Envelope.model_fields, "type", "data"])
DATA_FIELDS = frozenset([*(name for cls in DATA_CLASSES.values() for name in cls.FIELDS), "applicant"])


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
