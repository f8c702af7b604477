"""`portal.sync.v1` records (`dossier_contracts.portal_sync`): round trip, and what is not one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dossier_contracts.portal_sync import AgencySyncRecord, decode_sync_record, encode_sync_record

AS_OF = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)

counts = st.integers(min_value=0, max_value=10**9)


@given(
    synced=counts,
    pending=counts,
    failed=counts,
    parked=counts,
    behind=st.none() | st.integers(min_value=0, max_value=10**8),
)
def test_a_record_round_trips(
    synced: int, pending: int, failed: int, parked: int, behind: int | None
) -> None:
    record = AgencySyncRecord(
        agency_code="000.00.18.H49",
        received=synced + pending + failed + parked,
        synced=synced,
        pending=pending,
        failed=failed,
        parked=parked,
        oldest_unsynced_at=None if behind is None else AS_OF - timedelta(seconds=behind),
        as_of=AS_OF,
    )
    assert decode_sync_record(encode_sync_record(record)) == record


GOOD = {
    "agency_code": "A",
    "received": 3,
    "synced": 1,
    "pending": 1,
    "failed": 1,
    "parked": 0,
    "oldest_unsynced_at": None,
    "as_of": AS_OF.isoformat(),
}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"agency_code": ""}, "agency_code"),
        ({"synced": -1}, "synced"),
        ({"failed": True}, "failed"),
        ({"received": 4}, "received"),
        ({"as_of": "2026-12-07T02:30:00"}, "as_of"),
        ({"oldest_unsynced_at": "hôm qua"}, "oldest_unsynced_at"),
    ],
)
def test_a_value_that_is_not_a_record_is_refused_naming_the_field(
    change: dict[str, object], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        decode_sync_record(json.dumps({**GOOD, **change}).encode())


@pytest.mark.parametrize("raw", [None, b"", b"\xff", b"[]"])
def test_what_is_not_json_is_refused(raw: bytes | None) -> None:
    with pytest.raises(ValueError):
        decode_sync_record(raw)
