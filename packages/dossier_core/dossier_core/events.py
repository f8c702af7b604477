"""Dossier events as the counters send them (SPEC §3), and the national status codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

__all__ = [
    "EVENT_STATUS",
    "STATUS_LABELS",
    "Channel",
    "DossierEvent",
    "EventType",
    "StatusCode",
    "parse_instant",
]


class EventType(StrEnum):
    SUBMITTED = "dossier.submitted"
    NOT_ACCEPTED = "dossier.not_accepted"
    RECEIVED = "dossier.received"
    PROCESSING = "dossier.processing"
    SUPPLEMENT_REQUESTED = "dossier.supplement_requested"
    SUPPLEMENT_RECEIVED = "dossier.supplement_received"
    FEE_REQUESTED = "dossier.fee_requested"
    FEE_PAID = "dossier.fee_paid"
    SUSPENDED = "dossier.suspended"
    RESUMED = "dossier.resumed"
    RESCHEDULED = "dossier.rescheduled"
    RESOLVED = "dossier.resolved"
    RETURNED = "dossier.returned"
    WITHDRAWN = "dossier.withdrawn"
    REFUSED = "dossier.refused"


class Channel(StrEnum):
    """How the dossier reached the agency (KenhThucHien 1/2/3)."""

    DIRECT = "direct"
    ONLINE = "online"
    POSTAL = "postal"

    @property
    def portal_code(self) -> int:
        return {"direct": 1, "online": 2, "postal": 3}[self.value]


class StatusCode(IntEnum):
    """National dossier status (TrangThaiHoSo)."""

    SUBMITTED = 1
    RECEIVED = 2
    NOT_ACCEPTED = 3
    PROCESSING = 4
    SUPPLEMENT_REQUESTED = 5
    FEE_REQUESTED = 6
    WITHDRAWN = 7
    STOPPED = 8
    RESOLVED = 9
    RETURNED = 10

    @property
    def label(self) -> str:
        """The Vietnamese name used on the national portal."""
        return STATUS_LABELS[self]


STATUS_LABELS: Mapping[StatusCode, str] = MappingProxyType(
    {
        StatusCode.SUBMITTED: "Mới đăng ký",
        StatusCode.RECEIVED: "Đã tiếp nhận",
        StatusCode.NOT_ACCEPTED: "Không được tiếp nhận",
        StatusCode.PROCESSING: "Đang xử lý",
        StatusCode.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung",
        StatusCode.FEE_REQUESTED: "Yêu cầu thực hiện nghĩa vụ tài chính",
        StatusCode.WITHDRAWN: "Công dân yêu cầu rút hồ sơ",
        StatusCode.STOPPED: "Dừng xử lý",
        StatusCode.RESOLVED: "Đã xử lý xong",
        StatusCode.RETURNED: "Đã trả kết quả",
    }
)

#: The status each event leads to (`None`: the status is unchanged).
EVENT_STATUS: Mapping[EventType, StatusCode | None] = MappingProxyType(
    {
        EventType.SUBMITTED: StatusCode.SUBMITTED,
        EventType.NOT_ACCEPTED: StatusCode.NOT_ACCEPTED,
        EventType.RECEIVED: StatusCode.RECEIVED,
        EventType.PROCESSING: StatusCode.PROCESSING,
        EventType.SUPPLEMENT_REQUESTED: StatusCode.SUPPLEMENT_REQUESTED,
        EventType.SUPPLEMENT_RECEIVED: StatusCode.PROCESSING,
        EventType.FEE_REQUESTED: StatusCode.FEE_REQUESTED,
        EventType.FEE_PAID: StatusCode.PROCESSING,
        EventType.SUSPENDED: StatusCode.STOPPED,
        EventType.RESUMED: StatusCode.PROCESSING,
        EventType.RESCHEDULED: None,
        EventType.RESOLVED: StatusCode.RESOLVED,
        EventType.RETURNED: StatusCode.RETURNED,
        EventType.WITHDRAWN: StatusCode.WITHDRAWN,
        EventType.REFUSED: StatusCode.STOPPED,
    }
)


@dataclass(frozen=True)
class DossierEvent:
    """One thing that happened to a dossier. `seq` is the arrival order, used only to break
    ties between events with the same `occurred_at`."""

    event_id: str
    type: EventType
    dossier_code: str
    agency_code: str
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    seq: int = 0

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError(f"occurred_at must carry an offset: {self.occurred_at.isoformat()}")


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
