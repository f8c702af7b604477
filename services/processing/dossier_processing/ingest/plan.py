"""The pure step between `getmany()` and the database: decode, check, drop duplicates, re-fold, build rows.

Nothing here does I/O. `decode_messages` turns Kafka records into domain events (or rejections for the
DLQ: undecodable or out of bounds); `process_batch` takes those events, the stored history of the dossiers
they touch, the stored payloads of the event ids they carry and the arrival sequence numbers reserved for
them, and returns every row the batch must write in one transaction plus the events it sets aside.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

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
from dossier_processing.bounds import out_of_bounds
from dossier_processing.failures import Reason, describe

#: SPEC §3: a dossier holds at most this many events unless configured otherwise.
DEFAULT_EVENT_LIMIT = 500
#: The anomaly that flags a dossier whose later events were dead-lettered for the event limit.
EVENT_LIMIT_ANOMALY = "event_limit_reached"

T = TypeVar("T")
R = TypeVar("R")


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
    key: bytes | None = None


@dataclass(frozen=True)
class Rejected:
    """A message set aside: it goes to the DLQ with its original bytes and key, the reason and the error."""

    raw: bytes
    key: bytes | None
    topic: str
    partition: int
    offset: int
    reason: Reason
    error: str
    event_id: str | None = None

    @classmethod
    def of(cls, item: Incoming, reason: Reason, error: str) -> Rejected:
        return cls(
            item.raw, item.key, item.topic, item.partition, item.offset, reason, error, item.event.event_id
        )


@dataclass
class StoredDossier:
    """What the database already holds for one dossier: its events (with arrival seq), its version, and
    whether it was flagged for reaching the event limit."""

    version: int = 0
    anomaly_count: int = 0
    events: list[DossierEvent] = field(default_factory=list)
    limit_reached: bool = False
    last_event_id: str = ""


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
    """Domain events from raw records; anything undecodable or outside the bounds becomes a `Rejected`."""
    incoming: list[Incoming] = []
    rejected: list[Rejected] = []
    for record in records:
        raw = record.value or b""
        try:
            event = event_from_proto(decode_event(raw))
        except Exception as exc:  # any failure to read one message must not stop the stream
            rejected.append(
                Rejected(
                    raw,
                    record.key,
                    record.topic,
                    record.partition,
                    record.offset,
                    Reason.UNDECODABLE,
                    describe(exc),
                )
            )
            continue
        item = Incoming(event, raw, record.topic, record.partition, record.offset, record.key)
        problem = out_of_bounds(event)
        if problem is not None:
            rejected.append(Rejected.of(item, Reason.OUT_OF_BOUNDS, problem))
            continue
        incoming.append(item)
    return incoming, rejected


def content_differences(a: DossierEvent, b: DossierEvent) -> list[str]:
    """The parts of an event's content where `a` and `b` differ (empty: the same event).

    The content is what the sender chose: dossier, agency, type, the instant it happened and `data`.
    Intake's `recorded_at` and `source` are not content: they differ when the same event is sent again.
    """
    differing = [
        name
        for name in ("dossier_code", "agency_code", "type", "occurred_at")
        if getattr(a, name) != getattr(b, name)
    ]
    if dict(a.data) != dict(b.data):
        differing.append("data")
    return differing


def _with_seq(event: DossierEvent, seq: int) -> DossierEvent:
    """The same event with its arrival number; a field copy, since the event was validated when
    it was decoded (a second `DossierEvent(...)` would check it again on the hot path)."""
    copy = object.__new__(DossierEvent)
    copy.__dict__.update(event.__dict__, seq=seq)
    return copy


class _Owners:
    """The event each id already names: stored ones (by payload, decoded only when the bytes differ)
    and the ones met earlier in the batch."""

    def __init__(self, payloads: Mapping[str, bytes], stored: Mapping[str, StoredDossier]) -> None:
        self.payloads = payloads
        self.events: dict[str, DossierEvent] = {e.event_id: e for s in stored.values() for e in s.events}

    def differences(self, item: Incoming) -> list[str] | None:
        """`None` for an id not seen yet (it is claimed for `item`), else how `item` differs from the
        event the id names (empty: a duplicate)."""
        event_id = item.event.event_id
        payload = self.payloads.get(event_id)
        owner = self.events.get(event_id)
        if owner is None and payload is None:
            self.events[event_id] = item.event
            return None
        if payload is not None and payload == item.raw:
            return []
        if owner is None:
            try:
                owner = event_from_proto(decode_event(payload or b""))
            except ValueError:
                return ["stored payload"]
            self.events[event_id] = owner
        return content_differences(owner, item.event)


def process_batch(
    incoming: Sequence[Incoming],
    stored: Mapping[str, StoredDossier],
    seqs: Sequence[int],
    catalog: Catalog,
    now: datetime,
    *,
    stored_payloads: Mapping[str, bytes] | None = None,
    event_limit: int = DEFAULT_EVENT_LIMIT,
) -> BatchPlan:
    """Rows for the new events of a batch and the re-folded state of every dossier they touch.

    `seqs` holds one increasing arrival number per incoming event (some go unused). `stored_payloads`
    holds the stored payload of every incoming event id already in the database (any dossier). An event
    whose id is already stored or met earlier in the batch is a duplicate when its content is the same
    and an `event_id_conflict` otherwise. A dossier takes at most `event_limit` events; later ones are set
    aside and the dossier is flagged. An event the fold cannot apply is set aside alone.
    """
    plan = BatchPlan()
    owners = _Owners(stored_payloads or {}, stored)
    new_by_dossier: dict[str, list[tuple[Incoming, DossierEvent]]] = {}
    for item, seq in zip(incoming, seqs, strict=True):
        differing = owners.differences(item)
        if differing is None:
            new_by_dossier.setdefault(item.event.dossier_code, []).append((item, _with_seq(item.event, seq)))
        elif not differing:
            plan.duplicates += 1
        else:
            error = f"event_id already names another event (differs in {', '.join(differing)})"
            plan.rejected.append(Rejected.of(item, Reason.EVENT_ID_CONFLICT, error))

    for code, new in new_by_dossier.items():
        before = stored.get(code) or StoredDossier()
        room = max(0, event_limit - len(before.events))
        for item, _ in new[room:]:
            error = f"dossier {code} holds the maximum of {event_limit} events"
            plan.rejected.append(Rejected.of(item, Reason.DOSSIER_EVENT_LIMIT, error))
        flagged = before.limit_reached or len(new) > room
        _refold(plan, code, before, new[:room], flagged, catalog, now)
    return plan


def _refold(
    plan: BatchPlan,
    code: str,
    before: StoredDossier,
    new: list[tuple[Incoming, DossierEvent]],
    flagged: bool,
    catalog: Catalog,
    now: datetime,
) -> None:
    """Add to `plan` the dossier re-folded with those of its `new` events that the fold can apply."""
    version = before.version + 1

    def attempt(chosen: list[tuple[Incoming, DossierEvent]]) -> tuple[Dossier, DossierRow]:
        history = [*before.events, *(e for _, e in chosen)]
        last_event_id = chosen[-1][1].event_id if chosen else before.last_event_id
        return _fold_row(history, version, last_event_id, flagged, catalog, now)

    kept, failed, result = keep_applicable(new, attempt, base_counts=bool(before.events))
    for (item, _), exc in failed:
        plan.rejected.append(Rejected.of(item, Reason.UNAPPLIABLE, describe(exc)))
    if result is None:
        if not kept and (flagged == before.limit_reached or not before.events):
            return  # nothing changes
        try:
            result = attempt(kept)
        except Exception as exc:  # even the stored history alone no longer folds: set the rest aside too
            for item, _ in kept:
                plan.rejected.append(Rejected.of(item, Reason.UNAPPLIABLE, describe(exc)))
            return
    dossier, row = result
    plan.anomalies_added += max(0, len(dossier.anomalies) - before.anomaly_count)
    plan.dossiers.append(row)
    plan.histories[code] = [*before.events, *(e for _, e in kept)]
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
        for item, e in kept
    )


def keep_applicable(
    new: Sequence[T], attempt: Callable[[list[T]], R], *, base_counts: bool = False
) -> tuple[list[T], list[tuple[T, Exception]], R | None]:
    """The items of `new` that `attempt` accepts together, the ones it fails on (with the error), and
    the result of the attempt with all kept items (`None` if the last attempt did not include them all).

    All items are tried at once first. On failure, a binary search over prefixes finds the first item
    whose addition makes `attempt` fail; it is set aside and the search goes on with the items after it.
    A batch without failure costs one attempt; each failing item costs about log2(len(new)) more.
    With `base_counts` (the attempt without any new item means something: a stored history), a first
    failure also tries that base: if it fails too, no item is to blame more than another and all are
    set aside with its error at once, instead of one binary search per item.
    """
    kept: list[T] = []
    failed: list[tuple[T, Exception]] = []
    rest = list(new)
    while rest:
        try:
            return [*kept, *rest], failed, attempt([*kept, *rest])
        except Exception as exc:  # the domain could not apply one of them: find which
            errors: dict[int, Exception] = {len(rest): exc}
        if base_counts and not kept and not failed:
            try:
                attempt([])
            except Exception as exc:  # the base alone fails
                return [], [(item, exc) for item in rest], None
        ok, failing = 0, len(rest)  # kept + rest[:ok] is assumed to work, kept + rest[:failing] fails
        while failing - ok > 1:
            middle = (ok + failing) // 2
            try:
                attempt([*kept, *rest[:middle]])
                ok = middle
            except Exception as exc:
                errors[middle] = exc
                failing = middle
        failed.append((rest[failing - 1], errors[failing]))
        kept.extend(rest[: failing - 1])
        rest = rest[failing:]
    return kept, failed, None


def _fold_row(
    history: list[DossierEvent],
    version: int,
    last_event_id: str,
    flagged: bool,
    catalog: Catalog,
    now: datetime,
) -> tuple[Dossier, DossierRow]:
    dossier = fold(history, catalog)
    if flagged:
        dossier = dataclasses.replace(dossier, anomalies=(*dossier.anomalies, EVENT_LIMIT_ANOMALY))
    returned_at = _returned_at(dossier, history)
    return dossier, dossier_row(dossier, version, last_event_id, catalog, now, returned_at)


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
