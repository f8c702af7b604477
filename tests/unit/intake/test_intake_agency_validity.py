"""Admission refuses an event of an agency that was not valid on the event's Vietnam date, beyond the
grace period after its `valid_to`; the grace period is a setting."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_core.restructuring import DEFAULT_GRACE_DAYS
from dossier_intake.admission import Rejection, admit
from dossier_intake.examples import example_event
from dossier_intake.settings import IntakeSettings
from dossier_runtime.api_keys import ApiKey

QN = ApiKey("counter-qn", "0" * 64, ("*.H49",))
NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
CATALOG = load_catalog(default_catalog_dir())


def dated(agency: str, at: datetime, event_type: str = "dossier.resolved") -> dict[str, Any]:
    return example_event(event_type) | {
        "agency_code": agency,
        "dossier_code": f"{agency}-250630-0001",
        "occurred_at": at.isoformat(),
    }


def outcome(agency: str, at: datetime, grace: int, catalog: Catalog = CATALOG) -> Rejection | None:
    result = admit(dated(agency, at), QN, catalog, NOW, grace)
    return result if isinstance(result, Rejection) else None


def test_the_default_grace_is_the_documented_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert IntakeSettings().agency_validity_grace_days == DEFAULT_GRACE_DAYS == 90
    monkeypatch.setenv("INTAKE_AGENCY_VALIDITY_GRACE_DAYS", "7")
    assert IntakeSettings().agency_validity_grace_days == 7


def test_a_refusal_is_422_naming_agency_code_with_the_dates() -> None:
    district = CATALOG.agencies["000.00.31.H49"]  # thành phố Hạ Long, abolished on 2025-06-30
    assert district.valid_to is not None
    day_after = datetime.combine(district.valid_to + timedelta(days=11), datetime.min.time(), VN_TZ)
    rejection = outcome(district.code, day_after, 10)
    assert rejection is not None and rejection.status_code == 422
    (error,) = rejection.errors
    assert error["field"] == "agency_code"
    assert str(district.valid_to) in error["message"] and "10 days" in error["message"]


def test_the_event_date_is_the_vietnam_date() -> None:
    """17:30 UTC on the last day of grace is already the next day in Vietnam."""
    valid_to = CATALOG.agencies["000.00.31.H49"].valid_to
    assert valid_to is not None
    last = valid_to + timedelta(days=5)
    assert outcome("000.00.31.H49", datetime.combine(last, datetime.max.time(), VN_TZ), 5) is None
    late_utc = datetime(last.year, last.month, last.day, 17, 30, tzinfo=UTC)
    assert outcome("000.00.31.H49", late_utc, 5) is not None
    new = CATALOG.agencies["000.00.51.H49"]  # a commune of the two-tier structure
    assert new.valid_from is not None
    first_moment = datetime.combine(new.valid_from, datetime.min.time(), VN_TZ)
    assert outcome(new.code, first_moment, 90) is None
    assert outcome(new.code, first_moment - timedelta(seconds=1), 90) is not None


def test_a_valid_event_of_an_agency_without_dates_is_admitted() -> None:
    assert outcome("000.00.10.H49", datetime(2000, 1, 3, 9, tzinfo=VN_TZ), 0) is None


dated_agencies = [a for a in CATALOG.agencies.values() if a.valid_from or a.valid_to]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(dated_agencies),
    st.dates(date(2015, 1, 1), date(2026, 12, 1)),
    st.integers(0, 200),
)
def test_admitted_exactly_from_valid_from_to_valid_to_plus_grace(agency: Any, day: date, grace: int) -> None:
    at = datetime.combine(day, datetime.min.time(), VN_TZ) + timedelta(hours=9)
    taken = (agency.valid_from is None or agency.valid_from <= day) and (
        agency.valid_to is None or day <= agency.valid_to + timedelta(days=grace)
    )
    assert (outcome(agency.code, at, grace) is None) == taken
