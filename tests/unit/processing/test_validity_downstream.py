"""Agency validity is intake's decision, at admission only: processing folds the events of an agency
outside its validity (taken in intake's grace period, replayed from the dead letters, or sent again
for a dossier of an abolished agency) like any other."""

from __future__ import annotations

from datetime import datetime, timedelta

from processing_factory import Record, event

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import default_catalog_dir, load_catalog
from dossier_processing.ingest.decode import decode_messages
from dossier_processing.ingest.plan import process_batch

CATALOG = load_catalog(default_catalog_dir())


def test_events_outside_the_agency_validity_are_folded_without_anomaly() -> None:
    district = CATALOG.agencies["000.00.31.H49"]
    assert district.valid_to is not None
    received = datetime.combine(district.valid_to, datetime.min.time(), VN_TZ) + timedelta(hours=9)
    code = f"{district.code}-{received:%y%m%d}-0001"
    long_after = received + timedelta(days=400)  # far beyond any grace period
    sent = [
        event("received", code, received, procedure_code="1.004194", channel="direct"),
        event("processing", code, received + timedelta(hours=1)),
        event("resolved", code, long_after),
        event("returned", code, long_after + timedelta(hours=1)),
    ]
    items, rejected = decode_messages([Record(s.raw, offset=i) for i, s in enumerate(sent)])
    assert not rejected
    plan = process_batch(items, {}, list(range(len(sent))), CATALOG, long_after + timedelta(days=1))
    assert len(plan.events) == len(sent)
    (row,) = plan.dossiers
    assert row.status_code == 10 and not row.is_open
    assert row.anomalies == "[]"  # stored as JSON
