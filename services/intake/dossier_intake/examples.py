"""One example per event type, shown in the OpenAPI document (and checked by the unit tests)."""

from __future__ import annotations

from typing import Any

_AGENCY = "000.00.10.H49"
_DOSSIER = f"{_AGENCY}-250405-0001"
_DATA: dict[str, dict[str, Any]] = {
    "dossier.submitted": {"procedure_code": "1.004194", "channel": "online"},
    "dossier.not_accepted": {"reason": "Hồ sơ không thuộc thẩm quyền giải quyết"},
    "dossier.received": {
        "procedure_code": "1.004194",
        "channel": "direct",
        "due_at": "2025-04-10T17:00:00+07:00",
        "applicant_type": 1,
        "on_site": False,
    },
    "dossier.processing": {"step": "Thẩm định", "department": "Phòng Quản lý hành chính về trật tự xã hội"},
    "dossier.supplement_requested": {"reason": "Thiếu bản sao giấy khai sinh"},
    "dossier.supplement_received": {},
    "dossier.fee_requested": {"amount": 15000},
    "dossier.fee_paid": {},
    "dossier.suspended": {"reason": "Chờ xác minh của cơ quan liên quan"},
    "dossier.resumed": {},
    "dossier.rescheduled": {
        "new_appointment_at": "2025-04-14T09:00:00+07:00",
        "reason": "Xin lỗi công dân vì chậm trả kết quả do chờ xác minh",
    },
    "dossier.resolved": {"result": "Đã cấp xác nhận tạm trú"},
    "dossier.returned": {},
    "dossier.withdrawn": {"reason": "Công dân xin rút hồ sơ"},
    "dossier.refused": {"reason": "Không đủ điều kiện đăng ký tạm trú"},
}


def example_event(event_type: str, n: int = 0) -> dict[str, Any]:
    return {
        "event_id": f"6f1c0e0a-7a57-4a43-9a3b-{n:012x}",
        "type": event_type,
        "dossier_code": _DOSSIER,
        "agency_code": _AGENCY,
        "occurred_at": "2025-04-05T09:15:00+07:00",
        "data": _DATA[event_type],
    }


EVENT_EXAMPLES: dict[str, dict[str, Any]] = {
    t.removeprefix("dossier."): {"summary": t, "value": example_event(t, i)} for i, t in enumerate(_DATA)
}
BATCH_EXAMPLE: dict[str, Any] = {
    "events": [
        example_event(t, i)
        for i, t in enumerate(["dossier.received", "dossier.processing", "dossier.resolved"])
    ]
}
