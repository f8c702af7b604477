"""The pure plan of a batch: drop duplicates, tell `event_id` conflicts, apply the event limit, re-fold.

Nothing here does I/O. `process_batch` takes the decoded events of a batch (`decode.py`), what is stored
of the dossiers they touch, the stored payloads of the event ids they carry and the arrival sequence
numbers reserved for them, and returns every row the batch must write in one transaction (built by
`rows.py`) plus the events it sets aside.

A dossier whose fold state is known (`StoredDossier.folded`) and whose new events all sort after the
last one it folded is resumed from that state, without its stored history (`dossier_core.lifecycle.
resume`, the same result as a re-fold); any other is re-folded from its whole stored history.
`resume_points` tells, before the histories are read, which dossiers a batch may resume.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from dossier_contracts.event_codec import decode_event
from dossier_contracts.snapshot_codec import event_from_proto
from dossier_core.catalog import Catalog
from dossier_core.dossier import Dossier
from dossier_core.events import DossierEvent
from dossier_core.lifecycle import FoldState, SortKey, fold_state, resume, sort_key
from dossier_processing.ingest.decode import Incoming, Rejected
from dossier_processing.ingest.failures import Reason, describe
from dossier_processing.ingest.rows import dossier_row, event_row
from dossier_processing.models import DossierRow, EventRow

#: SPEC §3: a dossier holds at most this many events unless configured otherwise.
DEFAULT_EVENT_LIMIT = 500
#: The anomaly that flags a dossier whose later events were dead-lettered for the event limit.
EVENT_LIMIT_ANOMALY = "event_limit_reached"

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class StoredDossier:
    """What the database already holds for one dossier: its events (with arrival seq; `None`: not read,
    `folded` stands for them), its version, whether it was flagged for reaching the event limit, where
    the fold of its events stands when that is known, and whether some of its events were archived
    (then it takes no new event: its history is not whole)."""

    version: int = 0
    anomaly_count: int = 0
    events: list[DossierEvent] | None = field(default_factory=list)
    limit_reached: bool = False
    last_event_id: str = ""
    folded: FoldState | None = None
    archived: bool = False

    @property
    def event_count(self) -> int:
        if self.events is not None:
            return len(self.events)
        return self.folded.dossier.event_count if self.folded is not None else 0


@dataclass
class BatchPlan:
    """Everything one batch writes, plus what it counted."""

    events: list[EventRow] = field(default_factory=list)
    dossiers: list[DossierRow] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    histories: dict[str, list[DossierEvent]] = field(default_factory=dict)
    states: dict[str, FoldState] = field(default_factory=dict)
    duplicates: int = 0
    anomalies_added: int = 0

    @property
    def outbox(self) -> list[tuple[str, int, bytes]]:
        return [(d.dossier_code, d.version, d.snapshot) for d in self.dossiers]


def content_differences(a: DossierEvent, b: DossierEvent) -> list[str]:
    """The parts of an event's content where `a` and `b` differ (empty: the same event).

    The content is what the sender chose: dossier, agency, type, the instant it happened and `data`.
    Intake's `recorded_at` and `source` are not content: they differ when the same event is sent again.
    Nor is `applicant_sealed`: sealing the same applicant twice gives different bytes, and an erasure
    strips it from the stored event (docs/security.md).
    """
    differing = [
        name
        for name in ("dossier_code", "agency_code", "type", "occurred_at")
        if getattr(a, name) != getattr(b, name)
    ]
    if _content(a.data) != _content(b.data):
        differing.append("data")
    return differing


def _content(data: Mapping[str, object]) -> dict[str, object]:
    return {name: value for name, value in data.items() if name != "applicant_sealed"}


class _Owners:
    """The event each id already names: stored ones (by payload, decoded only when the bytes differ)
    and the ones met earlier in the batch. Without `payloads` (no lookup by id was made), the stored
    histories tell the stored ids; with it, they are not needed: every stored id among the batch's is
    in `payloads`."""

    def __init__(
        self, payloads: Mapping[str, bytes | None] | None, stored: Mapping[str, StoredDossier]
    ) -> None:
        self.payloads = payloads or {}
        self.events: dict[str, DossierEvent] = (
            {} if payloads is not None else {e.event_id: e for s in stored.values() for e in s.events or ()}
        )

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


def resume_points(
    incoming: Sequence[Incoming], seqs: Sequence[int], stored_ids: Container[str]
) -> dict[str, SortKey]:
    """For each dossier the batch may add events to, the sort key its earliest new event would have (at
    the arrival number of `seqs` `process_batch` gives it). Events whose id is in `stored_ids` are never
    new. A dossier can be resumed from a fold state whose `last_key` sorts before its key here."""
    earliest: dict[str, SortKey] = {}
    for item, seq in zip(incoming, seqs, strict=True):
        event = item.event
        if event.event_id in stored_ids:
            continue
        key = (event.occurred_at, seq)
        code = event.dossier_code
        if code not in earliest or key < earliest[code]:
            earliest[code] = key
    return earliest


def resumes(folded: FoldState | None, earliest: SortKey) -> bool:
    """Whether new events whose earliest sorts at `earliest` can resume `folded` (else: re-fold)."""
    return folded is not None and folded.last_key < earliest


def process_batch(
    incoming: Sequence[Incoming],
    stored: Mapping[str, StoredDossier],
    seqs: Sequence[int],
    catalog: Catalog,
    now: datetime,
    *,
    stored_payloads: Mapping[str, bytes | None] | None = None,
    event_limit: int = DEFAULT_EVENT_LIMIT,
) -> BatchPlan:
    """Rows for the new events of a batch and the re-folded state of every dossier they touch.

    `seqs` holds one increasing arrival number per incoming event (some go unused). `stored_payloads`
    holds the stored payload of every incoming event id already in the database (any dossier). An event
    whose id is already stored or met earlier in the batch is a duplicate when its content is the same
    and an `event_id_conflict` otherwise; one whose id names an archived event (payload `None`), or whose
    dossier is archived, is set aside (`archived`): neither can be told apart from a duplicate or
    folded without the archived events. A dossier takes at most `event_limit` events; later ones are set
    aside and the dossier is flagged. An event the fold cannot apply is set aside alone. A stored dossier
    whose `events` were not read must be one that `resumes` for the key `resume_points` gave it.
    """
    plan = BatchPlan()
    owners = _Owners(stored_payloads, stored)
    new_by_dossier: dict[str, list[tuple[Incoming, DossierEvent]]] = {}
    archived_ids = {event_id for event_id, payload in (stored_payloads or {}).items() if payload is None}
    for item, seq in zip(incoming, seqs, strict=True):
        if item.event.event_id in archived_ids:
            error = "event_id names an event of an archived month (events restore, then replay)"
            plan.rejected.append(Rejected.of(item, Reason.ARCHIVED, error))
            continue
        differing = owners.differences(item)
        if differing is None:
            new_by_dossier.setdefault(item.event.dossier_code, []).append((item, item.event.with_seq(seq)))
        elif not differing:
            plan.duplicates += 1
        else:
            error = f"event_id already names another event (differs in {', '.join(differing)})"
            plan.rejected.append(Rejected.of(item, Reason.EVENT_ID_CONFLICT, error))

    for code, new in new_by_dossier.items():
        before = stored.get(code) or StoredDossier()
        if before.archived:
            error = f"dossier {code} has events in an archived month (events restore, then replay)"
            plan.rejected.extend(Rejected.of(item, Reason.ARCHIVED, error) for item, _ in new)
            continue
        room = max(0, event_limit - before.event_count)
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
    """Add to `plan` the dossier folded with those of its `new` events that the fold can apply: resumed
    from its fold state when they all sort after it, else re-folded from its stored history."""
    version = before.version + 1
    fold_with = _folder(code, before, [e for _, e in new], catalog)

    def attempt(chosen: list[tuple[Incoming, DossierEvent]]) -> tuple[FoldState, Dossier, DossierRow]:
        state = fold_with([e for _, e in chosen])
        last_event_id = chosen[-1][1].event_id if chosen else before.last_event_id
        dossier = state.dossier
        if flagged:
            dossier = dataclasses.replace(dossier, anomalies=(*dossier.anomalies, EVENT_LIMIT_ANOMALY))
        accepted = [item.accepted_ms for item, _ in chosen if item.accepted_ms is not None]
        row = dossier_row(
            dossier, version, last_event_id, catalog, now, state.returned_at, max(accepted, default=None)
        )
        return state, dossier, row

    stored_count = before.event_count
    kept, failed, result = keep_applicable(new, attempt, base_counts=stored_count > 0)
    for (item, _), exc in failed:
        plan.rejected.append(Rejected.of(item, Reason.UNAPPLIABLE, describe(exc)))
    if result is None:
        if not kept and (flagged == before.limit_reached or not stored_count):
            return  # nothing changes
        try:
            result = attempt(kept)
        except Exception as exc:  # even the stored history alone no longer folds: set the rest aside too
            for item, _ in kept:
                plan.rejected.append(Rejected.of(item, Reason.UNAPPLIABLE, describe(exc)))
            return
    state, dossier, row = result
    plan.anomalies_added += max(0, len(dossier.anomalies) - before.anomaly_count)
    plan.dossiers.append(row)
    plan.states[code] = state
    if before.events is not None:
        plan.histories[code] = [*before.events, *(e for _, e in kept)]
    plan.events.extend(event_row(e, item.raw, item.partition, item.offset) for item, e in kept)


def _folder(
    code: str, before: StoredDossier, new: list[DossierEvent], catalog: Catalog
) -> Callable[[list[DossierEvent]], FoldState]:
    """How to fold the dossier with some of its `new` events: resume its fold state when they all sort
    after it, else re-fold its stored history with them."""
    folded, history = before.folded, before.events
    if folded is not None and (not new or resumes(folded, min(map(sort_key, new)))):
        return lambda events: resume(folded, events, catalog)
    if history is None:
        raise ValueError(f"dossier {code}: its history was not read and its fold state cannot resume")
    return lambda events: fold_state([*history, *events], catalog)


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
