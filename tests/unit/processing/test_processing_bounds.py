"""SPEC §3 bounds as the consumer checks them on decoded events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from dossier_core.calendar import VN_TZ
from dossier_core.events import DossierEvent, EventType
from dossier_processing.ingest.bounds import out_of_bounds

AT = datetime(2025, 3, 3, 8, 0, tzinfo=VN_TZ)


def ev(**changes: Any) -> DossierEvent:
    fields: dict[str, Any] = {
        "event_id": "6f1c0e0a-7a57-4a43-9a3b-0e3a8d1d2b7e",
        "type": EventType.RECEIVED,
        "dossier_code": "000.00.18.H43-210405-0001",
        "agency_code": "000.00.18.H43",
        "occurred_at": AT,
        "data": {"procedure_code": "1.004194", "channel": "direct"},
    }
    fields.update(changes)
    return DossierEvent(**fields)


def test_a_plain_event_is_within_the_bounds() -> None:
    assert out_of_bounds(ev()) is None
    assert out_of_bounds(ev(data={"reason": "Thiếu bản sao 🙂\n" * 100})) is None


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"occurred_at": datetime(1999, 12, 31, 16, 59, 59, tzinfo=UTC)}, "occurred_at"),
        ({"occurred_at": datetime(2099, 12, 31, 17, 0, tzinfo=UTC)}, "occurred_at"),
        ({"occurred_at": datetime(1900, 1, 1, tzinfo=timezone(timedelta(hours=7)))}, "occurred_at"),
        ({"data": {"due_at": datetime(2100, 1, 2, tzinfo=VN_TZ)}}, "data.due_at"),
        ({"data": {"new_appointment_at": datetime(1970, 1, 1, tzinfo=VN_TZ)}}, "data.new_appointment_at"),
        ({"dossier_code": "000.00.18.H43-210405-０００１"}, "dossier_code"),
        ({"dossier_code": "x" * 129}, "dossier_code"),
        ({"agency_code": ""}, "agency_code"),
        ({"event_id": "id with spaces"}, "event_id"),
        ({"data": {"procedure_code": "1.00\x004194"}}, "data.procedure_code"),
        ({"data": {"reason": "x" * 2001}}, "data.reason"),
        ({"data": {"step": "a\x00b"}}, "data.step"),
    ],
)
def test_each_bound_names_its_field(changes: dict[str, Any], named: str) -> None:
    problem = out_of_bounds(ev(**changes))
    assert problem is not None and problem.startswith(named)


def test_the_edges_of_the_years_are_inside() -> None:
    assert out_of_bounds(ev(occurred_at=datetime(2000, 1, 1, tzinfo=VN_TZ))) is None
    assert out_of_bounds(ev(occurred_at=datetime(2099, 12, 31, 23, 59, 59, tzinfo=VN_TZ))) is None
