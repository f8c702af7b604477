"""The dossier lifecycle as a pure fold of its events (SPEC §3–§4).

Events are taken in `occurred_at` order (ties by arrival), duplicates by `event_id` are
dropped, and a transition that makes no sense is kept as an anomaly on the dossier without
changing its state. The fold never raises on odd sequences.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from dossier_core.calendar import WorkingCalendar
from dossier_core.catalog import Catalog, SupplementPolicy
from dossier_core.deadlines import legal_deadline, rule_for
from dossier_core.dossier import Dossier, EndKind, Pause, PauseKind
from dossier_core.events import EVENT_STATUS, Channel, DossierEvent, EventType, parse_instant

__all__ = ["Dossier", "EndKind", "Pause", "PauseKind", "fold"]

_PAUSES: Mapping[EventType, PauseKind] = {
    EventType.SUPPLEMENT_REQUESTED: PauseKind.SUPPLEMENT,
    EventType.FEE_REQUESTED: PauseKind.FEE,
    EventType.SUSPENDED: PauseKind.SUSPENSION,
}
_RESUMES: Mapping[EventType, PauseKind] = {
    EventType.SUPPLEMENT_RECEIVED: PauseKind.SUPPLEMENT,
    EventType.FEE_PAID: PauseKind.FEE,
    EventType.RESUMED: PauseKind.SUSPENSION,
}
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
    ordered = _in_order(events)
    if not ordered:
        raise ValueError("a dossier needs at least one event")
    first = ordered[0]
    state = _Fold(Dossier(first.dossier_code, first.agency_code), catalog)
    for event in ordered:
        state.apply(event)
    return _evolve(state.dossier, anomalies=tuple(state.anomalies), event_count=len(ordered))


def _in_order(events: Iterable[DossierEvent]) -> list[DossierEvent]:
    seen: set[str] = set()
    ordered: list[DossierEvent] = []
    for event in sorted(events, key=lambda e: (e.occurred_at, e.seq)):
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
        self.pre_receipt: dict[str, Any] = {}

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
        if d.end_kind is EndKind.NOT_ACCEPTED or (d.received_at is None and kind is not EventType.RECEIVED):
            self._before_receipt(event)
        elif kind is EventType.RECEIVED and d.received_at is None:
            self._received(event)
        elif kind is EventType.RETURNED and d.end_kind is EndKind.RESOLVED:
            self.accept(event)
        elif d.end_kind is not None or kind in (EventType.SUBMITTED, EventType.NOT_ACCEPTED):
            self.reject(event)
        elif kind in _ENDINGS:
            self._ended(event, _ENDINGS[kind])
        elif kind in _PAUSES:
            self._paused(event, _PAUSES[kind])
        elif kind in _RESUMES:
            self._resumed(event, _RESUMES[kind])
        elif kind is EventType.RESCHEDULED:
            self._rescheduled(event)
        elif kind is EventType.PROCESSING and not self._open_pause():
            self.accept(event)
        else:
            self.reject(event)

    def _before_receipt(self, event: DossierEvent) -> None:
        d = self.dossier
        if d.end_kind is None and event.type is EventType.SUBMITTED:
            self.pre_receipt = dict(event.data)
            self.accept(event, submitted_at=d.submitted_at or event.occurred_at, **self._identity(event))
        elif d.end_kind is None and event.type is EventType.NOT_ACCEPTED:
            at = event.occurred_at
            self.accept(event, ended_at=at, end_kind=EndKind.NOT_ACCEPTED)
        else:
            self.reject(event)

    def _identity(self, event: DossierEvent) -> dict[str, Any]:
        data = {**self.pre_receipt, **{k: v for k, v in event.data.items() if v not in (None, "")}}
        code = data.get("procedure_code")
        channel: Channel | None = None
        raw_channel = data.get("channel")
        if raw_channel is not None:
            try:
                channel = Channel(raw_channel)
            except ValueError:
                self.flag(f"bad_channel: {raw_channel!r} on {event.type}")
        return {"procedure_code": str(code) if code else None, "channel": channel}

    def _received(self, event: DossierEvent) -> None:
        identity = self._identity(event)
        if identity["channel"] is None:
            self.flag(f"missing_channel: {event.type} has no channel, counted as direct")
            identity["channel"] = Channel.DIRECT
        at = event.occurred_at
        procedure = self.catalog.procedures.get(identity["procedure_code"] or "")
        rule = computed = None
        if procedure is None:
            self.flag(f"unknown_procedure: {identity['procedure_code']!r}")
        else:
            rule = rule_for(procedure, identity["channel"])
            computed = legal_deadline(rule, at, self.calendar)
        declared = self._instant(event, "due_at")
        if declared is not None and computed is not None and declared != computed:
            self.flag(f"due_at_mismatch: declared {_iso(declared)}, computed {_iso(computed)}")
        legal = declared or computed
        applicant = event.data.get("applicant_type")
        if isinstance(applicant, bool) or not isinstance(applicant, int):
            applicant = None
        self.accept(
            event,
            received_at=at,
            rule=rule,
            legal_due_at=legal,
            computed_due_at=computed,
            appointment_at=legal,
            applicant_type=applicant,
            on_site=event.data.get("on_site") is True,
            **identity,
        )

    def _instant(self, event: DossierEvent, key: str) -> datetime | None:
        raw = event.data.get(key)
        if raw is None or raw == "":
            return None
        parsed = parse_instant(raw)
        if parsed is None:
            self.flag(f"bad_data: {event.type} {key} {raw!r} is not an instant with an offset")
        return parsed

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
        policy = SupplementPolicy.EXTEND
        procedure = self.catalog.procedures.get(self.dossier.procedure_code or "")
        if kind is PauseKind.SUPPLEMENT and procedure is not None:
            policy = procedure.supplement_policy
        pause = Pause(kind, event.occurred_at, None, policy)
        self.accept(event, pauses=(*self.dossier.pauses, pause))

    def _resumed(self, event: DossierEvent, kind: PauseKind) -> None:
        pause = self._open_pause()
        if pause is None or pause.kind is not kind:
            self.reject(event)
            return
        self.accept(event, pauses=self._close_pause(event.occurred_at))

    def _rescheduled(self, event: DossierEvent) -> None:
        new_appointment = self._instant(event, "new_appointment_at")
        changes: dict[str, Any] = {"reschedules": (*self.dossier.reschedules, event.occurred_at)}
        if new_appointment is not None:
            changes["appointment_at"] = new_appointment
        self.accept(event, **changes)

    def _ended(self, event: DossierEvent, kind: EndKind) -> None:
        at = event.occurred_at
        changes: dict[str, Any] = {"ended_at": at, "end_kind": kind, "pauses": self._close_pause(at)}
        if kind in (EndKind.RESOLVED, EndKind.RETURNED):
            changes["finished_at"] = at
        self.accept(event, **changes)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="minutes")
