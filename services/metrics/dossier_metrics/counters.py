"""The counters of SPEC §5 that one dossier contributes, as a fixed-order vector.

A dossier's counter contribution is its report row over all of time (`dossier_core.report`), so the
Prometheus counters and the report API count by the same rules. The projection stores, per dossier,
the vector it has counted, and a newer snapshot adds only the difference.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from dossier_core.calendar import WorkingCalendar
from dossier_core.dossier import Dossier
from dossier_core.periods import Period
from dossier_core.report import contribution

CHANNELS = ("direct", "online", "postal")
TIMELINESS = ("early", "on_time", "late")
COUNTER_COLUMNS = (
    *(f"received_{c}" for c in CHANNELS),
    *(f"resolved_{t}" for t in TIMELINESS),
    "withdrawn",
    "refused",
    "rescheduled",
)
WIDTH = len(COUNTER_COLUMNS)
ZERO: tuple[int, ...] = (0,) * WIDTH

Counts = tuple[int, ...]


@cache
def all_time() -> Period:
    """A period wide enough for any dossier this system will see."""
    return Period.between(date(1900, 1, 1), date(2999, 12, 31))


def counted(dossier: Dossier, calendar: WorkingCalendar) -> Counts:
    """What this dossier adds to `dossier_{received,resolved,withdrawn,refused,rescheduled}_total`."""
    row = contribution(dossier, all_time(), calendar).to_dict()
    received, resolved = row["received"], row["resolved"]
    return (
        *(int(received[c]) for c in CHANNELS),
        *(int(resolved[t]) for t in TIMELINESS),
        int(row["withdrawn"]),
        int(row["refused"]),
        int(row["rescheduled"]),
    )


def add(a: Counts, b: Counts) -> Counts:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def sub(a: Counts, b: Counts) -> Counts:
    return tuple(x - y for x, y in zip(a, b, strict=True))
