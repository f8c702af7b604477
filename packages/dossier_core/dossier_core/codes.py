"""The codes events and dossiers are told by: the SPEC §3 event types, the channel a dossier came
through (KenhThucHien) and the national dossier status (TrangThaiHoSo) with its Vietnamese label.

Which status each event type leads to is said by its data class (`event_data`), not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, StrEnum
from types import MappingProxyType

__all__ = ["PAYMENT_CHANNELS", "STATUS_LABELS", "Channel", "EventType", "StatusCode"]

#: How a fee was paid (`dossier.fee_paid`'s `payment_channel`): through the online payment of the
#: public-service portal, at the counter, or through the postal service.
PAYMENT_CHANNELS = ("online", "direct", "postal")


class EventType(StrEnum):
    """The `type` of an event (SPEC §3); each has one data class in `event_data.DATA_CLASSES`."""

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
