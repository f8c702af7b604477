"""The pause rule (SPEC §4): which events stop and restart the legal clock, and where a deadline
lands once pauses are taken into account.

- **What pauses.** `supplement_requested` (status 5), `fee_requested` (6) and `suspended` (8) stop
  the clock; `supplement_received`, `fee_paid` and `resumed` end the pause of their own kind. One
  pause at a time: the fold rejects a second one, or `processing`, while a pause is open.
- **Extend or restart.** A fee or suspension pause always *extends*. A supplement pause follows the
  procedure's `supplement_policy` in the catalog: *extend* or *restart*.
  - *Extend*: if the deadline was still ahead when the pause began, the working time left then is
    granted again from the resume (a paused dossier never turns overdue while paused); if it was
    already overdue, the deadline moves later by the working time spent paused.
  - *Restart*: the deadline is computed again from the procedure's rule at the resume. Without a
    rule (unknown procedure) restart falls back to extend.
- **Effective deadline at t** (`effective_due`): the pauses closed by t are applied in order, and a
  pause still open at t counts as if it ended at t, so a paused dossier's deadline keeps moving. A
  deadline that pauses push past the working calendar's last year is `BEYOND_CALENDAR`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from dossier_core.calendar import BEYOND_CALENDAR, CalendarRangeError, WorkingCalendar
from dossier_core.catalog import Procedure, SupplementPolicy
from dossier_core.codes import EventType
from dossier_core.deadlines import DeadlineRule, legal_deadline

__all__ = [
    "PAUSED_BY",
    "RESUMED_BY",
    "Pause",
    "PauseKind",
    "SupplementPolicy",
    "effective_due",
    "policy_for",
]


class PauseKind(StrEnum):
    """Why the legal clock stopped: statuses 5, 6 and 8 (non-terminal)."""

    SUPPLEMENT = "supplement"
    FEE = "fee"
    SUSPENSION = "suspension"


#: The events that open a pause, and the kind they open.
PAUSED_BY: Mapping[EventType, PauseKind] = MappingProxyType(
    {
        EventType.SUPPLEMENT_REQUESTED: PauseKind.SUPPLEMENT,
        EventType.FEE_REQUESTED: PauseKind.FEE,
        EventType.SUSPENDED: PauseKind.SUSPENSION,
    }
)
#: The events that close a pause, and the kind they close.
RESUMED_BY: Mapping[EventType, PauseKind] = MappingProxyType(
    {
        EventType.SUPPLEMENT_RECEIVED: PauseKind.SUPPLEMENT,
        EventType.FEE_PAID: PauseKind.FEE,
        EventType.RESUMED: PauseKind.SUSPENSION,
    }
)


@dataclass(frozen=True)
class Pause:
    """A stop of the legal clock; `ended_at` is None while it lasts. `policy` is what the resume
    does to the deadline (see `policy_for`)."""

    kind: PauseKind
    started_at: datetime
    ended_at: datetime | None
    policy: SupplementPolicy = SupplementPolicy.EXTEND

    def is_active_at(self, t: datetime) -> bool:
        return self.started_at <= t and (self.ended_at is None or t < self.ended_at)


def policy_for(kind: PauseKind, procedure: Procedure | None) -> SupplementPolicy:
    """Extend, except a supplement pause of a procedure whose catalog entry says restart."""
    if kind is PauseKind.SUPPLEMENT and procedure is not None:
        return procedure.supplement_policy
    return SupplementPolicy.EXTEND


def effective_due(
    legal_due_at: datetime | None,
    pauses: Iterable[Pause],
    rule: DeadlineRule | None,
    t: datetime,
    calendar: WorkingCalendar,
) -> datetime | None:
    """The legal deadline as known at `t`: pauses closed by `t` are applied, and a pause still open
    at `t` counts up to `t`. `None` when there is no deadline."""
    due = legal_due_at
    if due is None:
        return None
    for pause in sorted(pauses, key=lambda p: p.started_at):
        start = pause.started_at
        if start >= t:
            break
        end = t if pause.ended_at is None or pause.ended_at > t else pause.ended_at
        if end <= start:
            continue
        try:
            due = _after_pause(due, pause.policy, rule, start, end, calendar)
        except CalendarRangeError:
            due = BEYOND_CALENDAR
    return due


def _after_pause(
    due: datetime,
    policy: SupplementPolicy,
    rule: DeadlineRule | None,
    start: datetime,
    end: datetime,
    calendar: WorkingCalendar,
) -> datetime:
    """The deadline `due` after one pause from `start` to `end`."""
    if policy is SupplementPolicy.RESTART and rule is not None:
        restarted = legal_deadline(rule, end, calendar)
        if restarted is not None:
            return restarted
    if due >= BEYOND_CALENDAR:  # a pause only ever moves such a deadline later
        return due
    if due >= start:
        # The working time left at the pause is granted again from the resume.
        remaining = calendar.working_minutes_between(start, due)
        return calendar.add_working_minutes(end, remaining)
    paused = calendar.working_minutes_between(start, end)
    return calendar.add_working_minutes(due, paused) if paused > 0 else due
