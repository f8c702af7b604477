"""A dossier survives Dossier → DossierStatusChanged → bytes → Dossier unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dossier_contracts.snapshot_codec import (
    decode_snapshot,
    dossier_to_snapshot,
    encode_snapshot,
    snapshot_to_dossier,
)
from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import DeadlineUnit, SupplementPolicy
from dossier_core.deadlines import DeadlineRule
from dossier_core.dossier import Dossier, EndKind, Pause, PauseKind
from dossier_core.events import Channel, StatusCode

CAL = WorkingCalendar()
BASE = datetime(2021, 4, 5, 9, 15, tzinfo=VN_TZ)
instants = st.integers(min_value=0, max_value=60 * 24 * 90).map(lambda m: BASE + timedelta(minutes=m))
maybe = st.one_of(st.none(), instants)
pauses = st.builds(
    Pause,
    kind=st.sampled_from(PauseKind),
    started_at=instants,
    ended_at=maybe,
    policy=st.sampled_from(SupplementPolicy),
)
rules = st.one_of(
    st.none(),
    st.builds(
        DeadlineRule, unit=st.sampled_from(DeadlineUnit), duration=st.one_of(st.none(), st.integers(0, 90))
    ),
)
dossiers = st.builds(
    Dossier,
    dossier_code=st.just("000.00.18.H49-210405-0001"),
    agency_code=st.just("000.00.18.H49"),
    procedure_code=st.one_of(st.none(), st.just("1.001612")),
    channel=st.one_of(st.none(), st.sampled_from(Channel)),
    status=st.sampled_from(StatusCode),
    submitted_at=maybe,
    received_at=maybe,
    rule=rules,
    legal_due_at=maybe,
    computed_due_at=maybe,
    appointment_at=maybe,
    pauses=st.lists(pauses, max_size=3).map(tuple),
    finished_at=maybe,
    ended_at=maybe,
    end_kind=st.one_of(st.none(), st.sampled_from(EndKind)),
    reschedules=st.lists(instants, max_size=3).map(tuple),
    anomalies=st.lists(st.text(max_size=20), max_size=2).map(tuple),
    applicant_type=st.one_of(st.none(), st.integers(1, 4)),
    on_site=st.booleans(),
    event_count=st.integers(0, 50),
)


@settings(deadline=None)  # timing is not under test; the machine may be busy
@given(dossiers)
def test_round_trip(dossier: Dossier) -> None:
    msg = dossier_to_snapshot(dossier, version=3, changed_at=BASE, field="Hộ tịch", calendar=CAL)
    back = decode_snapshot(encode_snapshot(msg))
    assert back.version == 3 and back.field == "Hộ tịch"
    assert snapshot_to_dossier(back) == dossier
