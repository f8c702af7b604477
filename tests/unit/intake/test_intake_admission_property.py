"""Admission never raises, whatever JSON-like value it is given: it returns an event that can be
written to Kafka, or a rejection with at most 20 bounded errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from dossier_contracts.event_codec import EVENT_TYPES, encode_event, event_to_proto, proto_to_event
from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_intake.admission import Rejection, admit
from dossier_intake.bounded import CODE_PATTERN, TEXT_PATTERN
from dossier_intake.errors import MAX_ERRORS, MAX_FIELD_CHARS, MAX_MESSAGE_CHARS
from dossier_intake.examples import example_event
from dossier_intake.schemas import DATA_FIELDS, EVENT_ADAPTER
from dossier_runtime.api_keys import ApiKey

CATALOG = load_catalog(default_catalog_dir())
KEY = ApiKey("qn", "0" * 64, ("*.H49",))
AGENCIES = sorted(CATALOG.agencies)
PROCEDURES = sorted(CATALOG.procedures)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets).map(
    lambda t: t.isoformat()
)
near_instants = st.datetimes(
    min_value=datetime(1999, 12, 31), max_value=datetime(2100, 1, 2), timezones=offsets
).map(lambda t: t.isoformat())
texts = st.text(max_size=40) | st.text(alphabet="x\n\u202e ", max_size=2100) | st.just("x" * 2001)


@st.composite
def dossier_codes(draw: st.DrawFn, agency: Any) -> Any:
    prefix = agency if isinstance(agency, str) and draw(st.booleans()) else draw(st.text(max_size=15))
    day = draw(st.from_regex(r"[0-9]{6}", fullmatch=True) | st.text(max_size=6))
    sequence = draw(st.from_regex(r"[0-9]{4,10}", fullmatch=True) | st.text(max_size=11))
    return f"{prefix}-{day}-{sequence}"


data_values = {
    "procedure_code": st.sampled_from(PROCEDURES) | st.text(max_size=10),
    "channel": st.sampled_from(["direct", "online", "postal", "fax"]),
    "due_at": near_instants | instants,
    "new_appointment_at": near_instants | instants,
    "applicant_type": st.integers(min_value=-1, max_value=6),
    "on_site": st.booleans() | st.integers(0, 1),
    "amount": st.integers(min_value=-1, max_value=2**64),
    "reason": texts,
    "result": texts,
    "step": texts,
    "department": texts,
}


@st.composite
def events(draw: st.DrawFn) -> Any:
    """A valid event of any type, then a few of its fields (or its data's) replaced by hostile
    values, some removed, unknown ones added."""
    event_type = draw(st.sampled_from(EVENT_TYPES))
    agency = draw(st.sampled_from([*AGENCIES, "000.00.10.H22"]))
    raw = example_event(event_type) | {
        "event_id": str(draw(st.uuids())),
        "agency_code": agency,
        "dossier_code": f"{agency}-250405-{draw(st.integers(0, 99_999)):04d}",
        "occurred_at": draw(near_instants),
    }
    raw["data"] = raw["data"] | draw(st.just({}) | st.fixed_dictionaries({}, optional=data_values))
    hostile: dict[str, st.SearchStrategy[Any]] = {
        "event_id": json_like,
        "type": st.sampled_from(EVENT_TYPES) | json_like,
        "agency_code": st.text(max_size=15) | json_like,
        "dossier_code": dossier_codes(agency) | json_like,
        "occurred_at": instants | json_like,
        "data": json_like,
    }
    for name in draw(st.sets(st.sampled_from(sorted(hostile)), max_size=3)):
        raw[name] = draw(hostile[name])
    for name in draw(st.sets(st.sampled_from(sorted(hostile)), max_size=2)):
        raw.pop(name, None)
    raw.update(draw(st.just({}) | st.dictionaries(st.text(max_size=8), json_like, max_size=30)))
    return raw


def check(outcome: Any) -> None:
    if isinstance(outcome, Rejection):
        assert outcome.status_code in (403, 422)
        assert 1 <= len(outcome.errors) <= MAX_ERRORS and outcome.errors_truncated >= 0
        for error in outcome.errors:
            assert len(error["field"]) <= MAX_FIELD_CHARS + 1
            assert len(error["message"]) <= MAX_MESSAGE_CHARS + 1
        return
    msg = event_to_proto(outcome.to_json(), recorded_at=datetime.now(UTC), source="qn")
    assert encode_event(msg)
    back = proto_to_event(msg)
    assert back["event_id"] == str(outcome.event_id) and back["type"] == outcome.type
    assert KEY.allows(outcome.agency_code) and outcome.agency_code in CATALOG.agencies


CLOCK = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 1), timezones=st.just(UTC))
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(raw=json_like, now=CLOCK)
def test_any_json_value_is_admitted_or_rejected(raw: Any, now: datetime) -> None:
    check(admit(raw, KEY, CATALOG, now))


@PROPERTY
@given(raw=events(), now=CLOCK)
def test_any_event_like_object_is_admitted_or_rejected(raw: Any, now: datetime) -> None:
    check(admit(raw, KEY, CATALOG, now))


@settings(max_examples=50, deadline=None)
@given(extra=st.integers(min_value=0, max_value=200), data_extra=st.integers(min_value=0, max_value=200))
def test_many_unknown_keys_list_20_and_count_the_rest(extra: int, data_extra: int) -> None:
    raw = {
        "event_id": "6f1c0e0a-7a57-4a43-9a3b-0e3a8d1d2b7e",
        "type": "dossier.fee_paid",
        "dossier_code": "000.00.10.H49-250405-0001",
        "agency_code": "000.00.10.H49",
        "occurred_at": "2025-04-05T09:15:00+07:00",
        "data": {f"d{i}": i for i in range(data_extra)},
        **{f"k{i}": i for i in range(extra)},
    }
    outcome = admit(raw, KEY, CATALOG, datetime(2025, 4, 5, tzinfo=UTC))
    if extra + data_extra == 0:
        assert not isinstance(outcome, Rejection)
        return
    assert isinstance(outcome, Rejection)
    assert len(outcome.errors) == min(MAX_ERRORS, extra + data_extra)
    assert len(outcome.errors) + outcome.errors_truncated == extra + data_extra
    assert {e["type"] for e in outcome.errors} == {"extra_forbidden"}
    assert not set(DATA_FIELDS) & {e["field"] for e in outcome.errors}


def accepted(raw: Any) -> bool:
    try:
        EVENT_ADAPTER.validate_python(raw, context={"now": datetime(2025, 4, 5, tzinfo=UTC)})
    except ValidationError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=50) | st.text(alphabet=" \u00a0\u3000\t\nx\u202e\u200b\ufeff", max_size=8))
def test_the_json_schema_of_free_text_and_codes_says_what_the_service_accepts(text: str) -> None:
    """The patterns the OpenAPI document states for texts and codes accept exactly what the
    service accepts."""
    for schema_pattern, event_type, name in (
        (TEXT_PATTERN, "dossier.refused", "reason"),
        (CODE_PATTERN, "dossier.received", "procedure_code"),
    ):
        raw = example_event(event_type)
        raw["data"] = raw["data"] | {name: text}
        assert accepted(raw) == (re.fullmatch(schema_pattern, text) is not None), (name, text)
