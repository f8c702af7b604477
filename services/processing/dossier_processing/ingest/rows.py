"""Serialising a folded dossier into the rows the consumer writes: `EventRow`, and `DossierRow` with its
status snapshot for the outbox (both defined in `models.py`). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import orjson

from dossier_contracts.event_codec import from_timestamp
from dossier_contracts.snapshot_codec import TIMELINESS_FROM_PROTO, dossier_to_snapshot, encode_snapshot
from dossier_core.catalog import Catalog
from dossier_core.dossier import Dossier
from dossier_core.events import DossierEvent, EventType, StatusCode
from dossier_processing.models import DossierRow, EventRow


def event_row(event: DossierEvent, raw: bytes, partition: int, offset: int) -> EventRow:
    """The stored form of an applied event (`event.seq` is its arrival number); `raw` its original bytes."""
    return EventRow(
        event.event_id,
        event.seq,
        event.dossier_code,
        event.agency_code,
        event.type.value,
        event.occurred_at,
        raw,
        partition,
        offset,
    )


def returned_at_of(dossier: Dossier, events: Iterable[DossierEvent]) -> datetime | None:
    """When the result went back to the citizen (NgayTra): the first `returned` of a dossier at status 10."""
    if dossier.status is not StatusCode.RETURNED:
        return None
    return min((e.occurred_at for e in events if e.type is EventType.RETURNED), default=None)


def dossier_row(
    dossier: Dossier,
    version: int,
    last_event_id: str,
    catalog: Catalog,
    now: datetime,
    returned_at: datetime | None = None,
) -> DossierRow:
    """The stored state of a dossier at `version`, with its snapshot for the outbox."""
    calendar = catalog.calendar()
    procedure = catalog.procedures.get(dossier.procedure_code or "")
    snapshot = dossier_to_snapshot(
        dossier,
        version=version,
        changed_at=now,
        field=procedure.field if procedure else "",
        calendar=calendar,
        last_event_id=last_event_id,
    )
    ended = dossier.finished_at or dossier.ended_at
    timeliness = TIMELINESS_FROM_PROTO.get(snapshot.timeliness)
    if ended is None:  # the snapshot already holds the deadline as of `now`
        due_at = from_timestamp(snapshot.effective_due_at) if snapshot.HasField("effective_due_at") else None
    else:
        due_at = dossier.effective_due(ended, calendar)
    open_pause = dossier.pauses[-1] if dossier.pauses and dossier.pauses[-1].ended_at is None else None
    is_open = dossier.is_received and dossier.ended_at is None
    return DossierRow(
        dossier_code=dossier.dossier_code,
        agency_code=dossier.agency_code,
        procedure_code=dossier.procedure_code,
        channel=dossier.channel.value if dossier.channel else None,
        status_code=int(dossier.status),
        submitted_at=dossier.submitted_at,
        received_at=dossier.received_at,
        legal_due_at=dossier.legal_due_at,
        due_at=due_at,
        appointment_at=dossier.appointment_at,
        finished_at=dossier.finished_at,
        ended_at=dossier.ended_at,
        returned_at=returned_at,
        end_kind=dossier.end_kind.value if dossier.end_kind else None,
        timeliness=timeliness.value if timeliness else None,
        is_open=is_open,
        paused_since=open_pause.started_at if open_pause is not None and is_open else None,
        pauses=orjson.dumps(
            [
                {
                    "kind": p.kind.value,
                    "started_at": p.started_at,
                    "ended_at": p.ended_at,
                    "policy": p.policy.value,
                }
                for p in dossier.pauses
            ]
        ).decode(),
        anomalies=orjson.dumps(list(dossier.anomalies)).decode(),
        reschedule_count=len(dossier.reschedules),
        applicant_type=dossier.applicant_type,
        on_site=dossier.on_site,
        event_count=dossier.event_count,
        version=version,
        last_event_id=last_event_id,
        snapshot=encode_snapshot(snapshot),
    )
