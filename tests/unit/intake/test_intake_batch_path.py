"""The batch path's shortcuts change nothing: one `Admission` for a whole request decides each event
as `admit` alone would (the key's verdict per agency is remembered within the request), and
`routes.records` writes the same bytes as `encode_event(event_to_proto(...))` with `recorded_at`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dossier_contracts.event_codec import EVENT_TYPES, encode_event, event_to_proto
from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_intake.admission import Admission, Rejection, admit
from dossier_intake.examples import example_event
from dossier_intake.routes import records
from dossier_runtime.api_keys import ApiKey

CATALOG = load_catalog(default_catalog_dir())
NOW = datetime(2025, 4, 5, 3, 0, tzinfo=UTC)
AGENCIES = [*sorted(CATALOG.agencies)[:6], "000.00.10.H22", "999.99.99.H49"]  # last two: not in catalog
KEYS = st.sampled_from(
    [
        ApiKey("qn", "0" * 64, ("*.H49",)),
        ApiKey("police", "1" * 64, ("000.00.10.H49",)),
        ApiKey("two", "2" * 64, ("000.00.10.H49", "*.H22")),
    ]
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """An event of any type at one of a few agencies (some outside a key's patterns or the catalog),
    sometimes with an unknown procedure or a bad field."""
    agency = draw(st.sampled_from(AGENCIES))
    raw = example_event(draw(st.sampled_from(EVENT_TYPES))) | {
        "event_id": str(draw(st.uuids())).upper() if draw(st.booleans()) else str(draw(st.uuids())),
        "agency_code": agency,
        "dossier_code": f"{agency}-250405-{draw(st.integers(0, 30)):04d}",
        "occurred_at": draw(
            st.datetimes(
                datetime(2000, 1, 2), datetime(2026, 1, 1), timezones=st.just(timezone(timedelta(hours=7)))
            )
        ).isoformat(),
    }
    if "procedure_code" in raw["data"] and draw(st.booleans()):
        raw["data"] = raw["data"] | {"procedure_code": draw(st.sampled_from(["1.004194", "9.999999"]))}
    if draw(st.integers(0, 9)) == 0:
        raw["occurred_at"] = "2025-04-05"
    return raw


@settings(max_examples=150, deadline=None)
@given(key=KEYS, batch=st.lists(events(), max_size=12))
def test_one_admission_per_request_decides_as_admit_alone(key: ApiKey, batch: list[dict[str, Any]]) -> None:
    admission = Admission(key, CATALOG, NOW)
    assert [admission.admit(raw) for raw in batch] == [admit(raw, key, CATALOG, NOW) for raw in batch]


@settings(max_examples=150, deadline=None)
@given(batch=st.lists(events(), max_size=12), source=st.sampled_from(["counter-qn", "bench", ""]))
def test_records_are_the_bytes_of_the_full_encoding(batch: list[dict[str, Any]], source: str) -> None:
    key = ApiKey("all", "0" * 64, ("*",))
    admitted = [
        o.to_domain()
        for o in (admit(raw, key, CATALOG, NOW) for raw in batch)
        if not isinstance(o, Rejection)
    ]
    recorded_at = NOW + timedelta(microseconds=123_456)
    assert records(admitted, recorded_at, source) == [
        (e.dossier_code.encode(), encode_event(event_to_proto(e, recorded_at=recorded_at, source=source)))
        for e in admitted
    ]
