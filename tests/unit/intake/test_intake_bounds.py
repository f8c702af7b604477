"""SPEC §3 bounds at admission: instants, ASCII codes, free text, at most 20 errors per event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from dossier_core.catalog import Catalog
from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_intake.admission import Rejection, admit
from dossier_intake.examples import example_event
from dossier_intake.schemas import Event
from dossier_runtime.api_keys import ApiKey

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # 11:00 in Vietnam
ANY = ApiKey("all", "0" * 64, ("*",))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(default_catalog_dir())


def rejected(outcome: Event | Rejection) -> Rejection:
    assert isinstance(outcome, Rejection), outcome
    assert outcome.status_code == 422
    return outcome


def bad_fields(catalog: Catalog, raw: Any, now: datetime = NOW) -> dict[str, str]:
    return {e["field"]: e["message"] for e in rejected(admit(raw, ANY, catalog, now)).errors}


def admitted(catalog: Catalog, raw: Any, now: datetime = NOW) -> Event:
    outcome = admit(raw, ANY, catalog, now)
    assert not isinstance(outcome, Rejection), outcome
    return outcome


def with_data(event_type: str, **data: Any) -> dict[str, Any]:
    raw = example_event(event_type)
    return raw | {"data": raw["data"] | data}


@pytest.mark.parametrize(
    "instant",
    [
        "9999-12-31T23:59:59-05:00",
        "1900-01-01T00:00:00+07:00",
        "0001-01-01T00:00:00+14:00",
        "1999-12-31T23:59:59.999999+07:00",  # one microsecond before 2000 in Vietnam
        "1999-12-31T16:59:59Z",
        "2100-01-01T00:00:00+07:00",
        "2099-12-31T17:00:00Z",  # 2100-01-01T00:00 in Vietnam
    ],
)
def test_instants_outside_2000_to_2099_vietnam_time_are_refused(catalog: Catalog, instant: str) -> None:
    assert (
        "between 2000-01-01"
        in bad_fields(catalog, example_event("dossier.received") | {"occurred_at": instant})["occurred_at"]
    )
    due = with_data("dossier.received", due_at=instant)
    assert "data.due_at" in bad_fields(catalog, due)
    moved = with_data("dossier.rescheduled", new_appointment_at=instant)
    assert "data.new_appointment_at" in bad_fields(catalog, moved)


def test_the_edges_of_the_range_are_allowed(catalog: Catalog) -> None:
    far = datetime(2099, 12, 31, 16, 0, tzinfo=UTC)
    for instant in ("2000-01-01T00:00:00+07:00", "1999-12-31T17:00:00Z"):
        admitted(catalog, example_event("dossier.received") | {"occurred_at": instant})
    last = "2099-12-31T23:59:59.999999+07:00"
    admitted(catalog, example_event("dossier.received") | {"occurred_at": last}, now=far)
    admitted(catalog, with_data("dossier.received", due_at=last))
    admitted(catalog, with_data("dossier.rescheduled", new_appointment_at=last))


def test_occurred_at_may_be_at_most_24_hours_after_the_clock(catalog: Catalog) -> None:
    limit = NOW + timedelta(hours=24)
    admitted(catalog, example_event("dossier.received") | {"occurred_at": limit.isoformat()})
    late = (limit + timedelta(microseconds=1)).isoformat()
    message = bad_fields(catalog, example_event("dossier.received") | {"occurred_at": late})["occurred_at"]
    assert "24 hours after the service's clock (2026-12-01T11:00:00+07:00)" in message
    # an appointment is in the future by nature: only the 2099 bound applies to it
    admitted(catalog, with_data("dossier.received", due_at="2030-01-01T17:00:00+07:00"))


@pytest.mark.parametrize(
    "instant",
    [
        "2025-04-05T09:15:00",  # naive
        "2025-04-05",
        "2025-04-05T09:15+07:00",  # RFC 3339 needs seconds
        "20250405T091500+0700",
        "2025-04-05 09:15:00+07:00",
        "2025-04-05T09:15:00+07",
        "2025-02-30T09:15:00+07:00",  # no such day
        "２０２５-04-05T09:15:00+07:00",
        1743819300,
        None,
        "2025-04-05T09:15:00+07:00" + " " * 100,
    ],
)
def test_instants_are_rfc_3339_with_an_offset(catalog: Catalog, instant: Any) -> None:
    assert "occurred_at" in bad_fields(catalog, example_event("dossier.fee_paid") | {"occurred_at": instant})


def test_rfc_3339_variants_are_fine(catalog: Catalog) -> None:
    for instant in (
        "2025-04-05t02:15:00z",
        "2025-04-05T09:15:00.123456789+07:00",
        "2025-04-05T04:15:00+02:00",
    ):
        admitted(catalog, example_event("dossier.fee_paid") | {"occurred_at": instant})


@pytest.mark.parametrize(
    "code",
    [
        "000.00.10.H49-261201-\uff10\uff10\uff10\uff11",  # full-width digits
        "000.00.10.H49-\u0662\u0665\u0660\u0664\u0660\u0665-0001",  # Arabic-Indic digits in the date
        "000.00.10.H49-250405-0001\n",
        "000.00.10.H49-250405-00001234567",  # 11 digits
    ],
)
def test_dossier_codes_are_ascii_with_ascii_digits(catalog: Catalog, code: str) -> None:
    assert (
        "must be <agency_code>-<yyMMdd>-"
        in bad_fields(catalog, example_event("dossier.received") | {"dossier_code": code})["dossier_code"]
    )


@pytest.mark.parametrize(
    "agency", ["000.00.10.H4\u0669", "000.00.10.Н49", "000 00.10.H49", "000.00.10.H49\x00", ""]
)
def test_agency_and_procedure_codes_are_printable_ascii_without_spaces(catalog: Catalog, agency: str) -> None:
    raw = example_event("dossier.received") | {"agency_code": agency, "dossier_code": f"{agency}-250405-0001"}
    assert {"agency_code", "dossier_code"} <= set(bad_fields(catalog, raw))
    assert "data.procedure_code" in bad_fields(
        catalog, with_data("dossier.received", procedure_code=f"1.{agency}")
    )


def test_a_non_ascii_character_is_named_by_position_and_code_point(catalog: Catalog) -> None:
    raw = example_event("dossier.received") | {"agency_code": "000.00.10.Н49"}  # Cyrillic Н
    assert bad_fields(catalog, raw)["agency_code"].endswith("character 11 is U+041D")


def test_free_text_is_at_most_2000_characters(catalog: Catalog) -> None:
    admitted(catalog, with_data("dossier.refused", reason="ả" * 2000))
    for field in ("reason", "result", "step", "department"):
        event_type = {
            "result": "dossier.resolved",
            "step": "dossier.processing",
            "department": "dossier.processing",
        }
        raw = with_data(event_type.get(field, "dossier.refused"), **{field: "x" * 2001})
        assert (
            bad_fields(catalog, raw)[f"data.{field}"] == "must be at most 2000 characters; this one has 2001"
        )
    # the bound is on the text as sent, before trimming
    assert "data.reason" in bad_fields(catalog, with_data("dossier.refused", reason=" " * 1990 + "x" * 11))


@pytest.mark.parametrize(
    "char",
    [
        "\x00",
        "\t",
        "\n",
        "\r",
        "\x1b",
        "\x7f",
        "\x85",
        "\u202a",
        "\u202e",
        "\u2066",
        "\u2069",
        "\u200e",
        "\u200f",
        "\u061c",
    ],
)
def test_control_and_bidirectional_characters_are_refused_in_free_text(catalog: Catalog, char: str) -> None:
    message = bad_fields(catalog, with_data("dossier.refused", reason=f"Thiếu{char}hồ sơ"))["data.reason"]
    assert message.endswith(f"character 6 is U+{ord(char):04X}")
    assert "data.reason" in bad_fields(catalog, with_data("dossier.refused", reason=f"Thiếu hồ sơ{char}"))


def test_other_unicode_text_is_kept(catalog: Catalog) -> None:
    text = "Thiếu bản sao — 証明書 😀 \u200d \u00a0end"
    event = admitted(catalog, with_data("dossier.refused", reason=f"  {text}  "))
    assert event.to_json()["data"]["reason"] == text


def test_at_most_20_errors_are_listed_and_the_rest_counted(catalog: Catalog) -> None:
    raw = example_event("dossier.received") | {f"unknown_{i}": i for i in range(25)}
    outcome = rejected(admit(raw, ANY, catalog, NOW))
    assert [e["field"] for e in outcome.errors] == [f"unknown_{i}" for i in range(20)]
    assert outcome.errors_truncated == 5
    assert outcome.event_id == raw["event_id"]


def test_hundreds_of_thousands_of_unknown_keys_give_a_small_rejection(catalog: Catalog) -> None:
    raw = example_event("dossier.received") | {f"k{i}": i for i in range(300_000)}
    raw["data"] = raw["data"] | {f"d{i}": i for i in range(1000)}
    outcome = rejected(admit(raw, ANY, catalog, NOW))
    assert len(outcome.errors) == 20
    assert outcome.errors_truncated == 301_000 - 20
    assert len(orjson.dumps(outcome.errors)) < 4096


def test_echoed_names_and_messages_are_bounded_and_visible(catalog: Catalog) -> None:
    raw = example_event("dossier.received") | {"\u202e" * 10_000: 1, "type": "dossier." + "x" * 1_000_000}
    error = rejected(admit(raw, ANY, catalog, NOW)).errors[0]
    assert error["field"] == "type" and len(error["message"]) <= 301
    raw = example_event("dossier.received") | {"\u202e" + "k" * 10_000: 1}
    error = rejected(admit(raw, ANY, catalog, NOW)).errors[0]
    assert error["field"].startswith("\\u202ekkk") and error["field"].endswith("…")
    assert len(error["field"]) <= 101
    assert "\u202e" not in error["field"]


def test_an_unreadable_event_id_is_not_echoed(catalog: Catalog) -> None:
    for event_id in ("x" * 65, "\u202e1234", "a\nb"):
        outcome = rejected(
            admit(example_event("dossier.received") | {"event_id": event_id}, ANY, catalog, NOW)
        )
        assert outcome.event_id is None
