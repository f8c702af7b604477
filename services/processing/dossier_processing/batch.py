"""The pure step between `getmany()` and the database: decode, drop duplicates, re-fold, build rows.

Nothing here does I/O. `decode_messages` turns Kafka records into domain events (or rejections for the
DLQ); `process_batch` takes those events, the stored history of the dossiers they touch and the arrival
sequence numbers reserved for them, and returns every row the batch must write in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import orjson

from dossier_contracts.event_codec import decode_event, from_timestamp
from dossier_contracts.snapshot_codec import (
    TIMELINESS_FROM_PROTO,
    dossier_to_snapshot,
    encode_snapshot,
    event_from_proto,
)
from dossier_core.catalog import Catalog
from dossier_core.dossier import Dossier
from dossier_core.events import DossierEvent, EventType, StatusCode
from dossier_core.lifecycle import fold


class KafkaRecord(Protocol):
    """What the batch needs of an aiokafka `ConsumerRecord`."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True)
class Incoming:
    """A decoded event with where it came from."""

    event: DossierEvent
    raw: bytes
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Rejected:
    """A message that cannot be applied: it goes to the DLQ with its original bytes and the error."""

    raw: bytes
    key: bytes | None
    topic: str
    partition: int
    offset: int
    error: str


@dataclass
class StoredDossier:
    """What the database already holds for one dossier: its events (with arrival seq) and version."""

    version: int = 0
    anomaly_count: int = 0
    events: list[DossierEvent] = field(default_factory=list)


@dataclass(frozen=True)
class EventRow:
    event_id: str
    seq: int
    dossier_code: str
    agency_code: str
    type: str
    occurred_at: datetime
    payload: bytes
    partition: int
    offset: int


@dataclass(frozen=True)
class DossierRow:
    """The `dossiers` row of a dossier at a new version (see models.dossiers)."""

    dossier_code: str
    agency_code: str
    procedure_code: str | None
    channel: str | None
    status_code: int
    submitted_at: datetime | None
    received_at: datetime | None
    legal_due_at: datetime | None
    due_at: datetime | None
    appointment_at: datetime | None
    finished_at: datetime | None
    ended_at: datetime | None
    returned_at: datetime | None
    end_kind: str | None
    timeliness: str | None
    is_open: bool
    paused_since: datetime | None
    pauses: str
    anomalies: str
    reschedule_count: int
    applicant_type: int | None
    on_site: bool
    event_count: int
    version: int
    last_event_id: str
    snapshot: bytes


@dataclass
class BatchPlan:
    """Everything one batch writes, plus what it counted."""

    events: list[EventRow] = field(default_factory=list)
    dossiers: list[DossierRow] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    histories: dict[str, list[DossierEvent]] = field(default_factory=dict)
    duplicates: int = 0
    anomalies_added: int = 0

    @property
    def outbox(self) -> list[tuple[str, int, bytes]]:
        return [(d.dossier_code, d.version, d.snapshot) for d in self.dossiers]


def decode_messages(records: Iterable[KafkaRecord]) -> tuple[list[Incoming], list[Rejected]]:
    """Domain events from raw records; anything undecodable becomes a `Rejected`."""
    incoming: list[Incoming] = []
    rejected: list[Rejected] = []
    for record in records:
        raw = record.value or b""
        try:
            event = event_from_proto(decode_event(raw))
        except Exception as exc:  # any failure to read one message must not stop the stream
            error = f"{type(exc).__name__}: {exc}"
            rejected.append(Rejected(raw, record.key, record.topic, record.partition, record.offset, error))
            continue
        incoming.append(Incoming(event, raw, record.topic, record.partition, record.offset))
    return incoming, rejected


def _with_seq(event: DossierEvent, seq: int) -> DossierEvent:
    """The same event with its arrival number; a field copy, since the event was validated when
    it was decoded (a second `DossierEvent(...)` would check it again on the hot path)."""
    copy = object.__new__(DossierEvent)
    copy.__dict__.update(event.__dict__, seq=seq)
    return copy


def process_batch(
    incoming: Sequence[Incoming],
    stored: Mapping[str, StoredDossier],
    seqs: Sequence[int],
    catalog: Catalog,
    now: datetime,
) -> BatchPlan:
    """Rows for the new events of a batch and the re-folded state of every dossier they touch.

    `seqs` holds one increasing arrival number per incoming event (some go unused when an event is
    a duplicate). An event whose id is already stored, or seen earlier in the batch, is a duplicate.
    """
    plan = BatchPlan()
    known = {e.event_id for s in stored.values() for e in s.events}
    new_by_dossier: dict[str, list[tuple[Incoming, DossierEvent]]] = {}
    for item, seq in zip(incoming, seqs, strict=True):
        event = item.event
        if event.event_id in known:
            plan.duplicates += 1
            continue
        known.add(event.event_id)
        sequenced = _with_seq(event, seq)
        new_by_dossier.setdefault(event.dossier_code, []).append((item, sequenced))

    for code, new in new_by_dossier.items():
        before = stored.get(code) or StoredDossier()
        history = [*before.events, *(e for _, e in new)]
        try:
            dossier = fold(history, catalog)
            returned_at = _returned_at(dossier, history)
            row = dossier_row(dossier, before.version + 1, new[-1][1].event_id, catalog, now, returned_at)
        except Exception as exc:  # the domain could not apply these events: DLQ them, keep going
            for item, _ in new:
                error = f"{type(exc).__name__}: {exc}"
                plan.rejected.append(
                    Rejected(item.raw, code.encode(), item.topic, item.partition, item.offset, error)
                )
            continue
        plan.anomalies_added += max(0, len(dossier.anomalies) - before.anomaly_count)
        plan.dossiers.append(row)
        plan.histories[code] = history
        plan.events.extend(
            EventRow(
                e.event_id,
                e.seq,
                code,
                e.agency_code,
                e.type.value,
                e.occurred_at,
                item.raw,
                item.partition,
                item.offset,
            )
            for item, e in new
        )
    return plan


def _returned_at(dossier: Dossier, events: Iterable[DossierEvent]) -> datetime | None:
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
