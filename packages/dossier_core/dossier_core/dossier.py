"""The state of one dossier and the answers that depend on the instant asked about.

A `Dossier` is built by `dossier_core.lifecycle.fold`, or rebuilt field by field from a
stored snapshot: everything below needs only its fields and a working calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dossier_core.calendar import BEYOND_CALENDAR, CalendarRangeError, WorkingCalendar
from dossier_core.catalog import SupplementPolicy
from dossier_core.deadlines import DeadlineRule, legal_deadline
from dossier_core.events import Channel, StatusCode
from dossier_core.timeliness import PendingState, Timeliness, classify_finish

__all__ = ["Dossier", "EndKind", "Pause", "PauseKind"]


class PauseKind(StrEnum):
    """Why the legal clock stopped: statuses 5, 6 and 8 (non-terminal)."""

    SUPPLEMENT = "supplement"
    FEE = "fee"
    SUSPENSION = "suspension"


class EndKind(StrEnum):
    """How a dossier left the agency's hands."""

    RESOLVED = "resolved"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    NOT_ACCEPTED = "not_accepted"


@dataclass(frozen=True)
class Pause:
    """A stop of the legal clock; `ended_at` is None while it lasts. Fee and suspension
    pauses always extend; a supplement follows the procedure's policy."""

    kind: PauseKind
    started_at: datetime
    ended_at: datetime | None
    policy: SupplementPolicy = SupplementPolicy.EXTEND

    def is_active_at(self, t: datetime) -> bool:
        return self.started_at <= t and (self.ended_at is None or t < self.ended_at)


@dataclass(frozen=True)
class Dossier:
    """A dossier (hồ sơ) as its events left it."""

    dossier_code: str
    agency_code: str
    procedure_code: str | None = None
    channel: Channel | None = None
    status: StatusCode = StatusCode.SUBMITTED
    submitted_at: datetime | None = None
    received_at: datetime | None = None
    rule: DeadlineRule | None = None
    legal_due_at: datetime | None = None
    computed_due_at: datetime | None = None
    appointment_at: datetime | None = None
    pauses: tuple[Pause, ...] = ()
    finished_at: datetime | None = None
    ended_at: datetime | None = None
    end_kind: EndKind | None = None
    reschedules: tuple[datetime, ...] = ()
    anomalies: tuple[str, ...] = ()
    applicant_type: int | None = None
    on_site: bool = False
    event_count: int = 0

    @property
    def is_received(self) -> bool:
        """Received (status 2 reached) and so counted in the statistics."""
        return self.received_at is not None and self.end_kind is not EndKind.NOT_ACCEPTED

    def is_open_at(self, t: datetime) -> bool:
        """Received by `t` and not yet ended at `t`."""
        if not self.is_received or self.received_at is None or self.received_at > t:
            return False
        return self.ended_at is None or self.ended_at > t

    def is_paused_at(self, t: datetime) -> bool:
        return any(pause.is_active_at(t) for pause in self.pauses)

    def effective_due(self, t: datetime, calendar: WorkingCalendar) -> datetime | None:
        """The legal deadline as known at `t`: pauses closed by `t` are applied, and a pause
        still open at `t` counts up to `t` (so a paused dossier's deadline keeps moving).

        A deadline that pauses push past the working calendar's last year is `BEYOND_CALENDAR`
        (e.g. a 2099 appointment paused for years): later than any instant that can be asked about."""
        due = self.legal_due_at
        if due is None:
            return None
        for pause in sorted(self.pauses, key=lambda p: p.started_at):
            start = pause.started_at
            if start >= t:
                break
            end = t if pause.ended_at is None or pause.ended_at > t else pause.ended_at
            if end <= start:
                continue
            try:
                due = self._after_pause(due, pause, start, end, calendar)
            except CalendarRangeError:
                due = BEYOND_CALENDAR
        return due

    def _after_pause(
        self, due: datetime, pause: Pause, start: datetime, end: datetime, calendar: WorkingCalendar
    ) -> datetime:
        if pause.policy is SupplementPolicy.RESTART and self.rule is not None:
            restarted = legal_deadline(self.rule, end, calendar)
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

    def timeliness(self, calendar: WorkingCalendar) -> Timeliness | None:
        """Early / on time / late for a finished dossier, against the legal deadline."""
        if self.finished_at is None:
            return None
        return classify_finish(self.finished_at, self.effective_due(self.finished_at, calendar))

    def pending_state(self, t: datetime, calendar: WorkingCalendar) -> PendingState | None:
        """In time or overdue at `t`; None when not received by `t` or already ended."""
        if not self.is_open_at(t):
            return None
        due = self.effective_due(t, calendar)
        return PendingState.OVERDUE if due is not None and due < t else PendingState.IN_TIME
