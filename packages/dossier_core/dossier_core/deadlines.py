"""Legal deadlines by procedure unit (SPEC §4), including the same-day 15:00 cut-off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import DeadlineUnit, Procedure
from dossier_core.events import Channel

__all__ = ["SAME_DAY_CUTOFF", "DeadlineRule", "legal_deadline", "rule_for"]

#: A same-day dossier received at or after this local time is due the next working day.
SAME_DAY_CUTOFF = time(15, 0)


@dataclass(frozen=True)
class DeadlineRule:
    """How long the agency has: `duration` counted in `unit` (None when the unit needs none)."""

    unit: DeadlineUnit
    duration: int | None


def rule_for(procedure: Procedure, channel: Channel | str | None) -> DeadlineRule:
    """The procedure's rule for a channel: the duration the province applies (its published shorter
    duration when there is one, `Procedure.applied_duration_for`), online dossiers with their own
    durations when set. The appointment the citizen is given follows the applied duration, and so
    does timeliness (docs/domain.md, "Legal and applied durations")."""
    return DeadlineRule(procedure.unit, procedure.applied_duration_for(channel == Channel.ONLINE))


def legal_deadline(rule: DeadlineRule, received_at: datetime, calendar: WorkingCalendar) -> datetime | None:
    """The deadline computed from the receipt instant; `None` when the procedure sets none."""
    unit, n = rule.unit, rule.duration
    if unit is DeadlineUnit.WORKING_DAYS and n is not None:
        return calendar.add_working_minutes(received_at, n * calendar.minutes_per_day)
    if unit is DeadlineUnit.NONE:
        return None
    if unit is DeadlineUnit.SAME_DAY:
        return _same_day(received_at, calendar)
    if n is None:
        return None
    if unit is DeadlineUnit.WORKING_HOURS:
        return calendar.add_working_minutes(received_at, n * 60)
    if unit is DeadlineUnit.CALENDAR_DAYS:
        day = _local(received_at).date() + timedelta(days=n)
        if not calendar.is_working_day(day):
            day = calendar.next_working_day(day)
        return _closing(day, calendar)
    raise ValueError(f"unknown deadline unit {unit!r}")  # pragma: no cover


def _same_day(received_at: datetime, calendar: WorkingCalendar) -> datetime:
    local = _local(received_at)
    day = local.date()
    if calendar.is_working_day(day) and local.time() < SAME_DAY_CUTOFF:
        return _closing(day, calendar)
    return _closing(calendar.next_working_day(day), calendar)


def _local(t: datetime) -> datetime:
    return t if t.tzinfo is VN_TZ else t.astimezone(VN_TZ)


def _closing(day: date, calendar: WorkingCalendar) -> datetime:
    """The end of the working day `day` (17:00)."""
    return datetime.combine(day, calendar.end_of_day, tzinfo=VN_TZ)
