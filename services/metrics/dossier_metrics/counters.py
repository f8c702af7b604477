"""The counters of SPEC §5 that one dossier contributes, as a fixed-order vector.

A dossier's counter contribution is its report row over all of time (`dossier_core.report`), so the
Prometheus counters and the report API count by the same rules. The projection stores, per dossier,
the vector it has counted, and a newer snapshot adds only the difference.
"""

from __future__ import annotations

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.codes import Channel
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

#: The counters of an open dossier received through each channel and never rescheduled.
_RECEIVED: dict[Channel, Counts] = {
    Channel(name): tuple(int(column == f"received_{name}") for column in COUNTER_COLUMNS) for name in CHANNELS
}
_RESCHEDULED = COUNTER_COLUMNS.index("rescheduled")


def lifetime(dossier: Dossier) -> Period | None:
    """The days from the dossier's first to its last recorded instant (Vietnam dates): a period in
    which it is received, ends (if it has) and has every reschedule, so its contribution to it is its
    contribution over all of time, and "pending" is judged at an instant the dossier has seen rather
    than far in the future."""
    if dossier.received_at is None:
        return None
    instants = [dossier.received_at, *dossier.reschedules]
    if dossier.ended_at is not None:
        instants.append(dossier.ended_at)
    days = [t.astimezone(VN_TZ).date() for t in instants]
    return Period.between(min(days), max(days))


def counted(dossier: Dossier, calendar: WorkingCalendar) -> Counts:
    """What this dossier adds to `dossier_{received,resolved,withdrawn,refused,rescheduled}_total`:
    its report row over all of time (`lifetime`).

    An open dossier's row over its lifetime is received by its channel and every reschedule; the
    rest of that row is its pending judgement, which is no counter, so the domain's calendar work
    for it is skipped (a property test holds this equal to the row's counters)."""
    if dossier.received_at is None or not dossier.is_received:
        return ZERO
    if dossier.ended_at is None:
        by_channel = _RECEIVED[dossier.channel or Channel.DIRECT]
        if not dossier.reschedules:
            return by_channel
        counts = list(by_channel)
        counts[_RESCHEDULED] = len(dossier.reschedules)
        return tuple(counts)
    period = lifetime(dossier)
    assert period is not None  # received
    row = contribution(dossier, period, calendar).to_dict()
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
