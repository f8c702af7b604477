"""Citizen feedback (phản ánh, kiến nghị, PAKN) on administrative regulations and their handling:
its events, the fold of an item's events into its state, and its legal deadline in working days.

A feedback item is told by its own code (`PAKN-…`, never a dossier code) and belongs to the agency
that received it. It goes received → assigned (being handled) → answered → published (the answer made
public), or is withdrawn by the citizen at any point before it is answered. Its handling deadline is
`deadline_days` working days after receipt on the province's working calendar (docs/domain.md,
"Citizen feedback"): an item not answered (nor withdrawn) by then is overdue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from dossier_core.calendar import WorkingCalendar

__all__ = [
    "DEFAULT_DEADLINE_DAYS",
    "FEEDBACK_CODE",
    "SUMMARY_FIGURES",
    "FeedbackEvent",
    "FeedbackEventType",
    "FeedbackStage",
    "FeedbackState",
    "feedback_deadline",
    "feedback_figures",
    "fold_feedback",
]

#: Working days an agency has to handle a feedback item when the setting does not say otherwise.
#: This system's choice: the article of Decree 20/2008/NĐ-CP (as amended by 92/2017/NĐ-CP) that sets
#: the handling time was not confirmed (docs/domain.md, "Citizen feedback"); a province sets its own.
DEFAULT_DEADLINE_DAYS = 10

#: A feedback code: `PAKN-` then 1–60 letters, digits, dots, dashes or underscores.
FEEDBACK_CODE = re.compile(r"PAKN-[A-Za-z0-9._-]{1,60}")


class FeedbackEventType(StrEnum):
    """The `type` of a feedback event (docs/intake.md, "Citizen feedback")."""

    RECEIVED = "feedback.received"
    ASSIGNED = "feedback.assigned"
    ANSWERED = "feedback.answered"
    PUBLISHED = "feedback.published"
    WITHDRAWN = "feedback.withdrawn"


class FeedbackStage(StrEnum):
    """Where an item stands; `assigned` is "in progress" in the report."""

    RECEIVED = "received"
    ASSIGNED = "assigned"
    ANSWERED = "answered"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"

    @property
    def handled(self) -> bool:
        """Answered (published or not): the agency is done within the deadline's meaning."""
        return self in (FeedbackStage.ANSWERED, FeedbackStage.PUBLISHED)

    @property
    def open(self) -> bool:
        """Still waiting for an answer."""
        return self in (FeedbackStage.RECEIVED, FeedbackStage.ASSIGNED)


@dataclass(frozen=True)
class FeedbackEvent:
    """One thing that happened to a feedback item. `subject` is the received item's topic,
    `handler` the department an assignment names, `note` an answer's or withdrawal's text."""

    event_id: str
    type: FeedbackEventType
    feedback_code: str
    agency_code: str
    occurred_at: datetime
    subject: str | None = None
    handler: str | None = None
    note: str | None = None
    seq: int = 0

    def __post_init__(self) -> None:
        if self.occurred_at.utcoffset() is None:
            raise ValueError(f"occurred_at must carry an offset: {self.occurred_at.isoformat()}")


@dataclass(frozen=True)
class FeedbackState:
    """A feedback item folded from its events. `received_at` is None until its receipt is known
    (events may arrive out of order); the item counts only once it has one."""

    feedback_code: str
    agency_code: str
    stage: FeedbackStage
    received_at: datetime | None = None
    assigned_at: datetime | None = None
    answered_at: datetime | None = None
    published_at: datetime | None = None
    withdrawn_at: datetime | None = None
    due_at: datetime | None = None
    subject: str | None = None
    handler: str | None = None

    def overdue_at(self, now: datetime) -> bool:
        """Open and past its deadline at `now`."""
        return self.stage.open and self.due_at is not None and now > self.due_at

    def answered_late(self) -> bool:
        """Answered after its deadline."""
        return self.answered_at is not None and self.due_at is not None and self.answered_at > self.due_at


def feedback_deadline(received_at: datetime, days: int, calendar: WorkingCalendar) -> datetime:
    """`days` working days of office hours after `received_at` (as a dossier's working-day deadline)."""
    if days < 1:
        raise ValueError(f"a feedback deadline is at least one working day, not {days}")
    return calendar.add_working_minutes(received_at, days * calendar.minutes_per_day)


