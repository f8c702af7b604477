"""The bounds the contract puts on what a dossier's events may say (SPEC §3) and on the days a report
may cover (SPEC §5): one definition that intake, processing and metrics check against."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from dossier_core.calendar import VN_TZ

__all__ = ["EARLIEST", "END", "FIRST_DAY", "LAST_DAY", "LATEST", "MAX_TEXT"]

#: The first and the last day an instant may fall on, Vietnam time.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
#: The first and the last instant allowed, and the first one after them (for half-open checks).
EARLIEST = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=VN_TZ)
END = datetime(LAST_DAY.year, LAST_DAY.month, LAST_DAY.day, tzinfo=VN_TZ) + timedelta(days=1)
LATEST = END - timedelta(microseconds=1)
#: Free text (`reason`, `result`, `step`, `department`) holds at most this many characters.
MAX_TEXT = 2000
