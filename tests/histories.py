"""Random dossier histories for property tests: a plausible lifecycle with every kind of event,
deadlines given by the counter or by the catalog, pauses, reschedules and odd orders of events."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import strategies as st

from dossier_core.calendar import VN_TZ
from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_core.codes import Channel, EventType
from dossier_core.event_data import (
    DATA_CLASSES,
    DossierReceived,
    DossierRescheduled,
    DossierSubmitted,
    EventData,
)
from dossier_core.events import DossierEvent

CATALOG = load_catalog(default_catalog_dir())
PROCEDURES = sorted(CATALOG.procedures)

instants = st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2026, 12, 31)).map(
    lambda t: t.replace(second=0, microsecond=0, tzinfo=VN_TZ)
)
# Events a counter might send after receipt, weighted towards a plausible lifecycle.
LATER = [
    EventType.PROCESSING,
    EventType.PROCESSING,
    EventType.SUPPLEMENT_REQUESTED,
    EventType.SUPPLEMENT_RECEIVED,
    EventType.FEE_REQUESTED,
    EventType.FEE_PAID,
    EventType.SUSPENDED,
    EventType.RESUMED,
    EventType.RESCHEDULED,
    EventType.RESOLVED,
    EventType.RETURNED,
    EventType.WITHDRAWN,
    EventType.REFUSED,
    EventType.SUBMITTED,
    EventType.NOT_ACCEPTED,
    EventType.RECEIVED,
]


@st.composite
def histories(draw: st.DrawFn) -> list[DossierEvent]:
    """A dossier's events with distinct `occurred_at`, in time order."""
    t = draw(instants)
    code = f"000.00.12.H49-{draw(st.integers(0, 999)):04d}"
    kinds: list[EventType] = []
    if draw(st.booleans()):
        kinds.append(EventType.SUBMITTED)
    if draw(st.integers(0, 9)) > 0:
        kinds.append(EventType.RECEIVED)
    kinds += draw(st.lists(st.sampled_from(LATER), max_size=8))
    events = []
    for n, kind in enumerate(kinds):
        t = t + timedelta(minutes=draw(st.integers(1, 6 * 24 * 60)))
        data: EventData = DATA_CLASSES[kind]()
        if kind in (EventType.SUBMITTED, EventType.RECEIVED):
            procedure = draw(st.sampled_from([*PROCEDURES, "9.999999"]))
            channel = draw(st.sampled_from(list(Channel)))
            data = DossierSubmitted(procedure_code=procedure, channel=channel)
            if kind is EventType.RECEIVED:
                due_at: datetime | None = None
                if draw(st.integers(0, 4)) == 0:
                    due_at = t + timedelta(hours=draw(st.integers(0, 500)))
                on_site = draw(st.sampled_from([None, False, True]))
                data = DossierReceived(
                    procedure_code=procedure, channel=channel, due_at=due_at, on_site=on_site
                )
        elif kind is EventType.RESCHEDULED:
            appointment = t + timedelta(days=draw(st.integers(1, 30)))
            data = DossierRescheduled(new_appointment_at=appointment, reason="x")
        events.append(DossierEvent(f"{code}-{n}", kind, code, "000.00.12.H49", t, data, seq=n))
    return events
