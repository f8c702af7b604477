"""The report facts of one dossier: the few values from which its Biểu 06 contribution to almost any
period follows without the working calendar, so that a report can be added up by a database.

A dossier's contribution (`dossier_core.report.contribution`) needs the domain for two things: how it
ended (its timeliness, judged once against the deadline at its finish) and, while it is open at a
period's end, the deadline as it stood then. The first never changes once the dossier has ended, so
it is stored as `outcome`. The second is one of two stored deadlines whenever the period's end is
outside the dossier's pauses:

- before any pause starts (`pauses_from` after the end): the legal deadline (`legal_due_at`);
- after every pause is over (`pauses_until` at or before the end): the deadline with every pause
  applied (`settled_due_at`).

A period's end that falls within the pauses needs the working calendar at that instant. Every named
period (month, quarter, first six months, year) ends at the same instants, midnight opening the 15th
of a month, so the domain's judgement at each of those within the pauses is stored too (`judged_at`
with `judged_overdue` and `judged_paused`), up to `JUDGED_AHEAD` after the dossier's last recorded
instant for a pause still open. Only an explicit range ending within the pauses, or an end further
ahead, needs the dossier itself: `contribution_from_facts` answers None for it, and the caller asks
the domain. A property test holds `contribution_from_facts` equal to `contribution` wherever it
answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dossier_core.calendar import WorkingCalendar
from dossier_core.codes import Channel
from dossier_core.dossier import Dossier
from dossier_core.periods import Period, statutory_ends
from dossier_core.report import ReportRow, outcome

__all__ = ["JUDGED_AHEAD", "ReportFacts", "contribution_from_facts", "facts_of", "judged_without_dossier"]

#: How far past its last recorded instant a dossier with an open pause has its judgement stored.
JUDGED_AHEAD = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What a report needs of a dossier. `received_at` is None for a dossier that counts nowhere
    (never received, or not accepted)."""

    received_at: datetime | None
    channel: Channel = Channel.DIRECT
    ended_at: datetime | None = None
    outcome: str | None = None
    legal_due_at: datetime | None = None
    settled_due_at: datetime | None = None
    pauses_from: datetime | None = None
    pauses_until: datetime | None = None
    reschedules: tuple[datetime, ...] = ()
    judged_at: tuple[datetime, ...] = ()
    judged_overdue: tuple[bool, ...] = ()
    judged_paused: tuple[bool, ...] = ()
    on_site: bool = False
    #: Decision 766/QĐ-TTg: the receipt's `digitised` flag and how the fees were paid
    digitised: bool = False
    payment_channel: str | None = None

    @property
    def pause_open(self) -> bool:
        return self.pauses_from is not None and self.pauses_until is None


def facts_of(dossier: Dossier, calendar: WorkingCalendar) -> ReportFacts:
    """The report facts of `dossier` (the domain's calendar work happens here, once per version)."""
    if dossier.received_at is None or not dossier.is_received:
        return ReportFacts(received_at=None)
    pauses = dossier.pauses
    pauses_from = min((p.started_at for p in pauses), default=None)
    open_pause = any(p.ended_at is None for p in pauses)
    pauses_until = None if open_pause else max((p.ended_at for p in pauses if p.ended_at), default=None)
    settled = dossier.legal_due_at
    if pauses and pauses_until is not None:
        settled = dossier.effective_due(pauses_until, calendar)
    judged_at = _ends_within_pauses(dossier, pauses_from, pauses_until)
    dues = [dossier.effective_due(end, calendar) for end in judged_at]
    return ReportFacts(
        received_at=dossier.received_at,
        channel=dossier.channel or Channel.DIRECT,
        ended_at=dossier.ended_at,
        outcome=outcome(dossier, calendar) if dossier.ended_at is not None else None,
        legal_due_at=dossier.legal_due_at,
        settled_due_at=None if open_pause else settled,
        pauses_from=pauses_from,
        pauses_until=pauses_until,
        reschedules=tuple(sorted(dossier.reschedules)),
        judged_at=judged_at,
        judged_overdue=tuple(due is not None and due < end for due, end in zip(dues, judged_at, strict=True)),
        judged_paused=tuple(dossier.is_paused_at(end) for end in judged_at),
        on_site=dossier.on_site,
        digitised=dossier.digitised,
        payment_channel=dossier.payment_channel,
    )


def _ends_within_pauses(
    dossier: Dossier, pauses_from: datetime | None, pauses_until: datetime | None
) -> tuple[datetime, ...]:
    """The statutory period ends at which the dossier is open and within its pauses."""
    if pauses_from is None or dossier.received_at is None:
        return ()
    if pauses_until is None:  # a pause still open: judged up to a while after what is known
        instants = [dossier.received_at, *(p.started_at for p in dossier.pauses), *dossier.reschedules]
        instants += [p.ended_at for p in dossier.pauses if p.ended_at is not None]
        until = max(instants) + JUDGED_AHEAD
    else:
        until = pauses_until
    if dossier.ended_at is not None:
        until = min(until, dossier.ended_at + timedelta(microseconds=1))
    return tuple(statutory_ends(max(pauses_from, dossier.received_at), until))


def judged_without_dossier(facts: ReportFacts, end: datetime) -> bool:
    """Whether the deadline and the pause state at `end` follow from the facts: no pause, every pause
    starting after `end`, or every pause over by `end`."""
    if facts.pauses_from is None or facts.pauses_from > end:
        return True
    return facts.pauses_until is not None and facts.pauses_until <= end


def contribution_from_facts(facts: ReportFacts, period: Period) -> ReportRow | None:
    """The dossier's row for `period`, or None when it is open at the period's end within its pauses
    (then only the domain, from the dossier, can judge it)."""
    row = ReportRow()
    received_at = facts.received_at
    if received_at is None:
        return row
    start, end = period.start_instant, period.end_instant
    ended_at = facts.ended_at
    if received_at >= end or (ended_at is not None and ended_at < start):
        return row
    if received_at < start:
        row.carried_over = 1
    else:
        setattr(row, facts.channel.value, 1)
        row.on_site = int(facts.on_site)
    if ended_at is not None and ended_at < end:
        setattr(row, facts.outcome or "on_time", 1)
    else:
        if judged_without_dossier(facts, end):
            before_pauses = facts.pauses_from is None or facts.pauses_from > end
            due = facts.legal_due_at if before_pauses else facts.settled_due_at
            overdue, paused = due is not None and due < end, False
        elif end in facts.judged_at:
            k = facts.judged_at.index(end)
            overdue, paused = facts.judged_overdue[k], facts.judged_paused[k]
        else:
            return None
        row.overdue, row.in_time, row.paused = int(overdue), int(not overdue), int(paused)
    row.rescheduled = sum(1 for at in facts.reschedules if start <= at < end)
    return row
