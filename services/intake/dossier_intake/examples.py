"""One example per event type, shown in the OpenAPI document (and checked by the unit tests).

The examples are the domain's data classes, written out as SPEC §3 JSON: an example cannot name a
field its type does not have, and every event type has one (checked on import).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dossier_contracts.event_json import data_to_json
from dossier_core.calendar import VN_TZ
from dossier_core.codes import Channel, EventType
from dossier_core.event_data import (
    DossierNotAccepted,
    DossierReceived,
    DossierRefused,
    DossierRescheduled,
    DossierResolved,
    DossierResumed,
    DossierSubmitted,
    DossierSuspended,
    DossierWithdrawn,
    EventData,
    FeePaid,
    FeeRequested,
    ProcessingStarted,
    ResultReturned,
    SupplementReceived,
    SupplementRequested,
)

_AGENCY = "000.00.10.H49"
_DOSSIER = f"{_AGENCY}-250405-0001"
_EXAMPLES: tuple[EventData, ...] = (
    DossierSubmitted(procedure_code="1.004194", channel=Channel.ONLINE),
    DossierNotAccepted(reason="Hồ sơ không thuộc thẩm quyền giải quyết"),
    DossierReceived(
        procedure_code="1.004194",
        channel=Channel.DIRECT,
        due_at=datetime(2025, 4, 10, 17, 0, tzinfo=VN_TZ),
        applicant_type=1,
        on_site=False,
        digitised=True,
    ),
    ProcessingStarted(step="Thẩm định", department="Phòng Quản lý hành chính về trật tự xã hội"),
    SupplementRequested(reason="Thiếu bản sao giấy khai sinh"),
    SupplementReceived(),
    FeeRequested(amount=15000),
    FeePaid(payment_channel="online"),
    DossierSuspended(reason="Chờ xác minh của cơ quan liên quan"),
    DossierResumed(),
    DossierRescheduled(
        new_appointment_at=datetime(2025, 4, 14, 9, 0, tzinfo=VN_TZ),
        reason="Xin lỗi công dân vì chậm trả kết quả do chờ xác minh",
    ),
    DossierResolved(result="Đã cấp xác nhận tạm trú"),
    ResultReturned(),
    DossierWithdrawn(reason="Công dân xin rút hồ sơ"),
    DossierRefused(reason="Không đủ điều kiện đăng ký tạm trú"),
)
#: The example `data` of each event type, as JSON.
EXAMPLE_DATA: Mapping[EventType, dict[str, Any]] = {data.TYPE: data_to_json(data) for data in _EXAMPLES}
if list(EXAMPLE_DATA) != list(EventType):
    raise TypeError(f"event types without exactly one example: {set(EventType) ^ set(EXAMPLE_DATA)}")


def example_event(event_type: str, n: int = 0) -> dict[str, Any]:
    return {
        "event_id": f"6f1c0e0a-7a57-4a43-9a3b-{n:012x}",
        "type": event_type,
        "dossier_code": _DOSSIER,
        "agency_code": _AGENCY,
        "occurred_at": "2025-04-05T09:15:00+07:00",
        "data": dict(EXAMPLE_DATA[EventType(event_type)]),  # a copy: a test may change it
    }


EVENT_EXAMPLES: dict[str, dict[str, Any]] = {
    t.removeprefix("dossier."): {"summary": t.value, "value": example_event(t, i)}
    for i, t in enumerate(EXAMPLE_DATA)
}
BATCH_EXAMPLE: dict[str, Any] = {
    "events": [
        example_event(t, i)
        for i, t in enumerate(["dossier.received", "dossier.processing", "dossier.resolved"])
    ]
}