def fold_feedback(
    events: Iterable[FeedbackEvent], calendar: WorkingCalendar, deadline_days: int = DEFAULT_DEADLINE_DAYS
) -> FeedbackState:
    """The state of one item from its events, in any order (sorted by `occurred_at`, then `seq`).

    The stage is the furthest the events reached, whatever their arrival order: published, else
    answered, else withdrawn, else assigned, else received. `published` implies answered (its instant
    is the answer's when no `answered` event came), and an answer outweighs a withdrawal. The agency
    is the receipt's."""
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.seq))
    if not ordered:
        raise ValueError("a feedback item has at least one event")
    first = ordered[0]
    state = FeedbackState(first.feedback_code, first.agency_code, FeedbackStage.RECEIVED)
    for event in ordered:
        if event.feedback_code != state.feedback_code:
            raise ValueError(f"event {event.event_id} is of {event.feedback_code}, not {state.feedback_code}")
        at = event.occurred_at
        if event.type is FeedbackEventType.RECEIVED and state.received_at is None:
            state = replace(state, received_at=at, agency_code=event.agency_code, subject=event.subject)
        elif event.type is FeedbackEventType.ASSIGNED and state.assigned_at is None:
            state = replace(state, assigned_at=at, handler=event.handler)
        elif event.type is FeedbackEventType.ANSWERED and state.answered_at is None:
            state = replace(state, answered_at=at)
        elif event.type is FeedbackEventType.PUBLISHED and state.published_at is None:
            state = replace(state, published_at=at, answered_at=state.answered_at or at)
        elif event.type is FeedbackEventType.WITHDRAWN and state.withdrawn_at is None:
            state = replace(state, withdrawn_at=at)
    stage = _stage(state)
    due = None if state.received_at is None else feedback_deadline(state.received_at, deadline_days, calendar)
    return replace(state, stage=stage, due_at=due)


def _stage(state: FeedbackState) -> FeedbackStage:
    if state.published_at is not None:
        return FeedbackStage.PUBLISHED
    if state.answered_at is not None:
        return FeedbackStage.ANSWERED
    if state.withdrawn_at is not None:
        return FeedbackStage.WITHDRAWN
    if state.assigned_at is not None:
        return FeedbackStage.ASSIGNED
    return FeedbackStage.RECEIVED


#: The figures of the feedback section, in this order (docs/metrics.md, "Citizen feedback").
SUMMARY_FIGURES = (
    "received",
    "in_progress",
    "answered",
    "published",
    "withdrawn",
    "overdue",
    "answered_late",
)


def feedback_figures(states: Iterable[FeedbackState], start: datetime, end: datetime) -> dict[str, int]:
    """The section's figures over the items received in `start`..`end` (end excluded), as they stood at
    `end`: received; still open (in progress); answered (published or not) and, of those, published;
    withdrawn; open past their deadline (overdue); answered after it (answered late)."""
    figures = dict.fromkeys(SUMMARY_FIGURES, 0)
    for state in states:
        if state.received_at is None or not start <= state.received_at < end:
            continue
        at = _as_of(state, end)
        figures["received"] += 1
        if at.stage.open:
            figures["in_progress"] += 1
            figures["overdue"] += at.overdue_at(end)
        elif at.stage.handled:
            figures["answered"] += 1
            figures["published"] += at.stage is FeedbackStage.PUBLISHED
            figures["answered_late"] += at.answered_late()
        else:
            figures["withdrawn"] += 1
    return figures


def _as_of(state: FeedbackState, end: datetime) -> FeedbackState:
    """The item as it stood just before `end`: what happened at or after `end` is left out."""

    def before(t: datetime | None) -> datetime | None:
        return t if t is not None and t < end else None

    kept = replace(
        state,
        assigned_at=before(state.assigned_at),
        answered_at=before(state.answered_at),
        published_at=before(state.published_at),
        withdrawn_at=before(state.withdrawn_at),
    )
    return replace(kept, stage=_stage(kept))
