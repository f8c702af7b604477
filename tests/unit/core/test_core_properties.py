"""Properties that must hold for any calendar instant and any event history."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import reduce
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import Catalog
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
from dossier_core.lifecycle import fold
from dossier_core.periods import Period
from dossier_core.report import ReportRow, contribution
from dossier_core.timeliness import PendingState, Timeliness

CATALOG = load_catalog(default_catalog_dir())
CAL = CATALOG.calendar()
PROCEDURES = sorted(CATALOG.procedures)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

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
                data = DossierReceived(procedure_code=procedure, channel=channel, due_at=due_at)
        elif kind is EventType.RESCHEDULED:
            appointment = t + timedelta(days=draw(st.integers(1, 30)))
            data = DossierRescheduled(new_appointment_at=appointment, reason="x")
        events.append(DossierEvent(f"{code}-{n}", kind, code, "000.00.12.H49", t, data, seq=n))
    return events


@SETTINGS
@given(st.data(), instants, st.integers(0, 200_000))
def test_adding_working_time_round_trips(data: st.DataObject, t: datetime, minutes: int) -> None:
    a = CAL.next_working_moment(t)
    assert a >= t and CAL.is_working_moment(a)
    b = CAL.add_working_minutes(a, minutes)
    assert CAL.working_minutes_between(a, b) == minutes
    assert CAL.working_minutes_between(t, CAL.add_working_minutes(t, minutes)) == minutes
    more = data.draw(st.integers(0, 10_000))
    assert CAL.add_working_minutes(a, minutes + more) >= b >= a


@SETTINGS
@given(histories(), st.randoms(use_true_random=False), st.lists(st.integers(0, 50), max_size=6))
def test_fold_ignores_arrival_order_and_duplicates(
    events: list[DossierEvent], rnd: Any, copies: list[int]
) -> None:
    if not events:
        return
    arrived = events + [events[i % len(events)] for i in copies]
    rnd.shuffle(arrived)
    reordered = [
        DossierEvent(e.event_id, e.type, e.dossier_code, e.agency_code, e.occurred_at, e.data, seq=i)
        for i, e in enumerate(arrived)
    ]
    assert fold(reordered, CATALOG) == fold(events, CATALOG)


@SETTINGS
@given(histories(), st.lists(st.integers(0, 20 * 24 * 60), min_size=1, max_size=5))
def test_a_paused_dossier_does_not_become_overdue_while_paused(
    events: list[DossierEvent], offsets: list[int]
) -> None:
    if not events:
        return
    d = fold(events, CATALOG)
    for pause in d.pauses:
        start = pause.started_at
        if d.pending_state(start, CAL) is not PendingState.IN_TIME:
            continue
        for minutes in offsets:
            t = start + timedelta(minutes=minutes)
            if pause.is_active_at(t) and d.is_open_at(t):
                assert d.pending_state(t, CAL) is PendingState.IN_TIME


@SETTINGS
@given(histories())
def test_every_finished_dossier_gets_exactly_one_timeliness(events: list[DossierEvent]) -> None:
    if not events:
        return
    d = fold(events, CATALOG)
    timeliness = d.timeliness(CAL)
    assert (timeliness is None) == (d.finished_at is None)
    if d.finished_at is not None:
        assert timeliness in set(Timeliness)
        day = d.finished_at.astimezone(VN_TZ).date()
        row = contribution(d, Period.between(day, day), CAL)
        assert row.resolved_total == 1
        assert getattr(row, str(timeliness)) == 1


periods = st.builds(
    lambda start, days: Period.between(start, start + timedelta(days=days)),
    st.dates(min_value=date(2019, 1, 1), max_value=date(2026, 12, 31)),
    st.integers(0, 120),
)


@SETTINGS
@given(st.lists(histories(), max_size=12), periods)
def test_report_rows_always_balance(histories_: list[list[DossierEvent]], period: Period) -> None:
    rows = []
    for events in histories_:
        if not events:
            continue
        row = contribution(fold(events, CATALOG), period, CAL)
        row.check_invariant()
        assert row.received_total <= 1
        rows.append(row)
    total = reduce(lambda a, b: a + b, rows, ReportRow())
    total.check_invariant()
    shape = total.to_dict()
    assert shape["received"]["total"] == (
        shape["resolved"]["total"] + shape["withdrawn"] + shape["refused"] + shape["pending"]["total"]
    )


def test_calendar_and_catalog_are_shared() -> None:
    assert isinstance(CAL, WorkingCalendar) and isinstance(CATALOG, Catalog)
