"""`accepted_at` on a snapshot: the Kafka timestamp of the newest event a version applies, carried from
the consumed record (`decode_messages`) to the snapshot (`dossier_row`), exact to the millisecond."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st
from processing_factory import START, Record, stream

from dossier_contracts.snapshot_codec import decode_snapshot
from dossier_core.calendar import VN_TZ
from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_core.lifecycle import fold
from dossier_processing.ingest.decode import decode_messages
from dossier_processing.ingest.plan import process_batch
from dossier_processing.ingest.rows import dossier_row

CATALOG = load_catalog(default_catalog_dir())
HISTORY = next(stream(1, seed=5))
NOW = datetime(2025, 3, 4, 9, 0, tzinfo=VN_TZ)


def test_the_record_timestamp_travels_with_the_decoded_event() -> None:
    incoming, rejected = decode_messages([Record(HISTORY[0].raw, timestamp=1_741_000_000_123)])
    assert not rejected
    assert incoming[0].accepted_ms == 1_741_000_000_123


@given(st.integers(min_value=946_684_800_000, max_value=4_102_444_799_999))  # years 2000-2099
def test_the_snapshot_carries_accepted_at_to_the_millisecond(accepted_ms: int) -> None:
    incoming, _ = decode_messages([Record(s.raw) for s in HISTORY])
    dossier = fold([i.event for i in incoming], CATALOG)
    row = dossier_row(dossier, 1, "e", CATALOG, NOW, accepted_ms=accepted_ms)
    snapshot = decode_snapshot(row.snapshot)
    assert snapshot.HasField("accepted_at")
    assert snapshot.accepted_at.seconds * 1000 + snapshot.accepted_at.nanos // 1_000_000 == accepted_ms


def test_a_version_without_new_events_has_no_accepted_at() -> None:
    incoming, _ = decode_messages([Record(s.raw) for s in HISTORY])
    row = dossier_row(fold([i.event for i in incoming], CATALOG), 2, "e", CATALOG, START)
    assert not decode_snapshot(row.snapshot).HasField("accepted_at")


def test_a_batch_stamps_each_version_with_its_newest_accepted_event() -> None:
    records = [Record(s.raw, offset=i, timestamp=1_741_000_000_000 + 7 * i) for i, s in enumerate(HISTORY)]
    incoming, _ = decode_messages(records)
    plan = process_batch(incoming, {}, list(range(1, len(incoming) + 1)), CATALOG, NOW)
    (row,) = plan.dossiers
    accepted = decode_snapshot(row.snapshot).accepted_at
    assert accepted.seconds * 1000 + accepted.nanos // 1_000_000 == 1_741_000_000_000 + 7 * (len(HISTORY) - 1)
