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
from dossier_core.events import DossierEvent
from dossier_core.lifecycle import fold
from dossier_core.periods import Period
from dossier_core.report import ReportRow, contribution
from dossier_core.timeliness import PendingState, Timeliness
from tests.histories import histories, instants

CATALOG = load_catalog(default_catalog_dir())
CAL = CATALOG.calendar()
PROCEDURES = sorted(CATALOG.procedures)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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
