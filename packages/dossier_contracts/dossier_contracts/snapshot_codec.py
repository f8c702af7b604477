"""`Dossier` (domain) ↔ `DossierStatusChanged` (the snapshot on `dossier.status.v1`). A snapshot
carries every field of the dossier, so `snapshot_to_dossier` gives back an equal `Dossier` and
consumers answer time-dependent questions with the domain core.

`event_from_proto` (protobuf events → domain events, `upcast.py`) is importable from here too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dossier_contracts.gen.dossier.v1 import events_pb2, status_pb2
from dossier_contracts.upcast import event_from_proto
from dossier_contracts.wire_values import (
    CHANNEL_FROM_PROTO,
    CHANNEL_TO_PROTO,
    from_timestamp,
    timestamp_fields,
)
from dossier_core.calendar import WorkingCalendar
from dossier_core.catalog import DeadlineUnit, SupplementPolicy
from dossier_core.codes import StatusCode
from dossier_core.deadlines import DeadlineRule
from dossier_core.dossier import Dossier, EndKind, Pause, PauseKind
from dossier_core.timeliness import Timeliness

__all__ = [
    "TIMELINESS_FROM_PROTO",
    "decode_snapshot",
    "dossier_to_snapshot",
    "encode_snapshot",
    "event_from_proto",
    "snapshot_of",
    "snapshot_to_dossier",
]

_PAUSE_KIND = {
    PauseKind.SUPPLEMENT: status_pb2.PAUSE_KIND_SUPPLEMENT,
    PauseKind.FEE: status_pb2.PAUSE_KIND_FEE,
    PauseKind.SUSPENSION: status_pb2.PAUSE_KIND_SUSPENSION,
}
_POLICY = {
    SupplementPolicy.EXTEND: status_pb2.PAUSE_POLICY_EXTEND,
    SupplementPolicy.RESTART: status_pb2.PAUSE_POLICY_RESTART,
}
_END_KIND = {
    EndKind.RESOLVED: status_pb2.END_KIND_RESOLVED,
    EndKind.RETURNED: status_pb2.END_KIND_RETURNED,
    EndKind.WITHDRAWN: status_pb2.END_KIND_WITHDRAWN,
    EndKind.REFUSED: status_pb2.END_KIND_REFUSED,
    EndKind.NOT_ACCEPTED: status_pb2.END_KIND_NOT_ACCEPTED,
}
_TIMELINESS = {
    Timeliness.EARLY: status_pb2.TIMELINESS_EARLY,
    Timeliness.ON_TIME: status_pb2.TIMELINESS_ON_TIME,
    Timeliness.LATE: status_pb2.TIMELINESS_LATE,
}
_PAUSE_KIND_BACK = {v: k for k, v in _PAUSE_KIND.items()}
_POLICY_BACK = {v: k for k, v in _POLICY.items()}
_END_KIND_BACK = {v: k for k, v in _END_KIND.items()}
TIMELINESS_FROM_PROTO = {v: k for k, v in _TIMELINESS.items()}


def _get_time(msg: object, name: str) -> datetime | None:
    return from_timestamp(getattr(msg, name)) if msg.HasField(name) else None  # type: ignore[attr-defined]


#: The optional instants of a dossier, each the snapshot field of the same name.
_INSTANTS = (
    "submitted_at",
    "received_at",
    "legal_due_at",
    "computed_due_at",
    "appointment_at",
    "finished_at",
    "ended_at",
)


def dossier_to_snapshot(
    dossier: Dossier,
    *,
    version: int,
    changed_at: datetime,
    field: str,
    calendar: WorkingCalendar,
    last_event_id: str = "",
) -> status_pb2.DossierStatusChanged:
    """The snapshot of a dossier at `version`, with its effective deadline and timeliness as of
    `changed_at` (so simple consumers need no calendar)."""
    return snapshot_of(
        dossier,
        version=version,
        changed_at=changed_at,
        field=field,
        last_event_id=last_event_id,
        effective_due_at=dossier.effective_due(changed_at, calendar),
        timeliness=dossier.timeliness(calendar),
    )


def snapshot_of(
    dossier: Dossier,
    *,
    version: int,
    changed_at: datetime,
    field: str,
    last_event_id: str,
    effective_due_at: datetime | None,
    timeliness: Timeliness | None,
    accepted_ms: int | None = None,
) -> status_pb2.DossierStatusChanged:
    """`dossier_to_snapshot` for a caller that already has the dossier's effective deadline at
    `changed_at` and its timeliness. The message is built in one constructor call, timestamps as
    field dicts: far cheaper than setting and copying Timestamp messages one by one."""
    fields: dict[str, Any] = {
        "dossier_code": dossier.dossier_code,
        "version": version,
        "changed_at": timestamp_fields(changed_at),
        "status_code": int(dossier.status),
        "agency_code": dossier.agency_code,
        "procedure_code": dossier.procedure_code or "",
        "field": field,
        "channel": CHANNEL_TO_PROTO[dossier.channel] if dossier.channel else events_pb2.CHANNEL_UNSPECIFIED,
        "end_kind": _END_KIND[dossier.end_kind] if dossier.end_kind else status_pb2.END_KIND_UNSPECIFIED,
        "timeliness": _TIMELINESS[timeliness] if timeliness else status_pb2.TIMELINESS_UNSPECIFIED,
        "anomalies": dossier.anomalies,
        "on_site": dossier.on_site,
        "event_count": dossier.event_count,
        "last_event_id": last_event_id,
    }
    for name in _INSTANTS:
        value = getattr(dossier, name)
        if value is not None:
            fields[name] = timestamp_fields(value)
    if effective_due_at is not None:
        fields["effective_due_at"] = timestamp_fields(effective_due_at)
    if accepted_ms is not None:  # when intake accepted the newest event this version applies
        fields["accepted_at"] = {"seconds": accepted_ms // 1000, "nanos": accepted_ms % 1000 * 1_000_000}
    if dossier.applicant_type is not None:
        fields["applicant_type"] = dossier.applicant_type
    if dossier.digitised:
        fields["digitised"] = True
    if dossier.payment_channel:
        fields["payment_channel"] = dossier.payment_channel
    rule = dossier.rule
    if rule is not None:
        fields["rule"] = (
            {"unit": rule.unit.value}
            if rule.duration is None
            else {"unit": rule.unit.value, "duration": rule.duration}
        )
    if dossier.pauses:
        fields["pauses"] = [_pause_fields(pause) for pause in dossier.pauses]
    if dossier.reschedules:
        fields["reschedules"] = [timestamp_fields(at) for at in dossier.reschedules]
    return status_pb2.DossierStatusChanged(**fields)


def _pause_fields(pause: Pause) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "kind": _PAUSE_KIND[pause.kind],
        "policy": _POLICY[pause.policy],
        "started_at": timestamp_fields(pause.started_at),
    }
    if pause.ended_at is not None:
        fields["ended_at"] = timestamp_fields(pause.ended_at)
    return fields


def snapshot_to_dossier(msg: status_pb2.DossierStatusChanged) -> Dossier:
    """The `Dossier` a snapshot describes (equal to the one it was made from)."""
    rule = None
    if msg.HasField("rule"):
        rule = DeadlineRule(
            DeadlineUnit(msg.rule.unit), msg.rule.duration if msg.rule.HasField("duration") else None
        )
    return Dossier(
        dossier_code=msg.dossier_code,
        agency_code=msg.agency_code,
        procedure_code=msg.procedure_code or None,
        channel=CHANNEL_FROM_PROTO.get(msg.channel),
        status=StatusCode(msg.status_code),
        submitted_at=_get_time(msg, "submitted_at"),
        received_at=_get_time(msg, "received_at"),
        rule=rule,
        legal_due_at=_get_time(msg, "legal_due_at"),
        computed_due_at=_get_time(msg, "computed_due_at"),
        appointment_at=_get_time(msg, "appointment_at"),
        pauses=tuple(
            Pause(
                kind=_PAUSE_KIND_BACK[p.kind],
                started_at=from_timestamp(p.started_at),
                ended_at=_get_time(p, "ended_at"),
                policy=_POLICY_BACK[p.policy],
            )
            for p in msg.pauses
        ),
        finished_at=_get_time(msg, "finished_at"),
        ended_at=_get_time(msg, "ended_at"),
        end_kind=_END_KIND_BACK.get(msg.end_kind),
        reschedules=tuple(from_timestamp(t) for t in msg.reschedules),
        anomalies=tuple(msg.anomalies),
        applicant_type=msg.applicant_type if msg.HasField("applicant_type") else None,
        on_site=msg.on_site,
        digitised=msg.digitised,
        payment_channel=msg.payment_channel or None,
        event_count=msg.event_count,
    )


def encode_snapshot(msg: status_pb2.DossierStatusChanged) -> bytes:
    return msg.SerializeToString()


def decode_snapshot(raw: bytes) -> status_pb2.DossierStatusChanged:
    msg = status_pb2.DossierStatusChanged()
    try:
        msg.ParseFromString(raw)
    except Exception as exc:
        raise ValueError(f"undecodable snapshot: {exc}") from exc
    if not msg.dossier_code or msg.version == 0:
        raise ValueError("snapshot lacks dossier_code or version")
    return msg
