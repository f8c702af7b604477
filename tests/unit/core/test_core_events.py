"""Typed events: the data classes, the envelope, and the mapping form SPEC §3 JSON gives them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.codes import Channel, EventType, StatusCode
from dossier_core.event_data import (
    DATA_CLASSES,
    EVENT_STATUS,
    DossierReceived,
    DossierRescheduled,
    FeePaid,
    ProcessingStarted,
)
from dossier_core.events import DossierEvent, MismatchedData, data_of
from dossier_core.lifecycle import fold

AT = datetime(2021, 4, 7, 9, 0, tzinfo=VN_TZ)
DUE = datetime(2021, 4, 12, 9, 0, tzinfo=VN_TZ)


def ev(event_type: EventType, data: Any = None, seq: int = 0) -> DossierEvent:
    return DossierEvent("e1", event_type, "000.00.12.H49-210407-0001", "000.00.12.H49", AT, data, seq)


def test_every_event_type_has_one_data_class_leading_to_its_spec_status() -> None:
    assert list(DATA_CLASSES) == list(EventType)
    assert all(cls.TYPE is event_type for event_type, cls in DATA_CLASSES.items())
    assert len(set(DATA_CLASSES.values())) == 15
    # SPEC §3 table, column "status".
    assert {t.value: s for t, s in EVENT_STATUS.items()} == {
        "dossier.submitted": StatusCode.SUBMITTED,
        "dossier.not_accepted": StatusCode.NOT_ACCEPTED,
        "dossier.received": StatusCode.RECEIVED,
        "dossier.processing": StatusCode.PROCESSING,
        "dossier.supplement_requested": StatusCode.SUPPLEMENT_REQUESTED,
        "dossier.supplement_received": StatusCode.PROCESSING,
        "dossier.fee_requested": StatusCode.FEE_REQUESTED,
        "dossier.fee_paid": StatusCode.PROCESSING,
        "dossier.suspended": StatusCode.STOPPED,
        "dossier.resumed": StatusCode.PROCESSING,
        "dossier.rescheduled": None,
        "dossier.resolved": StatusCode.RESOLVED,
        "dossier.returned": StatusCode.RETURNED,
        "dossier.withdrawn": StatusCode.WITHDRAWN,
        "dossier.refused": StatusCode.STOPPED,
    }


def test_data_reads_as_the_mapping_of_its_fields_that_are_set() -> None:
    data = DossierReceived(procedure_code="1.004194", channel=Channel.DIRECT, due_at=DUE, on_site=False)
    assert dict(data) == {"procedure_code": "1.004194", "channel": "direct", "due_at": DUE, "on_site": False}
    assert data["due_at"] == DUE and data.get("applicant_type") is None and "applicant_type" not in data
    assert len(data) == 4 and list(data) == ["procedure_code", "channel", "due_at", "on_site"]
    assert data.applicant_type is None and data.as_dict() == dict(data.items())
    with pytest.raises(KeyError):
        _ = data["applicant_type"]
    assert dict(FeePaid()) == {} and FeePaid() == FeePaid()
    assert DossierReceived.from_typed({"channel": Channel.ONLINE}) == DossierReceived(channel=Channel.ONLINE)


def test_a_mapping_of_json_values_becomes_the_typed_data() -> None:
    event = ev(
        EventType.RECEIVED, {"procedure_code": "1.004194", "channel": "direct", "due_at": DUE.isoformat()}
    )
    assert event.data == DossierReceived(procedure_code="1.004194", channel=Channel.DIRECT, due_at=DUE)
    assert event.data.channel is Channel.DIRECT  # type: ignore[union-attr]
    assert ev(EventType.PROCESSING).data == ProcessingStarted()
    assert ev(EventType.PROCESSING, {"step": None}).data == ProcessingStarted()  # None: absent


@pytest.mark.parametrize(
    ("event_type", "data", "named"),
    [
        (EventType.RECEIVED, {"channel": "fax"}, "data.channel 'fax' is not a channel"),
        (
            EventType.RECEIVED,
            {"due_at": "2021-04-12 09:00"},
            "data.due_at '2021-04-12 09:00' is not an instant",
        ),
        (EventType.RECEIVED, {"applicant_type": True}, "data.applicant_type True is not int"),
        (EventType.RECEIVED, {"on_site": 1}, "data.on_site 1 is not bool"),
        (EventType.FEE_REQUESTED, {"amount": "15000"}, "data.amount '15000' is not int"),
        (EventType.REFUSED, {"reason": 7}, "data.reason 7 is not str"),
    ],
)
def test_a_value_of_the_wrong_kind_is_refused_naming_the_field(
    event_type: EventType, data: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        ev(event_type, data)


def test_keys_of_another_type_are_kept_as_given_and_the_fold_uses_the_rest(catalog: Catalog) -> None:
    given = {"procedure_code": "1.004194", "channel": "direct", "reason": "x" * 3000}
    event = ev(EventType.RECEIVED, given)
    assert isinstance(event.data, MismatchedData) and dict(event.data) == given
    assert event.data.fitting == DossierReceived(procedure_code="1.004194", channel=Channel.DIRECT)
    typed = ev(EventType.RECEIVED, event.data.fitting)
    assert fold([event], catalog) == fold([typed], catalog)


def test_the_data_must_be_of_the_events_type() -> None:
    with pytest.raises(ValueError, match=re.escape("cannot carry the data of dossier.fee_paid")):
        ev(EventType.RECEIVED, FeePaid())
    with pytest.raises(ValueError, match="must carry an offset"):
        DossierEvent("e1", EventType.FEE_PAID, "D", "A", datetime(2021, 4, 7, 9, 0), FeePaid())


def test_with_seq_copies_every_field_but_the_arrival_order() -> None:
    event = ev(EventType.RESCHEDULED, DossierRescheduled(new_appointment_at=DUE, reason="xin lỗi"), seq=1)
    copy = event.with_seq(9)
    assert copy.seq == 9 and copy == DossierEvent(
        event.event_id, event.type, event.dossier_code, event.agency_code, event.occurred_at, event.data, 9
    )
    assert event.seq == 1


def test_data_of_reads_python_and_json_values_alike() -> None:
    assert data_of(EventType.RESCHEDULED, {"new_appointment_at": DUE, "reason": "r"}) == data_of(
        EventType.RESCHEDULED, {"new_appointment_at": "2021-04-12T09:00:00+07:00", "reason": "r"}
    )
