"""`dossier_to_snapshot` builds exactly the message one gets by setting every field by hand, one
Timestamp at a time: the same bytes for any dossier, and `snapshot_of` given the same deadline and
timeliness is `dossier_to_snapshot`."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from dossier_contracts.gen.dossier.v1 import events_pb2, status_pb2
from dossier_contracts.snapshot_codec import dossier_to_snapshot, encode_snapshot, snapshot_of
from dossier_core.dossier import Dossier
from tests.unit.contracts.test_snapshot_codec import BASE, CAL, dossiers, instants

#: Instants down to the microsecond, as processing's clock gives them.
moments = st.builds(lambda t, us: t.replace(microsecond=us), instants, st.integers(0, 999_999))


def _set(target: Timestamp, value: datetime | None) -> None:
    if value is not None:
        target.FromDatetime(value)


def _by_hand(dossier: Dossier, changed_at: datetime, last_event_id: str) -> bytes:
    """The snapshot set field by field, each instant with protobuf's own `FromDatetime`."""
    msg = status_pb2.DossierStatusChanged(
        dossier_code=dossier.dossier_code,
        version=7,
        status_code=int(dossier.status),
        agency_code=dossier.agency_code,
        procedure_code=dossier.procedure_code or "",
        field="Đất đai",
        anomalies=list(dossier.anomalies),
        on_site=dossier.on_site,
        event_count=dossier.event_count,
        last_event_id=last_event_id,
    )
    if dossier.channel:
        msg.channel = events_pb2.Channel.Value(f"CHANNEL_{dossier.channel.name}")
    if dossier.end_kind:
        msg.end_kind = status_pb2.EndKind.Value(f"END_KIND_{dossier.end_kind.name}")
    timeliness = dossier.timeliness(CAL)
    if timeliness:
        msg.timeliness = status_pb2.Timeliness.Value(f"TIMELINESS_{timeliness.name}")
    msg.changed_at.FromDatetime(changed_at)
    for name in ("submitted_at", "received_at", "legal_due_at", "computed_due_at", "appointment_at"):
        _set(getattr(msg, name), getattr(dossier, name))
    _set(msg.finished_at, dossier.finished_at)
    _set(msg.ended_at, dossier.ended_at)
    _set(msg.effective_due_at, dossier.effective_due(changed_at, CAL))
    if dossier.applicant_type is not None:
        msg.applicant_type = dossier.applicant_type
    if dossier.rule is not None:
        msg.rule.unit = dossier.rule.unit.value
        if dossier.rule.duration is not None:
            msg.rule.duration = dossier.rule.duration
    for pause in dossier.pauses:
        p = msg.pauses.add(
            kind=status_pb2.PauseKind.Value(f"PAUSE_KIND_{pause.kind.name}"),
            policy=status_pb2.PausePolicy.Value(f"PAUSE_POLICY_{pause.policy.name}"),
        )
        p.started_at.FromDatetime(pause.started_at)
        _set(p.ended_at, pause.ended_at)
    for at in dossier.reschedules:
        msg.reschedules.add().FromDatetime(at)
    return msg.SerializeToString()


@settings(max_examples=300, deadline=None)
@given(dossiers, st.one_of(st.just(BASE), moments), st.sampled_from(["", "e-1"]))
def test_snapshot_bytes_are_those_set_by_hand(dossier: Dossier, changed_at: datetime, last: str) -> None:
    built = dossier_to_snapshot(
        dossier, version=7, changed_at=changed_at, field="Đất đai", calendar=CAL, last_event_id=last
    )
    assert encode_snapshot(built) == _by_hand(dossier, changed_at, last)
    given_parts = snapshot_of(
        dossier,
        version=7,
        changed_at=changed_at,
        field="Đất đai",
        last_event_id=last,
        effective_due_at=dossier.effective_due(changed_at, CAL),
        timeliness=dossier.timeliness(CAL),
    )
    assert given_parts == built
