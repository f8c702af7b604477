"""The counters of SPEC §5 that one dossier contributes, as a fixed-order vector.

A dossier's counter contribution is its report row over all of time, read from its report facts
(`dossier_core.report_facts`), so the Prometheus counters and the report API count by the same
rules. The projection stores, per dossier, the vector it has counted, and a newer snapshot adds only
the difference.
"""

from __future__ import annotations

from dossier_core.calendar import WorkingCalendar
from dossier_core.codes import Channel
from dossier_core.dossier import Dossier
from dossier_core.report_facts import ReportFacts, facts_of

CHANNELS = ("direct", "online", "postal")
TIMELINESS = ("early", "on_time", "late")
COUNTER_COLUMNS = (
    *(f"received_{c}" for c in CHANNELS),
    *(f"resolved_{t}" for t in TIMELINESS),
    "withdrawn",
    "refused",
    "rescheduled",
    # "4 tại chỗ": received, processed and returned on the spot (the receipt's `on_site`)
    "received_on_site",
    # Decision 766/QĐ-TTg: received with their papers digitised; fees paid through a named channel,
    # and online (`dossier_core.indicators`)
    "received_digitised",
    "fee_paid",
    "fee_paid_online",
)
WIDTH = len(COUNTER_COLUMNS)
ZERO: tuple[int, ...] = (0,) * WIDTH

Counts = tuple[int, ...]

#: The counters of an open dossier received through each channel and never rescheduled.
_RECEIVED: dict[Channel, Counts] = {
    Channel(name): tuple(int(column == f"received_{name}") for column in COUNTER_COLUMNS) for name in CHANNELS
}
_RESCHEDULED = COUNTER_COLUMNS.index("rescheduled")
_ON_SITE = COUNTER_COLUMNS.index("received_on_site")
_DIGITISED = COUNTER_COLUMNS.index("received_digitised")
_PAID = COUNTER_COLUMNS.index("fee_paid")
_PAID_ONLINE = COUNTER_COLUMNS.index("fee_paid_online")
#: The counter an ended dossier's outcome (`dossier_core.report.outcome`) adds to.
_OUTCOME = {
    **{t: COUNTER_COLUMNS.index(f"resolved_{t}") for t in TIMELINESS},
    "withdrawn": COUNTER_COLUMNS.index("withdrawn"),
    "refused": COUNTER_COLUMNS.index("refused"),
}


def counted(dossier: Dossier, calendar: WorkingCalendar) -> Counts:
    """What this dossier adds to `dossier_{received,resolved,withdrawn,refused,rescheduled}_total` and
    `dossier_received_on_site_total`, `dossier_received_digitised_total`, `dossier_fee_paid_total`
    and `dossier_fee_paid_online_total`:
    its report row over all of time, read from its report facts (`counted_from`)."""
    return counted_from(facts_of(dossier, calendar))


def counted_from(facts: ReportFacts) -> Counts:
    """The counters of a dossier with these report facts: received by its channel, how it ended (if
    it has) and every reschedule — its row over a period holding all of its instants, which is what a
    property test holds it to."""
    if facts.received_at is None:
        return ZERO
    by_channel = _RECEIVED[facts.channel]
    paid = facts.payment_channel
    if facts.ended_at is None and not (facts.reschedules or facts.on_site or facts.digitised or paid):
        return by_channel
    counts = list(by_channel)
    counts[_ON_SITE] = int(facts.on_site)
    counts[_DIGITISED] = int(facts.digitised)
    counts[_PAID] = int(paid is not None)
    counts[_PAID_ONLINE] = int(paid == "online")
    if facts.ended_at is not None:
        counts[_OUTCOME[facts.outcome or "on_time"]] = 1
    counts[_RESCHEDULED] = len(facts.reschedules)
    return tuple(counts)


def add(a: Counts, b: Counts) -> Counts:
    return tuple(x + y for x, y in zip(a, b, strict=True))
