"""What happened to a dossier: one frozen dataclass per SPEC §3 event type, holding its typed `data`.

Each class says its event type (`TYPE`) and the national status the event leads to (`STATUS`; `None`
leaves the status as it was). Its fields are the event's `data`, typed: instants are aware datetimes,
the channel is a `Channel`, codes and texts are `str`, the amount and the applicant type are `int`,
the sealed applicant data `bytes`.
These classes are the one definition of the event types on the Python side: `DATA_CLASSES` and
`EVENT_STATUS` are built from them, intake's schemas map onto them, intake's OpenAPI examples are
made of them, and a unit test checks `events.proto` against them.

Every field may be absent (`None`): the domain takes whatever the topic can carry (proto3 leaves an
empty string absent). Intake is where the fields SPEC §3 requires are enforced.

The data of an event is also a read-only mapping of its fields that are set: the SPEC §3 `data`
object with Python values (`dict(data)`, `data["due_at"]`).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass, fields
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar, Self, cast

from dossier_core.codes import Channel, EventType, StatusCode

__all__ = [
    "DATA_CLASSES",
    "EVENT_STATUS",
    "DossierNotAccepted",
    "DossierReceived",
    "DossierRefused",
    "DossierRescheduled",
    "DossierResolved",
    "DossierResumed",
    "DossierSubmitted",
    "DossierSuspended",
    "DossierWithdrawn",
    "EventData",
    "FeePaid",
    "FeeRequested",
    "ProcessingStarted",
    "ResultReturned",
    "SupplementReceived",
    "SupplementRequested",
]


class EventData(Mapping[str, Any]):
    """The data of one event type; read as a mapping, it holds the fields that are set."""

    TYPE: ClassVar[EventType]
    STATUS: ClassVar[StatusCode | None]
    #: The field names, in the order of SPEC §3 (set once the classes are defined).
    FIELDS: ClassVar[tuple[str, ...]] = ()

    # The instance's own `__dict__` holds exactly the fields that are set: the mapping reads it
    # directly (C speed, for the consumer's checks on every event), and a field left out reads as
    # its class default, None.

    @classmethod
    def from_typed(cls, values: Mapping[str, Any]) -> Self:
        """The data with these fields set, their values already of the right types and none of them
        None (as a decoder makes them): nothing is checked, at a quarter of the checked constructor's
        cost."""
        data = object.__new__(cls)
        data.__dict__.update(values)
        return data

    def __post_init__(self) -> None:
        fields = self.__dict__
        for name in [name for name, value in fields.items() if value is None]:
            del fields[name]

    def __getitem__(self, key: str) -> Any:
        return self.__dict__[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __len__(self) -> int:
        return len(self.__dict__)

    def __contains__(self, key: object) -> bool:
        return key in self.__dict__

    def keys(self) -> KeysView[str]:
        return self.__dict__.keys()

    def items(self) -> ItemsView[str, Any]:
        return self.__dict__.items()

    def values(self) -> ValuesView[Any]:
        return self.__dict__.values()

    def as_dict(self) -> dict[str, Any]:
        """The fields that are set, by name (a new dict)."""
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class DossierSubmitted(EventData):
    """`dossier.submitted`: status 1, the clock has not started (e.g. an online submission)."""

    TYPE = EventType.SUBMITTED
    STATUS = StatusCode.SUBMITTED
    procedure_code: str | None = None
    channel: Channel | None = None


@dataclass(frozen=True, kw_only=True)
class DossierNotAccepted(EventData):
    """`dossier.not_accepted`: status 3, terminal; the dossier is not counted as received."""

    TYPE = EventType.NOT_ACCEPTED
    STATUS = StatusCode.NOT_ACCEPTED
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class DossierReceived(EventData):
    """`dossier.received`: status 2, the legal clock starts. `due_at` is the appointment printed on
    the receipt; `applicant_type` 1 citizen, 2 enterprise, 3 agency, 4 other; `on_site` "4 tại chỗ";
    `digitised` the dossier's papers were scanned into its electronic file at receipt;
    `applicant_sealed` the applicant's personal data, sealed by intake so that only processing can
    open it (the domain never reads it; docs/security.md)."""

    TYPE = EventType.RECEIVED
    STATUS = StatusCode.RECEIVED
    procedure_code: str | None = None
    channel: Channel | None = None
    due_at: datetime | None = None
    applicant_type: int | None = None
    on_site: bool | None = None
    digitised: bool | None = None
    applicant_sealed: bytes | None = None


@dataclass(frozen=True, kw_only=True)
class ProcessingStarted(EventData):
    """`dossier.processing`: status 4, the agency works on the dossier (at a `step`, in a `department`)."""

    TYPE = EventType.PROCESSING
    STATUS = StatusCode.PROCESSING
    step: str | None = None
    department: str | None = None


@dataclass(frozen=True, kw_only=True)
class SupplementRequested(EventData):
    """`dossier.supplement_requested`: status 5, the clock pauses until the citizen completes the dossier."""

    TYPE = EventType.SUPPLEMENT_REQUESTED
    STATUS = StatusCode.SUPPLEMENT_REQUESTED
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class SupplementReceived(EventData):
    """`dossier.supplement_received`: status 4, the clock resumes (the procedure's extend or restart)."""

    TYPE = EventType.SUPPLEMENT_RECEIVED
    STATUS = StatusCode.PROCESSING


@dataclass(frozen=True, kw_only=True)
class FeeRequested(EventData):
    """`dossier.fee_requested`: status 6, the clock pauses until the fee (`amount`, VND) is paid."""

    TYPE = EventType.FEE_REQUESTED
    STATUS = StatusCode.FEE_REQUESTED
    amount: int | None = None


@dataclass(frozen=True, kw_only=True)
class FeePaid(EventData):
    """`dossier.fee_paid`: status 4, the clock resumes (extend). `payment_channel` is how the fee
    was paid, one of `codes.PAYMENT_CHANNELS` (online, direct, postal)."""

    TYPE = EventType.FEE_PAID
    STATUS = StatusCode.PROCESSING
    payment_channel: str | None = None


@dataclass(frozen=True, kw_only=True)
class DossierSuspended(EventData):
    """`dossier.suspended`: status 8, the clock pauses."""

    TYPE = EventType.SUSPENDED
    STATUS = StatusCode.STOPPED
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class DossierResumed(EventData):
    """`dossier.resumed`: status 4, the clock resumes after a suspension (extend)."""

    TYPE = EventType.RESUMED
    STATUS = StatusCode.PROCESSING


@dataclass(frozen=True, kw_only=True)
class DossierRescheduled(EventData):
    """`dossier.rescheduled`: the citizen-facing appointment moves to `new_appointment_at` (with an
    apology letter, `reason`); the status and the legal deadline stay as they were."""

    TYPE = EventType.RESCHEDULED
    STATUS = None
    new_appointment_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class DossierResolved(EventData):
    """`dossier.resolved`: status 9, finished."""

    TYPE = EventType.RESOLVED
    STATUS = StatusCode.RESOLVED
    result: str | None = None


@dataclass(frozen=True, kw_only=True)
class ResultReturned(EventData):
    """`dossier.returned`: status 10, the result went back to the citizen (finished if not yet)."""

    TYPE = EventType.RETURNED
    STATUS = StatusCode.RETURNED


@dataclass(frozen=True, kw_only=True)
class DossierWithdrawn(EventData):
    """`dossier.withdrawn`: status 7, terminal (the citizen withdrew the dossier)."""

    TYPE = EventType.WITHDRAWN
    STATUS = StatusCode.WITHDRAWN
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class DossierRefused(EventData):
    """`dossier.refused`: status 8, terminal (refused after acceptance)."""

    TYPE = EventType.REFUSED
    STATUS = StatusCode.STOPPED
    reason: str | None = None


#: The data class of every event type, in the order of SPEC §3.
DATA_CLASSES: Mapping[EventType, type[EventData]] = MappingProxyType(
    {
        cls.TYPE: cls
        for cls in (
            DossierSubmitted,
            DossierNotAccepted,
            DossierReceived,
            ProcessingStarted,
            SupplementRequested,
            SupplementReceived,
            FeeRequested,
            FeePaid,
            DossierSuspended,
            DossierResumed,
            DossierRescheduled,
            DossierResolved,
            ResultReturned,
            DossierWithdrawn,
            DossierRefused,
        )
    }
)
if list(DATA_CLASSES) != list(EventType):
    raise TypeError(f"event types without exactly one data class: {set(EventType) ^ set(DATA_CLASSES)}")
for _cls in DATA_CLASSES.values():
    _cls.FIELDS = tuple(f.name for f in fields(cast(Any, _cls)))

#: The status each event type leads to (`None`: the status is unchanged).
EVENT_STATUS: Mapping[EventType, StatusCode | None] = MappingProxyType(
    {event_type: cls.STATUS for event_type, cls in DATA_CLASSES.items()}
)
