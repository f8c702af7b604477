"""Whether a dossier was handled in time (SPEC §4, Biểu 06 classification)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from dossier_core.calendar import VN_TZ

__all__ = ["PendingState", "Timeliness", "classify_finish"]


class Timeliness(StrEnum):
    """A finished dossier: before the deadline's date, on that date, or after it."""

    EARLY = "early"
    ON_TIME = "on_time"
    LATE = "late"


class PendingState(StrEnum):
    """An open dossier at an instant. `paused` is reported in addition to in_time/overdue."""

    IN_TIME = "in_time"
    OVERDUE = "overdue"
    PAUSED = "paused"


def classify_finish(finished_at: datetime, due: datetime | None) -> Timeliness:
    """Compare local (Vietnam) dates of finish and deadline; no deadline counts as on time."""
    if due is None:
        return Timeliness.ON_TIME
    finished_day = finished_at.astimezone(VN_TZ).date()
    due_day = due.astimezone(VN_TZ).date()
    if finished_day < due_day:
        return Timeliness.EARLY
    if finished_day == due_day:
        return Timeliness.ON_TIME
    return Timeliness.LATE
