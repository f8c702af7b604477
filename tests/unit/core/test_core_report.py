"""Reporting periods and one dossier's contribution to a Biểu 06 row."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import Catalog
from dossier_core.dossier import Dossier
from dossier_core.events import DossierEvent, EventType
from dossier_core.lifecycle import fold
from dossier_core.periods import Period, parse_period
from dossier_core.report import ReportInvariantError, ReportRow, contribution

Q2 = parse_period("2021-Q2")


def vn(text: str) -> datetime:
    """A Vietnam-time instant from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2021-Q2", date(2021, 3, 15), date(2021, 6, 14)),
        ("2021-Q1", date(2020, 12, 15), date(2021, 3, 14)),
        ("2021-Q4", date(2021, 9, 15), date(2021, 12, 14)),
        ("2021-04", date(2021, 3, 15), date(2021, 4, 14)),
        ("2021-01", date(2020, 12, 15), date(2021, 1, 14)),
        ("2021", date(2020, 12, 15), date(2021, 12, 14)),
    ],
)
def test_named_periods_close_on_the_14th(text: str, start: date, end: date) -> None:
    period = parse_period(text)
    assert (period.start, period.end, period.label) == (start, end, text)


def test_period_instants() -> None:
    assert Q2.start_instant == vn("2021-03-15 00:00")
    assert Q2.end_instant == vn("2021-06-15 00:00")
    assert Q2.contains(vn("2021-06-14 23:59")) and not Q2.contains(Q2.end_instant)


@pytest.mark.parametrize("text", ["2021-Q5", "2021-13", "21-04", "2021/04", "", "Q2-2021"])
def test_bad_period_names(text: str) -> None:
    with pytest.raises(ValueError, match="period"):
        parse_period(text)


def test_explicit_period() -> None:
    period = Period.between(date(2021, 4, 1), date(2021, 4, 30))
    assert period.label == "2021-04-01..2021-04-30"
    with pytest.raises(ValueError, match="before it starts"):
        Period.between(date(2021, 4, 30), date(2021, 4, 1))


def dossier(catalog: Catalog, *steps: tuple[EventType, str, dict[str, Any]]) -> Dossier:
    events = [
        DossierEvent(f"e{n}", kind, "D-1", "000.00.12.H49", vn(at), data, seq=n)
        for n, (kind, at, data) in enumerate(steps)
    ]
    return fold(events, catalog)


def receipt(at: str, channel: str = "online") -> tuple[EventType, str, dict[str, Any]]:
    return (EventType.RECEIVED, at, {"procedure_code": "1.004194", "channel": channel})


def test_new_dossier_resolved_early(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = dossier(catalog, receipt("2021-04-05 09:00"), (EventType.RESOLVED, "2021-04-06 10:00", {}))
    row = contribution(d, Q2, cal)
    assert row == ReportRow(online=1, early=1)
    assert row.to_dict() == {
        "received": {"total": 1, "carried_over": 0, "online": 1, "direct": 0, "postal": 0},
        "resolved": {"total": 1, "early": 1, "on_time": 0, "late": 0},
        "pending": {"total": 0, "in_time": 0, "overdue": 0, "paused": 0},
        "withdrawn": 0,
        "refused": 0,
        "rescheduled": 0,
        "on_site": 0,
    }


def test_carried_over_and_pending_overdue_at_period_end(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = dossier(
        catalog,
        receipt("2021-03-10 09:00", "direct"),
        (EventType.RESCHEDULED, "2021-03-20 09:00", {"new_appointment_at": vn("2021-07-01 17:00")}),
    )
    assert contribution(d, Q2, cal) == ReportRow(carried_over=1, overdue=1, rescheduled=1)
    # The same dossier in the previous quarter: new, pending in time at 14 March.
    q1 = parse_period("2021-Q1")
    assert contribution(d, q1, cal) == ReportRow(direct=1, in_time=1)


def test_paused_is_reported_beside_pending(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = dossier(
        catalog,
        receipt("2021-06-10 09:00", "postal"),
        (EventType.SUPPLEMENT_REQUESTED, "2021-06-11 09:00", {"reason": "x"}),
    )
    row = contribution(d, Q2, cal)
    assert row == ReportRow(postal=1, in_time=1, paused=1) and row.pending_total == 1
    row.check_invariant()


def test_withdrawn_refused_and_ended_before(catalog: Catalog, cal: WorkingCalendar) -> None:
    withdrawn = dossier(catalog, receipt("2021-04-05 09:00"), (EventType.WITHDRAWN, "2021-04-06 09:00", {}))
    refused = dossier(catalog, receipt("2021-04-05 09:00"), (EventType.REFUSED, "2021-04-06 09:00", {}))
    assert contribution(withdrawn, Q2, cal) == ReportRow(online=1, withdrawn=1)
    assert contribution(refused, Q2, cal) == ReportRow(online=1, refused=1)
    assert contribution(withdrawn, parse_period("2021-Q3"), cal) == ReportRow()


def test_never_received_contributes_nothing(catalog: Catalog, cal: WorkingCalendar) -> None:
    submitted = dossier(catalog, (EventType.SUBMITTED, "2021-04-05 09:00", {"channel": "online"}))
    refused_at_counter = dossier(catalog, (EventType.NOT_ACCEPTED, "2021-04-05 09:00", {"reason": "x"}))
    assert contribution(submitted, Q2, cal) == ReportRow()
    assert contribution(refused_at_counter, Q2, cal) == ReportRow()


def test_rows_add_up_and_check_their_invariant() -> None:
    total = ReportRow(online=2, early=1, overdue=1) + ReportRow(carried_over=1, withdrawn=1)
    assert total == ReportRow(carried_over=1, online=2, early=1, overdue=1, withdrawn=1)
    total.check_invariant()
    with pytest.raises(ReportInvariantError, match="received 1"):
        ReportRow(online=1).check_invariant()
