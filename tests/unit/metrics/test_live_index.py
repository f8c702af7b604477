"""Counters and scrape-time gauges against a moving clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import Catalog
from dossier_core.dossier import Dossier
from dossier_core.timeliness import PendingState
from dossier_metrics.counters import COUNTER_COLUMNS, ZERO, counted
from dossier_metrics.index import LiveIndex

AGENCY = "000.00.12.H49"  # Sở Tư pháp
MakeDossier = Callable[..., Dossier]


def vn(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


class MovingClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def index_with(clock: MovingClock, calendar: WorkingCalendar, *dossiers: Dossier) -> LiveIndex:
    index = LiveIndex(calendar, clock)
    for dossier in dossiers:
        index.apply(0, [dossier], {dossier.agency_code: counted(dossier, calendar)}, None)
    return index


def gauges(index: LiveIndex, agency: str = AGENCY) -> dict[str, int]:
    row = index.figures([agency]).gauges_of(agency)
    return dict(zip(("in_time", "overdue", "paused", "due_soon"), row, strict=True))


def test_dossier_turns_overdue_between_two_scrapes_without_an_event(
    make_dossier: MakeDossier, calendar: WorkingCalendar
) -> None:
    # 3 working days from Monday 09:00 → Thursday 09:00.
    dossier = make_dossier(("received", vn("2021-04-05 09:00")))
    assert dossier.legal_due_at == vn("2021-04-08 09:00")
    clock = MovingClock(vn("2021-04-06 10:00"))
    index = index_with(clock, calendar, dossier)
    assert gauges(index) == {"in_time": 1, "overdue": 0, "paused": 0, "due_soon": 0}
    clock.now = vn("2021-04-07 10:00")  # deadline within one working day
    assert gauges(index) == {"in_time": 1, "overdue": 0, "paused": 0, "due_soon": 1}
    clock.now = vn("2021-04-08 08:59")
    assert gauges(index)["due_soon"] == 1
    clock.now = vn("2021-04-08 09:01")
    assert gauges(index) == {"in_time": 0, "overdue": 1, "paused": 0, "due_soon": 0}


def test_paused_dossier_is_pending_and_paused_and_its_deadline_keeps_moving(
    make_dossier: MakeDossier, calendar: WorkingCalendar
) -> None:
    dossier = make_dossier(
        ("received", vn("2021-04-05 09:00")),
        ("supplement_requested", vn("2021-04-06 09:00"), {"reason": "thiếu giấy tờ"}),
    )
    clock = MovingClock(vn("2021-04-06 10:00"))
    index = index_with(clock, calendar, dossier)
    assert gauges(index) == {"in_time": 1, "overdue": 0, "paused": 1, "due_soon": 0}
    clock.now = vn("2021-04-20 10:00")  # long past the original deadline, still paused: in time
    assert gauges(index) == {"in_time": 1, "overdue": 0, "paused": 1, "due_soon": 0}
    resumed = make_dossier(
        ("received", vn("2021-04-05 09:00")),
        ("supplement_requested", vn("2021-04-06 09:00"), {"reason": "thiếu giấy tờ"}),
        ("supplement_received", vn("2021-04-20 10:00")),
        code=dossier.dossier_code,
    )
    index.apply(0, [resumed], {}, None)
    # Two working days were left at the pause; 21 April 2021 is Hùng Kings day (a holiday).
    assert resumed.effective_due(vn("2021-04-21 10:00"), calendar) == vn("2021-04-23 10:00")
    clock.now = vn("2021-04-21 10:00")
    assert gauges(index) == {"in_time": 1, "overdue": 0, "paused": 0, "due_soon": 0}
    clock.now = vn("2021-04-22 10:00")
    assert gauges(index) == {"in_time": 1, "overdue": 0, "paused": 0, "due_soon": 1}
    clock.now = vn("2021-04-23 10:01")
    assert gauges(index) == {"in_time": 0, "overdue": 1, "paused": 0, "due_soon": 0}


def test_counters_follow_the_latest_snapshot_and_finished_dossiers_leave_the_gauges(
    make_dossier: MakeDossier, calendar: WorkingCalendar
) -> None:
    received = make_dossier(("received", vn("2021-04-05 09:00")), channel="postal")
    clock = MovingClock(vn("2021-04-09 10:00"))
    index = index_with(clock, calendar, received)
    late = make_dossier(
        ("received", vn("2021-04-05 09:00")),
        ("rescheduled", vn("2021-04-07 09:00"), {"new_appointment_at": "2021-04-12T09:00:00+07:00"}),
        ("resolved", vn("2021-04-09 09:30")),
        channel="postal",
        code=received.dossier_code,
    )
    delta = tuple(n - o for n, o in zip(counted(late, calendar), counted(received, calendar), strict=True))
    index.apply(0, [late], {AGENCY: delta}, vn("2021-04-09 09:31").timestamp())
    figures = index.figures([AGENCY])
    counters = dict(zip(COUNTER_COLUMNS, figures.counters_of(AGENCY), strict=True))
    assert counters["received_postal"] == 1
    assert counters["resolved_late"] == 1
    assert counters["rescheduled"] == 1
    assert sum(counters.values()) == 3
    assert figures.gauges_of(AGENCY) == [0, 0, 0, 0]
    assert index.open_count == 0
    assert figures.last_event_ts == vn("2021-04-09 09:31").timestamp()


def test_revoked_partition_leaves_the_totals(make_dossier: MakeDossier, calendar: WorkingCalendar) -> None:
    dossier = make_dossier(("received", vn("2021-04-05 09:00")))
    index = index_with(MovingClock(vn("2021-04-06 10:00")), calendar, dossier)
    index.drop_partition(0)
    figures = index.figures([AGENCY])
    assert figures.counters_of(AGENCY) == ZERO
    assert figures.gauges_of(AGENCY) == [0, 0, 0, 0]


def test_every_catalog_agency_has_a_zero_row(catalog: Catalog, calendar: WorkingCalendar) -> None:
    index = LiveIndex(calendar, MovingClock(vn("2021-04-06 10:00")))
    figures = index.figures(catalog.agencies)
    assert set(figures.codes) == set(catalog.agencies)
    assert all(len(column) == len(figures.codes) for column in (*figures.counters, *figures.gauges))


_step = st.tuples(st.sampled_from(["pause", "resume"]), st.integers(min_value=1, max_value=60 * 24 * 5))


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(_step, max_size=5),
    probes=st.lists(st.integers(min_value=0, max_value=60 * 24 * 30), min_size=1, max_size=6),
    received_minute=st.integers(min_value=0, max_value=60 * 24 * 7),
)
def test_scrape_answers_equal_the_domain_at_any_later_instant(
    make_dossier: MakeDossier,
    calendar: WorkingCalendar,
    steps: list[tuple[str, int]],
    probes: list[int],
    received_minute: int,
) -> None:
    """The settled-deadline shortcut never disagrees with `Dossier.pending_state`."""
    at = vn("2021-04-05 00:00") + timedelta(minutes=received_minute)
    events: list[tuple[str, datetime] | tuple[str, datetime, dict[str, str]]] = [("received", at)]
    for kind, gap in steps:
        at += timedelta(minutes=gap)
        events.append(("fee_requested", at, {}) if kind == "pause" else ("fee_paid", at))
    dossier = make_dossier(*events)
    clock = MovingClock(at)
    index = index_with(clock, calendar, dossier)
    for probe in sorted(probes):
        clock.now = at + timedelta(minutes=probe)
        state = dossier.pending_state(clock.now, calendar)
        expected = {
            "in_time": int(state is PendingState.IN_TIME),
            "overdue": int(state is PendingState.OVERDUE),
            "paused": int(dossier.is_paused_at(clock.now)),
        }
        got = gauges(index, dossier.agency_code)
        assert {k: got[k] for k in expected} == expected


def test_a_deadline_beyond_the_calendar_never_breaks_a_scrape(
    make_dossier: MakeDossier, calendar: WorkingCalendar
) -> None:
    # The latest appointment SPEC admits, paused at once: by 2040 the deadline (now plus the century
    # of working time that was left) lies beyond the working calendar's last year.
    dossier = make_dossier(
        ("received", vn("2000-01-04 09:00"), {"due_at": "2099-12-31T17:00:00+07:00"}),
        ("supplement_requested", vn("2000-01-05 09:00"), {"reason": "thiếu giấy tờ"}),
    )
    clock = MovingClock(vn("2026-12-01 09:00"))
    index = index_with(clock, calendar, dossier)
    assert gauges(index) == {"in_time": 1, "overdue": 0, "paused": 1, "due_soon": 0}
    clock.now = vn("2040-01-02 09:00")
    assert gauges(index) == {"in_time": 1, "overdue": 0, "paused": 1, "due_soon": 0}
    fresh = index_with(clock, calendar, dossier)  # a dossier first seen then
    assert gauges(fresh) == {"in_time": 1, "overdue": 0, "paused": 1, "due_soon": 0}
