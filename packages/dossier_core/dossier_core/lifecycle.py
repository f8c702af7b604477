"""The dossier lifecycle as a pure fold of its typed events (SPEC §3–§4).

Events are taken in `occurred_at` order (ties by arrival), duplicates by `event_id` are
dropped, and a transition that makes no sense is kept as an anomaly on the dossier without
changing its state. The fold never raises on odd sequences. Which events pause the clock, and
what a pause does to the deadline, is the pause rule of `dossier_core.pauses`.

`fold_state` tells where the fold stands (`FoldState`); `resume` applies later events to it, giving
exactly what a fold of the whole history would when they all sort after the state's last one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple, cast

from dossier_core.calendar import WorkingCalendar
from dossier_core.catalog import Catalog
from dossier_core.codes import Channel, EventType, StatusCode
from dossier_core.deadlines import DeadlineRule, legal_deadline, rule_for
from dossier_core.dossier import Dossier, EndKind, Pause, PauseKind
from dossier_core.event_data import (
    EVENT_STATUS,
    DossierReceived,
    DossierRescheduled,
    DossierSubmitted,
    EventData,
    FeePaid,
)
from dossier_core.events import DossierEvent, MismatchedData
from dossier_core.pauses import PAUSED_BY, RESUMED_BY, policy_for

__all__ = ["Dossier", "EndKind", "FoldState", "Pause", "PauseKind", "fold", "fold_state", "resume"]

#: where an event sorts in a history: `(occurred_at, seq)`
SortKey = tuple[datetime, int]
_RETURNED = EventType.RETURNED
#: one instance of each deadline rule, shared by the dossiers that have it (fold states are kept)
_RULES: dict[DeadlineRule, DeadlineRule] = {}

_ENDINGS: Mapping[EventType, EndKind] = {
    EventType.RESOLVED: EndKind.RESOLVED,
    EventType.RETURNED: EndKind.RETURNED,
    EventType.WITHDRAWN: EndKind.WITHDRAWN,
    EventType.REFUSED: EndKind.REFUSED,
}


def _evolve(dossier: Dossier, **changes: Any) -> Dossier:
    """`dataclasses.replace` without its per-call field introspection: the fold makes one new
    `Dossier` per event, and `replace` was most of the fold's cost. `Dossier` has no
    `__post_init__`, so copying its fields is all `replace` would do."""
    new = object.__new__(Dossier)
    fields = new.__dict__
    fields.update(dossier.__dict__)
    fields.update(changes)
    return new


def fold(events: Iterable[DossierEvent], catalog: Catalog) -> Dossier:
    """The dossier that these events describe. All events must share one dossier code."""
    return fold_state(events, catalog).dossier


class FoldState(NamedTuple):
    """Where a fold stands after some events: all that later events need of the earlier ones
    (a named tuple: one is made per fold, and a frozen dataclass is slower to make)."""

    #: the dossier the events describe, as `fold` returns it (anomalies and event count included)
    dossier: Dossier
    #: the type of the last event that changed the state (`None`: none did)
    last_type: EventType | None
    #: the last submission applied: its procedure and channel fill the gaps of a later one or a receipt
    submitted: DossierSubmitted | None
    #: the `occurred_at` and `seq` of the last event folded (`last_key`; apart: one object less)
    last_at: datetime
    last_seq: int
    #: the instant of the first `returned` event folded, whether it applied or not
    first_returned_at: datetime | None

    @property
    def last_key(self) -> SortKey:
        return self.last_at, self.last_seq

    @property
    def returned_at(self) -> datetime | None:
        """When the result went back (NgayTra): the first `returned` of a dossier at status 10."""
        return self.first_returned_at if self.dossier.status is StatusCode.RETURNED else None


def sort_key(event: DossierEvent) -> SortKey:
    """Where `event` sorts in its dossier's history: by `occurred_at`, ties by arrival."""
    return event.occurred_at, event.seq


def fold_state(events: Iterable[DossierEvent], catalog: Catalog) -> FoldState:
    """Where the fold of these events stands. All events must share one dossier code."""
    ordered = _in_order(events)
    if not ordered:
        raise ValueError("a dossier needs at least one event")
    first = ordered[0]
    return _Fold(Dossier(first.dossier_code, first.agency_code), catalog).run(ordered)


