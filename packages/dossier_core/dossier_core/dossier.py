"""The state of one dossier and the answers that depend on the instant asked about.

A `Dossier` is built by `dossier_core.lifecycle.fold`, or rebuilt field by field from a
stored snapshot: everything below needs only its fields and a working calendar. What pauses do to
the deadline is the pause rule of `dossier_core.pauses`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dossier_core.calendar import WorkingCalendar
from dossier_core.codes import Channel, StatusCode
from dossier_core.deadlines import DeadlineRule
from dossier_core.pauses import Pause, PauseKind, effective_due
from dossier_core.timeliness import PendingState, Timeliness, classify_finish

__all__ = ["Dossier", "EndKind", "Pause", "PauseKind"]


class EndKind(StrEnum):
    """How a dossier left the agency's hands."""

    RESOLVED = "resolved"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    NOT_ACCEPTED = "not_accepted"


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
    #: the receipt's `digitised` flag
    digitised: bool = False
    #: how its fees were paid: "online" once any fee was paid online, else the channel of the latest
    #: payment that named one (None: no payment named a channel)
    payment_channel: str | None = None
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
        """The legal deadline as known at `t`, after the pauses (`pauses.effective_due`: closed ones
        applied, an open one counted up to `t`); `BEYOND_CALENDAR` when pushed past the calendar."""
        return effective_due(self.legal_due_at, self.pauses, self.rule, t, calendar)

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
