"""Report rows of the official form "Biểu 06" (SPEC §5) and one dossier's contribution.

Services only add up contributions; every rule about what is counted where lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from dossier_core.calendar import WorkingCalendar
from dossier_core.dossier import Dossier, EndKind
from dossier_core.events import Channel
from dossier_core.periods import Period
from dossier_core.timeliness import Timeliness

__all__ = ["ReportInvariantError", "ReportRow", "contribution", "outcome"]


class ReportInvariantError(ValueError):
    """A row whose received total does not equal resolved + withdrawn + refused + pending."""


@dataclass
class ReportRow:
    """Counters of one report row. Totals are derived, so they always add up."""

    carried_over: int = 0
    online: int = 0
    direct: int = 0
    postal: int = 0
    early: int = 0
    on_time: int = 0
    late: int = 0
    in_time: int = 0
    overdue: int = 0
    paused: int = 0
    withdrawn: int = 0
    refused: int = 0
    rescheduled: int = 0
    #: "4 tại chỗ": of the dossiers newly received in the period, those received, processed and
    #: returned on the spot (the receipt's `on_site`); beside the form's columns, not part of any total
    on_site: int = 0

    @property
    def received_total(self) -> int:
        return self.carried_over + self.online + self.direct + self.postal

    @property
    def resolved_total(self) -> int:
        return self.early + self.on_time + self.late

    @property
    def received_new(self) -> int:
        """Received within the period, by any channel (carried over left out)."""
        return self.online + self.direct + self.postal

    @property
    def on_site_rate(self) -> float | None:
        """The "4 tại chỗ" rate in percent (2 decimals) of the dossiers received within the period;
        None when none was."""
        new = self.received_new
        return round(100 * self.on_site / new, 2) if new else None

    @property
    def pending_total(self) -> int:
        """In time plus overdue; `paused` is reported beside them, not added."""
        return self.in_time + self.overdue

    def __add__(self, other: ReportRow) -> ReportRow:
        if not isinstance(other, ReportRow):
            return NotImplemented
        mine, theirs = self.__dict__, other.__dict__
        return ReportRow(**{name: mine[name] + theirs[name] for name in _COUNTERS})

    def check_invariant(self) -> None:
        """Raise `ReportInvariantError` unless received = resolved + withdrawn + refused + pending."""
        accounted = self.resolved_total + self.withdrawn + self.refused + self.pending_total
        if self.received_total != accounted or self.paused > self.pending_total:
            raise ReportInvariantError(
                f"received {self.received_total} != resolved {self.resolved_total} + withdrawn "
                f"{self.withdrawn} + refused {self.refused} + pending {self.pending_total}"
                f" (paused {self.paused})"
            )

    def to_dict(self) -> dict[str, Any]:
        """The SPEC §5 JSON row, without the grouping key."""
        return {
            "received": {
                "total": self.received_total,
                "carried_over": self.carried_over,
                "online": self.online,
                "direct": self.direct,
                "postal": self.postal,
            },
            "resolved": {
                "total": self.resolved_total,
                "early": self.early,
                "on_time": self.on_time,
                "late": self.late,
            },
            "pending": {
                "total": self.pending_total,
                "in_time": self.in_time,
                "overdue": self.overdue,
                "paused": self.paused,
            },
            "withdrawn": self.withdrawn,
            "refused": self.refused,
            "rescheduled": self.rescheduled,
            "on_site": self.on_site,
        }


#: The counter fields of a row, in form order (a report adds thousands of rows).
_COUNTERS: tuple[str, ...] = tuple(f.name for f in fields(ReportRow))


def contribution(dossier: Dossier, period: Period, calendar: WorkingCalendar) -> ReportRow:
    """What one dossier adds to a row for `period`.

    Carried over: received before the period and not ended before it. New: received inside,
    by channel, and on the spot ("4 tại chỗ") when the receipt says so. Resolved / withdrawn /
    refused: ended that way inside. Pending: still open at the end of the period's last day (paused
    counted beside). Rescheduled: reschedules inside."""
    row = ReportRow()
    received_at = dossier.received_at
    if received_at is None or not dossier.is_received:
        return row
    start, end = period.start_instant, period.end_instant
    ended_at = dossier.ended_at
    if received_at >= end or (ended_at is not None and ended_at < start):
        return row
    if received_at < start:
        row.carried_over = 1
    else:
        channel = dossier.channel or Channel.DIRECT
        setattr(row, channel.value, 1)
        row.on_site = int(dossier.on_site)
    if ended_at is not None and ended_at < end:
        setattr(row, outcome(dossier, calendar), 1)
    else:
        due = dossier.effective_due(end, calendar)
        if due is not None and due < end:
            row.overdue = 1
        else:
            row.in_time = 1
        row.paused = 1 if dossier.is_paused_at(end) else 0
    row.rescheduled = sum(1 for at in dossier.reschedules if start <= at < end)
    return row


def outcome(dossier: Dossier, calendar: WorkingCalendar) -> str:
    """The row counter an ended dossier adds to the period it ends in: `withdrawn`, `refused`, or its
    timeliness (`early`, `on_time`, `late`; a finish without a deadline is on time)."""
    if dossier.end_kind is EndKind.WITHDRAWN:
        return "withdrawn"
    if dossier.end_kind is EndKind.REFUSED:
        return "refused"
    return str(dossier.timeliness(calendar) or Timeliness.ON_TIME)
