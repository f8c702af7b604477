"""The event models: every SPEC §3 type, strict about shapes, times and the dossier code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from dossier_contracts.event_codec import EVENT_TYPES, event_to_proto, proto_to_event
from dossier_core.codes import EventType
from dossier_core.event_data import DossierRefused
from dossier_intake.admission import field_errors
from dossier_intake.examples import EVENT_EXAMPLES, example_event
from dossier_intake.schemas import EVENT_ADAPTER


def errors_of(raw: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        EVENT_ADAPTER.validate_python(raw)
    return {e["field"]: e["message"] for e in field_errors(caught.value)}


def test_the_models_cover_exactly_the_spec_types() -> None:
    assert {example["summary"] for example in EVENT_EXAMPLES.values()} == set(EventType) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_example_validates_and_survives_the_codec(event_type: str) -> None:
    raw = example_event(event_type)
    event = EVENT_ADAPTER.validate_python(raw)
    back = proto_to_event(event_to_proto(event.to_json()))
    assert back["event_id"] == raw["event_id"] and back["type"] == event_type
    assert back["occurred_at"] == raw["occurred_at"]
    assert set(back["data"]) == set(raw["data"])


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_model_maps_to_the_domain_event_it_writes(event_type: str) -> None:
    raw = example_event(event_type)
    model = EVENT_ADAPTER.validate_python(raw)
    event = model.to_domain()
    assert event.event_id == raw["event_id"] and event.type == event_type
    assert event.occurred_at == datetime.fromisoformat(raw["occurred_at"]) and event.seq == 0
    assert event_to_proto(event) == event_to_proto(model.to_json())


def test_trimmed_text_reaches_the_domain_trimmed() -> None:
    raw = example_event("dossier.refused") | {"data": {"reason": "  Thiếu hồ sơ "}}
    assert EVENT_ADAPTER.validate_python(raw).to_domain().data == DossierRefused(reason="Thiếu hồ sơ")


@pytest.mark.parametrize(
    "event_type", ["dossier.processing", "dossier.fee_paid", "dossier.resolved", "dossier.withdrawn"]
)
def test_data_may_be_left_out_when_nothing_in_it_is_required(event_type: str) -> None:
    raw = example_event(event_type)
    del raw["data"]
    assert EVENT_ADAPTER.validate_python(raw).type == event_type


def test_naive_and_numeric_times_are_rejected() -> None:
    assert "occurred_at" in errors_of(
        example_event("dossier.fee_paid") | {"occurred_at": "2025-04-05T09:15:00"}
    )
    assert "occurred_at" in errors_of(example_event("dossier.fee_paid") | {"occurred_at": 1743819300})
    assert "occurred_at" in errors_of(example_event("dossier.fee_paid") | {"occurred_at": "1743819300"})
    data = {"procedure_code": "1.004194", "channel": "direct", "due_at": "2025-04-10 17:00"}
    assert "data.due_at" in errors_of(example_event("dossier.received") | {"data": data})


def test_utc_z_and_other_offsets_are_fine() -> None:
    for value in ("2025-04-05T02:15:00Z", "2025-04-05T09:15:00.123+07:00", "2025-04-05T04:15:00+02:00"):
        EVENT_ADAPTER.validate_python(example_event("dossier.fee_paid") | {"occurred_at": value})


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("000.00.10.H49-250405-001", "must be <agency_code>-<yyMMdd>-"),
        ("000.00.10.H49-250230-0001", "is not a yyMMdd date"),
        ("000.00.12.H49-250405-0001", "must start with the event's agency_code"),
        ("000.00.10.H49_250405_0001", "must be <agency_code>-<yyMMdd>-"),
    ],
)
def test_dossier_code_is_agency_date_sequence(code: str, message: str) -> None:
    errors = errors_of(example_event("dossier.fee_paid") | {"dossier_code": code})
    assert message in errors["dossier_code"]


def test_longer_sequences_are_accepted() -> None:
    event = EVENT_ADAPTER.validate_python(
        example_event("dossier.fee_paid") | {"dossier_code": "000.00.10.H49-250405-123456"}
    )
    assert event.dossier_code.endswith("123456")


def test_errors_name_fields_without_the_type_tag() -> None:
    raw = example_event("dossier.received") | {"extra": 1}
    raw["data"] = {"channel": "postal", "applicant_type": 0, "on_site": 1}
    assert set(errors_of(raw)) == {"extra", "data.procedure_code", "data.applicant_type", "data.on_site"}
    assert set(errors_of({"type": "dossier.unknown"})) == {"type"}
    assert set(errors_of({})) == {"type"}
    assert set(errors_of([1, 2])) == {"event"}


def test_event_id_is_normalised_to_the_canonical_uuid_form() -> None:
    raw = example_event("dossier.fee_paid") | {"event_id": "6F1C0E0A7A574A439A3B0E3A8D1D2B7E"}
    assert EVENT_ADAPTER.validate_python(raw).to_json()["event_id"] == "6f1c0e0a-7a57-4a43-9a3b-0e3a8d1d2b7e"


def test_text_is_trimmed_and_bounded() -> None:
    event = EVENT_ADAPTER.validate_python(
        example_event("dossier.refused") | {"data": {"reason": "  Thiếu hồ sơ "}}
    )
    assert event.to_json()["data"] == {"reason": "Thiếu hồ sơ"}
    assert "data.reason" in errors_of(example_event("dossier.refused") | {"data": {"reason": "x" * 2001}})


def test_the_receipts_digitised_flag_and_the_payment_channel_reach_the_domain() -> None:
    receipt = example_event("dossier.received")
    receipt["data"] |= {"digitised": True}
    assert EVENT_ADAPTER.validate_python(receipt).to_domain().data["digitised"] is True
    for channel in ("online", "direct", "postal"):
        raw = example_event("dossier.fee_paid") | {"data": {"payment_channel": channel}}
        assert EVENT_ADAPTER.validate_python(raw).to_domain().data["payment_channel"] == channel
    assert (
        "payment_channel"
        not in EVENT_ADAPTER.validate_python(example_event("dossier.fee_paid") | {"data": {}})
        .to_domain()
        .data
    )


@pytest.mark.parametrize("channel", ["bank", "ONLINE", "", 2, "cash"])
def test_an_unknown_payment_channel_is_refused_naming_the_field(channel: object) -> None:
    errors = errors_of(example_event("dossier.fee_paid") | {"data": {"payment_channel": channel}})
    assert list(errors) == ["data.payment_channel"]


@pytest.mark.parametrize("flag", ["true", 1, "yes"])
def test_a_digitised_flag_that_is_not_a_boolean_is_refused_naming_the_field(flag: object) -> None:
    receipt = example_event("dossier.received")
    receipt["data"] |= {"digitised": flag}
    assert list(errors_of(receipt)) == ["data.digitised"]
