"""Every SPEC §3 event type survives JSON → protobuf → bytes → protobuf → JSON unchanged, and domain
event → protobuf → bytes → domain event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from dossier_contracts.event_codec import (
    EVENT_TYPES,
    decode_event,
    encode_event,
    event_to_proto,
    proto_to_event,
)
from dossier_contracts.event_json import event_from_json, event_to_json
from dossier_contracts.snapshot_codec import event_from_proto
from dossier_core.codes import Channel, EventType
from dossier_core.event_data import DossierReceived
from dossier_core.events import DossierEvent

# One realistic `data` per type, every optional field filled where the type has one.
DATA: dict[str, dict[str, Any]] = {
    "dossier.submitted": {"procedure_code": "1.001612", "channel": "online"},
    "dossier.not_accepted": {"reason": "Hồ sơ không thuộc thẩm quyền"},
    "dossier.received": {
        "procedure_code": "1.001612",
        "channel": "direct",
        "due_at": "2021-04-07T17:00:00+07:00",
        "applicant_type": 1,
        "on_site": True,
    },
    "dossier.processing": {"step": "thẩm định", "department": "Phòng Tư pháp"},
    "dossier.supplement_requested": {"reason": "Thiếu bản sao giấy khai sinh"},
    "dossier.supplement_received": {},
    "dossier.fee_requested": {"amount": 150000},
    "dossier.fee_paid": {},
    "dossier.suspended": {"reason": "Chờ ý kiến cơ quan liên quan"},
    "dossier.resumed": {},
    "dossier.rescheduled": {
        "new_appointment_at": "2021-04-12T10:00:00+07:00",
        "reason": "Phiếu xin lỗi số 12",
    },
    "dossier.resolved": {"result": "Cấp giấy chứng nhận"},
    "dossier.returned": {},
    "dossier.withdrawn": {"reason": "Công dân rút hồ sơ"},
    "dossier.refused": {"reason": "Không đủ điều kiện"},
}


def test_the_proto_names_exactly_the_spec_event_types() -> None:
    assert set(EVENT_TYPES) == {t.value for t in EventType} == set(DATA)


def json_event(event_type: str) -> dict[str, Any]:
    return {
        "event_id": "6f1c0e0a-7a57-4a43-9a3b-0e3a8d1d2b7e",
        "type": event_type,
        "dossier_code": "000.00.18.H49-210405-0001",
        "agency_code": "000.00.18.H49",
        "occurred_at": "2021-04-05T09:15:00+07:00",
        "data": DATA[event_type],
    }


@pytest.mark.parametrize("event_type", sorted(DATA))
def test_round_trip(event_type: str) -> None:
    event = json_event(event_type)
    msg = decode_event(encode_event(event_to_proto(event, source="counter-1")))
    assert proto_to_event(msg) == event
    assert msg.source == "counter-1"


@pytest.mark.parametrize("event_type", sorted(DATA))
def test_domain_round_trip(event_type: str) -> None:
    domain = event_from_json(json_event(event_type), seq=3)
    raw = encode_event(event_to_proto(domain, source="counter-1"))
    assert event_from_proto(decode_event(raw), seq=3) == domain
    assert raw == encode_event(event_to_proto(json_event(event_type), source="counter-1"))
    assert event_to_json(domain) == json_event(event_type)


def test_an_unknown_channel_number_is_no_channel() -> None:
    msg = event_to_proto(json_event("dossier.received"))
    msg.received.channel = 7  # type: ignore[assignment]  # a number a newer writer may use
    assert event_from_proto(msg).data == DossierReceived(
        procedure_code="1.001612",
        due_at=datetime.fromisoformat("2021-04-07T17:00:00+07:00"),
        applicant_type=1,
        on_site=True,
    )


def test_data_with_fields_of_another_type_is_not_encoded() -> None:
    event = DossierEvent(
        "e",
        EventType.RECEIVED,
        "D",
        "A",
        datetime.fromisoformat("2021-04-05T09:15:00+07:00"),
        {"channel": "direct", "reason": "x"},
    )
    with pytest.raises(ValueError, match="fields of another type"):
        event_to_proto(event)


def test_occurred_at_keeps_the_senders_offset() -> None:
    event = {
        "event_id": "e1",
        "type": "dossier.resumed",
        "dossier_code": "D",
        "agency_code": "A",
        "occurred_at": "2021-04-05T02:15:00+00:00",
        "data": {},
    }
    assert proto_to_event(event_to_proto(event))["occurred_at"] == "2021-04-05T02:15:00+00:00"


def test_domain_event_from_proto_has_python_values() -> None:
    event = {
        "event_id": "e2",
        "type": "dossier.received",
        "dossier_code": "D",
        "agency_code": "A",
        "occurred_at": "2021-04-05T09:15:00+07:00",
        "data": DATA["dossier.received"],
    }
    domain = event_from_proto(event_to_proto(event), seq=7)
    assert domain.type is EventType.RECEIVED
    assert domain.seq == 7
    assert domain.occurred_at == datetime.fromisoformat("2021-04-05T09:15:00+07:00")
    assert domain.data["due_at"] == datetime.fromisoformat("2021-04-07T17:00:00+07:00")
    assert domain.data["channel"] is Channel.DIRECT


@pytest.mark.parametrize("raw", [b"\xff\xff\xff", b"", b"\x0a\x02id"])
def test_garbage_is_rejected_with_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_event(raw)
