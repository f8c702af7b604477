"""The pure batch step: decoding, duplicates, re-folding, rows and snapshots."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from processing_factory import START, Record, event, stream

from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.catalog import default_catalog_dir, load_catalog
from dossier_processing.ingest.decode import Incoming, decode_messages
from dossier_processing.ingest.plan import StoredDossier, process_batch

CATALOG = load_catalog(default_catalog_dir())
NOW = START + timedelta(days=400)
CODE = "000.00.18.H49-250303-0001"


def incoming(sent: list) -> list[Incoming]:
    items, rejected = decode_messages([Record(e.raw, offset=i) for i, e in enumerate(sent)])
    assert not rejected
    return items


def test_undecodable_messages_are_rejected_with_their_bytes_and_the_rest_kept() -> None:
    good = event("received", CODE, START, procedure_code="1.004194", channel="direct")
    items, rejected = decode_messages(
        [Record(b"\x00garbage", offset=1), Record(None, offset=2), Record(good.raw)]
    )
    assert [i.event.event_id for i in items] == [good.event_id]
    assert [(r.raw, r.offset) for r in rejected] == [(b"\x00garbage", 1), (b"", 2)]
    assert all(r.error for r in rejected)


def test_new_dossier_gets_version_1_and_a_snapshot_matching_the_row() -> None:
    sent = [
        event("received", CODE, START, procedure_code="1.004194", channel="online"),
        event("supplement_requested", CODE, START + timedelta(hours=2), reason="thiếu"),
    ]
    plan = process_batch(incoming(sent), {}, [10, 11], CATALOG, NOW)
    assert [e.seq for e in plan.events] == [10, 11] and plan.duplicates == 0
    (row,) = plan.dossiers
    assert row.version == 1 and row.status_code == 5 and row.is_open and row.paused_since is not None
    snapshot = decode_snapshot(row.snapshot)
    assert snapshot.version == 1 and snapshot.last_event_id == sent[-1].event_id
    assert snapshot_to_dossier(snapshot).status == 5
    assert plan.outbox == [(CODE, 1, row.snapshot)]


def test_known_and_repeated_event_ids_are_duplicates() -> None:
    first = event("received", CODE, START, procedure_code="1.004194", channel="direct")
    later = event("processing", CODE, START + timedelta(hours=1))
    stored = {CODE: StoredDossier(version=1, events=[incoming([first])[0].event])}
    plan = process_batch(incoming([first, later, later]), stored, [5, 6, 7], CATALOG, NOW)
    assert plan.duplicates == 2
    assert [e.event_id for e in plan.events] == [later.event_id]
    assert plan.dossiers[0].version == 2 and plan.dossiers[0].event_count == 2


def test_a_batch_of_only_duplicates_writes_nothing() -> None:
    first = event("received", CODE, START, procedure_code="1.004194", channel="direct")
    stored = {CODE: StoredDossier(version=3, events=[incoming([first])[0].event])}
    plan = process_batch(incoming([first]), stored, [9], CATALOG, NOW)
    assert plan.duplicates == 1 and not plan.events and not plan.dossiers


def test_anomalies_are_counted_once() -> None:
    sent = [
        event("received", CODE, START, procedure_code="1.004194", channel="direct"),
        event("withdrawn", CODE, START + timedelta(hours=1)),
        event("resolved", CODE, START + timedelta(hours=2)),
    ]
    plan = process_batch(incoming(sent), {}, [1, 2, 3], CATALOG, NOW)
    assert plan.anomalies_added == 1
    stored = {CODE: StoredDossier(version=1, anomaly_count=1, events=[i.event for i in incoming(sent)])}
    again = process_batch(
        incoming([event("processing", CODE, START + timedelta(hours=3))]), stored, [4], CATALOG, NOW
    )
    assert again.anomalies_added == 1  # processing after withdrawn: one more, the old one not recounted


def test_returned_at_is_the_returned_event_time() -> None:
    sent = [
        event("received", CODE, START, procedure_code="1.004194", channel="direct"),
        event("resolved", CODE, START + timedelta(hours=5)),
        event("returned", CODE, START + timedelta(hours=30)),
    ]
    (row,) = process_batch(incoming(sent), {}, [1, 2, 3], CATALOG, NOW).dossiers
    assert row.returned_at == START + timedelta(hours=30) and row.finished_at == START + timedelta(hours=5)
    assert row.timeliness in ("early", "on_time", "late") and not row.is_open


def _final_rows(chunks: list[list]) -> dict:
    """Apply chunks as consecutive batches, carrying the stored state like the database would."""
    stored: dict[str, StoredDossier] = {}
    rows = {}
    seq = 0
    for chunk in chunks:
        items = incoming(chunk)
        plan = process_batch(items, stored, list(range(seq, seq + len(items))), CATALOG, NOW)
        seq += len(items)
        for row in plan.dossiers:
            before = stored.get(row.dossier_code) or StoredDossier()
            stored[row.dossier_code] = StoredDossier(row.version, 0, plan.histories[row.dossier_code])
            assert row.version == before.version + 1
            rows[row.dossier_code] = row
    return {
        code: (
            r.status_code,
            r.received_at,
            r.legal_due_at,
            r.finished_at,
            r.ended_at,
            r.pauses,
            r.anomalies,
            r.event_count,
            r.timeliness,
        )
        for code, r in rows.items()
    }


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 6))
def test_any_delivery_order_and_batching_with_duplicates_gives_the_same_rows(
    rng: random.Random, cuts: int
) -> None:
    histories = list(stream(6, seed=rng.randint(0, 10_000)))
    ordered = [e for h in histories for e in h]
    shuffled = rng.sample(ordered, len(ordered)) + rng.sample(ordered, len(ordered) // 2)
    bounds = sorted(rng.sample(range(1, len(shuffled)), min(cuts, len(shuffled) - 1)))
    chunks = [shuffled[a:b] for a, b in zip([0, *bounds], [*bounds, len(shuffled)], strict=True)]
    assert _final_rows(chunks) == _final_rows([ordered])