def resume(state: FoldState, events: Iterable[DossierEvent], catalog: Catalog) -> FoldState:
    """`state` with further events of its dossier applied. When every one of `events` sorts after
    `state.last_key` and none has an `event_id` already folded, the result is `fold_state` of the
    whole history; an event that sorts earlier raises `ValueError`."""
    ordered = _in_order(events)
    if not ordered:
        return state
    if sort_key(ordered[0]) <= state.last_key:
        raise ValueError(f"event {ordered[0].event_id} sorts before the last one folded")
    return _Fold.resumed(state, catalog).run(ordered)


def _in_order(events: Iterable[DossierEvent]) -> list[DossierEvent]:
    seen: set[str] = set()
    ordered: list[DossierEvent] = []
    for event in sorted(events, key=sort_key):
        if event.event_id not in seen:
            seen.add(event.event_id)
            ordered.append(event)
    return ordered


class _Fold:
    """Applies events one by one; `last` is the event that set the current state."""

    def __init__(self, dossier: Dossier, catalog: Catalog) -> None:
        self.dossier = dossier
        self.catalog = catalog
        self.calendar: WorkingCalendar = catalog.calendar()
        self.anomalies: list[str] = []
        self.last: EventType | None = None
        self.submitted: DossierSubmitted | None = None
        self.first_returned_at: datetime | None = None

    @classmethod
    def resumed(cls, state: FoldState, catalog: Catalog) -> _Fold:
        """A fold that goes on from `state` (its dossier's anomalies and count are set again by `run`)."""
        fold = cls(state.dossier, catalog)
        fold.anomalies = list(state.dossier.anomalies)
        fold.last = state.last_type
        fold.submitted = state.submitted
        fold.first_returned_at = state.first_returned_at
        return fold

    def run(self, ordered: list[DossierEvent]) -> FoldState:
        """Apply `ordered` (sorted, without duplicates) and tell where the fold then stands."""
        returned = self.first_returned_at
        for event in ordered:
            if returned is None and event.type is _RETURNED:
                returned = event.occurred_at
            self.apply(event)
        self.first_returned_at = returned
        count = self.dossier.event_count + len(ordered)
        dossier = _evolve(self.dossier, anomalies=tuple(self.anomalies), event_count=count)
        last = ordered[-1]
        return FoldState(dossier, self.last, self.submitted, last.occurred_at, last.seq, returned)

    def flag(self, anomaly: str) -> None:
        self.anomalies.append(anomaly)

    def reject(self, event: DossierEvent) -> None:
        after = f"after {self.last}" if self.last is not None else "as the first event"
        if self.dossier.received_at is None and self.last in (None, EventType.SUBMITTED):
            after = f"before {EventType.RECEIVED}"
        self.flag(f"invalid_transition: {event.type} {after}")

    def accept(self, event: DossierEvent, **changes: Any) -> None:
        status = EVENT_STATUS[event.type]
        if status is not None:
            changes.setdefault("status", status)
        self.dossier = _evolve(self.dossier, **changes)
        self.last = event.type

    def apply(self, event: DossierEvent) -> None:
        d = self.dossier
        kind = event.type
        given = event.data  # below, `type() is`: far cheaper than isinstance against an ABC
        data = cast(EventData, given.fitting if type(given) is MismatchedData else given)
        receipt = data if type(data) is DossierReceived else None
        if d.end_kind is EndKind.NOT_ACCEPTED or (d.received_at is None and receipt is None):
            self._before_receipt(event, data)
        elif receipt is not None and d.received_at is None:
            self._received(event, receipt)
        elif kind is EventType.RETURNED and d.end_kind is EndKind.RESOLVED:
            self.accept(event)
        elif d.end_kind is not None or kind in (EventType.SUBMITTED, EventType.NOT_ACCEPTED):
            self.reject(event)
        elif kind in _ENDINGS:
            self._ended(event, _ENDINGS[kind])
        elif kind in PAUSED_BY:
            self._paused(event, PAUSED_BY[kind])
        elif kind in RESUMED_BY:
            self._resumed(event, RESUMED_BY[kind])
        elif type(data) is DossierRescheduled:
            self._rescheduled(event, data)
        elif kind is EventType.PROCESSING and not self._open_pause():
            self.accept(event)
        else:
            self.reject(event)

    def _before_receipt(self, event: DossierEvent, data: EventData) -> None:
        d = self.dossier
        if d.end_kind is None and type(data) is DossierSubmitted:
            self.submitted = data
            code, channel = self._identity(data)
            at = d.submitted_at or event.occurred_at
            self.accept(event, submitted_at=at, procedure_code=code, channel=channel)
        elif d.end_kind is None and event.type is EventType.NOT_ACCEPTED:
            at = event.occurred_at
            self.accept(event, ended_at=at, end_kind=EndKind.NOT_ACCEPTED)
        else:
            self.reject(event)

    def _identity(self, data: DossierSubmitted | DossierReceived) -> tuple[str | None, Channel | None]:
        """Procedure and channel: the event's own, else those of the last submission."""
        submitted = self.submitted
        code = data.procedure_code or (submitted.procedure_code if submitted else None)
        channel = data.channel
        if channel is None and submitted is not None:
            channel = submitted.channel
        return code or None, channel

    def _received(self, event: DossierEvent, data: DossierReceived) -> None:
        code, channel = self._identity(data)
        if channel is None:
            self.flag(f"missing_channel: {event.type} has no channel, counted as direct")
            channel = Channel.DIRECT
        at = event.occurred_at
        procedure = self.catalog.procedures.get(code or "")
        rule = computed = None
        if procedure is None:
            self.flag(f"unknown_procedure: {code!r}")
        else:
            made = rule_for(procedure, channel)
            rule = _RULES.setdefault(made, made)
            computed = legal_deadline(rule, at, self.calendar)
        declared = data.due_at
        if declared is not None and computed is not None and declared != computed:
            self.flag(f"due_at_mismatch: declared {_iso(declared)}, computed {_iso(computed)}")
        legal = declared or computed
        self.accept(
            event,
            received_at=at,
            rule=rule,
            legal_due_at=legal,
            computed_due_at=computed,
            appointment_at=legal,
            applicant_type=data.applicant_type,
            on_site=data.on_site is True,
            digitised=data.digitised is True,
            procedure_code=code,
            channel=channel,
        )

    def _open_pause(self) -> Pause | None:
        pauses = self.dossier.pauses
        return pauses[-1] if pauses and pauses[-1].ended_at is None else None

    def _close_pause(self, at: datetime) -> tuple[Pause, ...]:
        pauses = self.dossier.pauses
        if self._open_pause() is None:
            return pauses
        return (*pauses[:-1], replace(pauses[-1], ended_at=at))

    def _paused(self, event: DossierEvent, kind: PauseKind) -> None:
        if self._open_pause() is not None:
            self.reject(event)
            return
        procedure = self.catalog.procedures.get(self.dossier.procedure_code or "")
        pause = Pause(kind, event.occurred_at, None, policy_for(kind, procedure))
        self.accept(event, pauses=(*self.dossier.pauses, pause))

    def _resumed(self, event: DossierEvent, kind: PauseKind) -> None:
        pause = self._open_pause()
        if pause is None or pause.kind is not kind:
            self.reject(event)
            return
        changes: dict[str, Any] = {"pauses": self._close_pause(event.occurred_at)}
        if type(event.data) is FeePaid:
            paid = event.data.payment_channel
            if paid and self.dossier.payment_channel != "online":
                changes["payment_channel"] = paid
        self.accept(event, **changes)

    def _rescheduled(self, event: DossierEvent, data: DossierRescheduled) -> None:
        changes: dict[str, Any] = {"reschedules": (*self.dossier.reschedules, event.occurred_at)}
        if data.new_appointment_at is not None:
            changes["appointment_at"] = data.new_appointment_at
        self.accept(event, **changes)

    def _ended(self, event: DossierEvent, kind: EndKind) -> None:
        at = event.occurred_at
        changes: dict[str, Any] = {"ended_at": at, "end_kind": kind, "pauses": self._close_pause(at)}
        if kind in (EndKind.RESOLVED, EndKind.RETURNED):
            changes["finished_at"] = at
        self.accept(event, **changes)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="minutes")
