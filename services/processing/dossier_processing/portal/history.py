"""A dossier's stored events as the national-portal record needs them, and what they tell it.

`load_histories` reads the events of a batch of dossiers in one statement (every month of `events` at
once, plus whether a dossier had a month archived). The rest is pure: `walk` re-plays a history through
the domain fold (`dossier_core.lifecycle`) one event at a time, keeping the events the fold accepted with
the dossier as each left it; `supplements`, `fees` and `reschedules` pair those steps into the record's
lists. An event the fold rejected (e.g. `dossier.processing` while a pause is open) is no step: it
changed nothing, so the portal is not told of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dossier_contracts.event_codec import decode_event
from dossier_contracts.snapshot_codec import event_from_proto
from dossier_core.calendar import BEYOND_CALENDAR
from dossier_core.catalog import Catalog
from dossier_core.codes import EventType
from dossier_core.dossier import Dossier
from dossier_core.event_data import DossierRescheduled, EventData, FeePaid, FeeRequested, SupplementRequested
from dossier_core.events import DossierEvent, MismatchedData
from dossier_core.lifecycle import FoldState, fold_state, resume, sort_key

__all__ = [
    "DossierHistory",
    "Fee",
    "Reschedule",
    "Step",
    "Supplement",
    "fees",
    "load_histories",
    "reschedules",
    "supplements",
    "walk",
]

_REJECTED = "invalid_transition"


@dataclass(frozen=True)
class DossierHistory:
    """The stored events of one dossier in fold order (`occurred_at`, ties by arrival). `complete` is
    false when a month of its events was archived (`history/archive.py`): what is left is not its whole
    history, and nothing is derived from it."""

    dossier_code: str
    events: tuple[DossierEvent, ...]
    complete: bool = True
    #: `walk`'s answer for a catalog, kept: the record and the progress records both need it
    _walked: list[tuple[Catalog, list[Step]]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )


_HISTORIES = text(
    "select dossier_code, seq, payload, false from events where dossier_code = any(cast(:codes as text[])) "
    "union all "
    "select dossier_code, null, null, true from archived_dossiers "
    "where dossier_code = any(cast(:codes as text[]))"
)


async def load_histories(conn: AsyncConnection, codes: Sequence[str]) -> Mapping[str, DossierHistory]:
    """The histories of `codes` (a dossier without stored events is left out), in one round trip."""
    if not codes:
        return {}
    events: dict[str, list[DossierEvent]] = {}
    archived: set[str] = set()
    for code, seq, payload, gone in await conn.execute(_HISTORIES, {"codes": list(set(codes))}):
        if gone:
            archived.add(code)
        else:
            events.setdefault(code, []).append(event_from_proto(decode_event(payload), seq))
    return {
        code: DossierHistory(code, tuple(sorted(found, key=sort_key)), code not in archived)
        for code, found in events.items()
    }


@dataclass(frozen=True)
class Step:
    """An event the fold accepted, with the dossier as it left it (`before`: as it found it, None for
    the first). `due` is the legal deadline as known at the event (`Dossier.effective_due`), None when
    there is none or pauses pushed it beyond the calendar."""

    event: DossierEvent
    before: Dossier | None
    after: Dossier
    due: datetime | None

    @property
    def type(self) -> EventType:
        return self.event.type

    @property
    def at(self) -> datetime:
        return self.event.occurred_at


def _due(dossier: Dossier, at: datetime, catalog: Catalog) -> datetime | None:
    due = dossier.effective_due(at, catalog.calendar())
    return None if due is None or due >= BEYOND_CALENDAR else due


def walk(history: DossierHistory, catalog: Catalog) -> list[Step]:
    """The accepted events of a complete history, in order, each with the dossier before and after it;
    empty for an incomplete one."""
    if not history.complete:
        return []
    for known, walked in history._walked:
        if known is catalog:
            return list(walked)
    steps: list[Step] = []
    state: FoldState | None = None
    for i, event in enumerate(history.events):
        before = state
        if state is None or sort_key(event) <= state.last_key:  # same instant and arrival: fold again
            state = fold_state(history.events[: i + 1], catalog)
        else:
            state = resume(state, [event], catalog)
        if _rejected(before, state):
            continue
        dossier = state.dossier
        steps.append(
            Step(
                event,
                None if before is None else before.dossier,
                dossier,
                _due(dossier, event.occurred_at, catalog),
            )
        )
    history._walked[:] = [(catalog, steps)]
    return list(steps)


def _rejected(before: FoldState | None, after: FoldState) -> bool:
    """Whether the last event folded was refused: the fold kept it only as an anomaly."""
    known = 0 if before is None else len(before.dossier.anomalies)
    return any(a.startswith(_REJECTED) for a in after.dossier.anomalies[known:])


def _data(event: DossierEvent) -> EventData:
    data = event.data
    return data.fitting if isinstance(data, MismatchedData) else data


@dataclass(frozen=True)
class Supplement:
    """A supplement request and what came of it. `due_before` is the deadline when it was asked for;
    `due_after` the deadline once the citizen completed the dossier (the pause applied with the
    procedure's extend or restart policy), None while it is awaited or if the dossier ended first."""

    request_id: str
    requested_at: datetime
    reason: str
    received_at: datetime | None
    due_before: datetime | None
    due_after: datetime | None


def supplements(steps: Sequence[Step], catalog: Catalog) -> list[Supplement]:
    """One entry per accepted supplement request, in order, paired with the supplement that ended it."""
    found: list[Supplement] = []
    for i, step in enumerate(steps):
        if step.type is not EventType.SUPPLEMENT_REQUESTED:
            continue
        data = _data(step.event)
        reason = data.reason if isinstance(data, SupplementRequested) else None
        before = _due(step.before, step.at, catalog) if step.before is not None else None
        received = next((s for s in steps[i + 1 :] if s.type is not EventType.RESCHEDULED), None)
        if received is not None and received.type is EventType.SUPPLEMENT_RECEIVED:
            entry = Supplement(
                step.event.event_id, step.at, str(reason or ""), received.at, before, received.due
            )
        else:
            entry = Supplement(step.event.event_id, step.at, str(reason or ""), None, before, None)
        found.append(entry)
    return found


@dataclass(frozen=True)
class Fee:
    """A fee asked for (`amount` in VND, None when not given) and its payment, if made."""

    requested_at: datetime
    amount: int | None
    paid_at: datetime | None
    payment_channel: str | None


def fees(steps: Sequence[Step]) -> list[Fee]:
    """One entry per accepted fee request, in order, with the payment that ended it."""
    found: list[Fee] = []
    for i, step in enumerate(steps):
        data = _data(step.event)
        if not isinstance(data, FeeRequested):
            continue
        paid = next((s for s in steps[i + 1 :] if s.type is not EventType.RESCHEDULED), None)
        paid_data = _data(paid.event) if paid is not None else None
        if paid is not None and isinstance(paid_data, FeePaid):
            found.append(Fee(step.at, data.amount, paid.at, paid_data.payment_channel))
        else:
            found.append(Fee(step.at, data.amount, None, None))
    return found


@dataclass(frozen=True)
class Reschedule:
    """The citizen-facing appointment moved (`dossier.rescheduled`, an apology letter): from `before`
    (the appointment in force, None if there was none) to `after`, for `reason`."""

    at: datetime
    before: datetime | None
    after: datetime | None
    reason: str


def reschedules(steps: Sequence[Step]) -> list[Reschedule]:
    found: list[Reschedule] = []
    for step in steps:
        data = _data(step.event)
        if isinstance(data, DossierRescheduled):
            before = step.before.appointment_at if step.before is not None else None
            found.append(Reschedule(step.at, before, step.after.appointment_at, str(data.reason or "")))
    return found
