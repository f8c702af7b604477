"""The rows and status snapshots of a fixed set of folded dossiers are exactly those the consumer wrote
before its serialisation was made cheaper: each `DossierRow` (every value, with its zone) and each
snapshot's bytes, pinned by digest. A change here changes what the database and `dossier.status.v1`
receive, and needs a deliberate new digest."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from processing_factory import START, returned_at_of, stream

from dossier_contracts.event_codec import decode_event
from dossier_contracts.snapshot_codec import (
    TIMELINESS_FROM_PROTO,
    dossier_to_snapshot,
    encode_snapshot,
    event_from_proto,
)
from dossier_contracts.wire_values import from_timestamp
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_core.codes import StatusCode
from dossier_core.dossier import Dossier
from dossier_core.events import DossierEvent
from dossier_core.lifecycle import fold
from dossier_processing.ingest.rows import dossier_row
from tests.unit.contracts.test_snapshot_codec import dossiers, instants

#: While most of the dossiers are still open (many paused), and once every one has ended or stalled.
NOWS = (
    START + timedelta(days=2, hours=3, minutes=7),
    datetime.fromisoformat("2025-09-01T10:00:00.250+07:00"),
)
ROWS_DIGEST = "f937f6a834ac8583b826142c744d9ae7e9b8bb2e3ab0af1d7422f344f8259fdc"
SNAPSHOTS_DIGEST = "674024be9f4d4a708a1912fc125dbf7bd25d3657bc2ae06cdb99c2d3b5d5d05c"


CATALOG = load_catalog(default_catalog_dir())


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return CATALOG


@pytest.fixture(scope="module")
def folded(catalog: Catalog) -> list[tuple[Dossier, list[DossierEvent]]]:
    """600 histories of every shape the factory makes (pauses, endings, reschedules, open ones)."""
    out = []
    for history in stream(600, seed=12):
        events = [event_from_proto(decode_event(sent.raw), seq) for seq, sent in enumerate(history)]
        out.append((fold(events, catalog), events))
    return out


def test_dossier_rows_are_the_pinned_ones(
    folded: list[tuple[Dossier, list[DossierEvent]]], catalog: Catalog
) -> None:
    digest = hashlib.sha256()
    for now in NOWS:
        for n, (dossier, events) in enumerate(folded):
            row = dossier_row(dossier, n + 1, f"event-{n}", catalog, now, returned_at_of(dossier, events))
            digest.update(repr(row).encode())
    assert digest.hexdigest() == ROWS_DIGEST


def test_snapshots_are_the_pinned_bytes(
    folded: list[tuple[Dossier, list[DossierEvent]]], catalog: Catalog
) -> None:
    digest = hashlib.sha256()
    for now in NOWS:
        for n, (dossier, _) in enumerate(folded):
            snapshot = dossier_to_snapshot(
                dossier,
                version=n + 1,
                changed_at=now,
                field="Hộ tịch",
                calendar=catalog.calendar(),
                last_event_id="e",
            )
            digest.update(encode_snapshot(snapshot))
    assert digest.hexdigest() == SNAPSHOTS_DIGEST


#: processing's clock: to the microsecond.
moments = st.builds(lambda t, us: t.replace(microsecond=us), instants, st.integers(0, 999_999))


@settings(max_examples=300, deadline=None)
@given(dossiers, moments)
def test_any_dossiers_row_agrees_with_its_snapshot(dossier: Dossier, now: datetime) -> None:
    """The row's deadline is the snapshot's while the dossier is open, else the one at its finish (or
    end); its timeliness is the snapshot's; and the snapshot is `dossier_to_snapshot`'s."""
    catalog = CATALOG
    row = dossier_row(dossier, 4, "e", catalog, now)
    procedure = catalog.procedures.get(dossier.procedure_code or "")
    snapshot = dossier_to_snapshot(
        dossier,
        version=4,
        changed_at=now,
        field=procedure.field if procedure else "",
        calendar=catalog.calendar(),
        last_event_id="e",
    )
    assert row.snapshot == encode_snapshot(snapshot)
    ended = dossier.finished_at or dossier.ended_at
    if ended is None:
        expected = (
            from_timestamp(snapshot.effective_due_at) if snapshot.HasField("effective_due_at") else None
        )
        assert repr(row.due_at) == repr(expected)
    else:
        assert repr(row.due_at) == repr(dossier.effective_due(ended, catalog.calendar()))
    timeliness = TIMELINESS_FROM_PROTO.get(snapshot.timeliness)
    assert row.timeliness == (timeliness.value if timeliness else None)


def test_an_open_dossiers_deadline_is_in_vietnam_time_as_in_its_snapshot() -> None:
    received = datetime.fromisoformat("2025-03-03T01:00:00+00:00")
    dossier = Dossier(
        "000.00.18.H49-250303-0001",
        "000.00.18.H49",
        status=StatusCode.RECEIVED,
        received_at=received,
        legal_due_at=received + timedelta(days=3),
    )
    row = dossier_row(dossier, 1, "e", CATALOG, received + timedelta(hours=1))
    assert row.due_at == dossier.legal_due_at
    assert row.due_at is not None and row.due_at.tzinfo is VN_TZ
