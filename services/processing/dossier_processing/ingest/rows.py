"""Serialising a folded dossier into the rows the consumer writes: `EventRow`, and `DossierRow` with its
status snapshot for the outbox (both defined in `models.py`). Pure: no I/O."""

from __future__ import annotations

from datetime import datetime

import orjson

from dossier_contracts.snapshot_codec import encode_snapshot, snapshot_of
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.dossier import Dossier
from dossier_core.events import DossierEvent
from dossier_core.timeliness import classify_finish
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


def dossier_row(
    dossier: Dossier,
    version: int,
    last_event_id: str,
    catalog: Catalog,
    now: datetime,
    returned_at: datetime | None = None,
    accepted_ms: int | None = None,
) -> DossierRow:
    """The stored state of a dossier at `version`, with its snapshot for the outbox (`accepted_ms`:
    when intake accepted the newest event the version applies, as its Kafka timestamp)."""
    calendar = catalog.calendar()
    procedure = catalog.procedures.get(dossier.procedure_code or "")
    due_now = dossier.effective_due(now, calendar)
    finished, ended_at = dossier.finished_at, dossier.ended_at
    # The deadline at the finish serves the timeliness and, for a finished dossier, the row's due_at.
    due_finished = None if finished is None else dossier.effective_due(finished, calendar)
    timeliness = None if finished is None else classify_finish(finished, due_finished)
    if finished is not None:
        due_at = due_finished
    elif ended_at is not None:
        due_at = dossier.effective_due(ended_at, calendar)
    else:  # as the snapshot carries it: in Vietnam time
        due_at = due_now if due_now is None or due_now.tzinfo is VN_TZ else due_now.astimezone(VN_TZ)
    snapshot = snapshot_of(
        dossier,
        version=version,
        changed_at=now,
        field=procedure.field if procedure else "",
        last_event_id=last_event_id,
        effective_due_at=due_now,
        timeliness=timeliness,
        accepted_ms=accepted_ms,
    )
    pauses = dossier.pauses
    open_pause = pauses[-1] if pauses and pauses[-1].ended_at is None else None
    is_open = dossier.is_received and ended_at is None
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
        finished_at=finished,
        ended_at=ended_at,
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
                for p in pauses
            ]
        ).decode(),
        anomalies=orjson.dumps(dossier.anomalies).decode(),
        reschedule_count=len(dossier.reschedules),
        applicant_type=dossier.applicant_type,
        on_site=dossier.on_site,
        event_count=dossier.event_count,
        version=version,
        last_event_id=last_event_id,
        snapshot=encode_snapshot(snapshot),
    )
