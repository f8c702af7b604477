"""The dossier fold on concrete event sequences."""

from __future__ import annotations

from datetime import datetime

from dossier_core.calendar import BEYOND_CALENDAR, VN_TZ, WorkingCalendar
from dossier_core.catalog import Catalog, DeadlineUnit, SupplementPolicy
from dossier_core.codes import Channel, EventType, StatusCode
from dossier_core.deadlines import DeadlineRule
from dossier_core.dossier import Dossier
from dossier_core.event_data import (
    DossierNotAccepted,
    DossierReceived,
    DossierRescheduled,
    DossierResolved,
    DossierResumed,
    DossierSubmitted,
    DossierSuspended,
    DossierWithdrawn,
    EventData,
    FeePaid,
    FeeRequested,
    ProcessingStarted,
    ResultReturned,
    SupplementReceived,
    SupplementRequested,
)
from dossier_core.events import DossierEvent
from dossier_core.lifecycle import EndKind, PauseKind, fold
from dossier_core.timeliness import PendingState, Timeliness

CODE = "000.00.12.H49-210407-0001"
AGENCY = "000.00.12.H49"


def vn(text: str) -> datetime:
    """A Vietnam-time instant from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


def event(n: int, at: str, data: EventData) -> DossierEvent:
    return DossierEvent(f"e{n}", data.TYPE, CODE, AGENCY, vn(at), data, seq=n)


def received(
    at: str, procedure: str = "1.004194", channel: Channel = Channel.DIRECT, due_at: datetime | None = None
) -> DossierEvent:
    return event(1, at, DossierReceived(procedure_code=procedure, channel=channel, due_at=due_at))


def supplement_over_weekend(procedure: str) -> list[DossierEvent]:
    return [
        received("2021-04-07 09:00", procedure),
        event(2, "2021-04-09 16:00", SupplementRequested(reason="thiếu giấy tờ")),
        event(3, "2021-04-12 08:00", SupplementReceived()),
    ]


def test_received_starts_the_clock(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = fold(
        [
            event(0, "2021-04-06 20:00", DossierSubmitted(procedure_code="1.004194", channel=Channel.ONLINE)),
            event(1, "2021-04-07 09:00", DossierReceived()),
        ],
        catalog,
    )
    assert d.status is StatusCode.RECEIVED and d.status.label == "Đã tiếp nhận"
    assert d.submitted_at == vn("2021-04-06 20:00") and d.received_at == vn("2021-04-07 09:00")
    assert d.channel is Channel.ONLINE and d.procedure_code == "1.004194"
    assert d.rule == DeadlineRule(DeadlineUnit.WORKING_DAYS, 3)
    assert d.legal_due_at == d.computed_due_at == d.appointment_at == vn("2021-04-12 09:00")
    assert d.pending_state(vn("2021-04-12 09:00"), cal) is PendingState.IN_TIME
    assert d.pending_state(vn("2021-04-12 09:01"), cal) is PendingState.OVERDUE
    assert d.anomalies == ()


def test_submitted_only_waits_with_status_1(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = fold([event(0, "2021-04-06 20:00", DossierSubmitted(procedure_code="1.004194"))], catalog)
    assert d.status is StatusCode.SUBMITTED and d.received_at is None and d.legal_due_at is None
    assert d.pending_state(vn("2021-05-01 00:00"), cal) is None


def test_supplement_over_a_weekend_extends_by_the_paused_working_time(
    catalog: Catalog, cal: WorkingCalendar
) -> None:
    d = fold(supplement_over_weekend("1.004194"), catalog)  # 3 working days, extend
    assert d.pauses[0].policy is SupplementPolicy.EXTEND and d.status is StatusCode.PROCESSING
    assert d.legal_due_at == vn("2021-04-12 09:00")
    # Friday 16:00–17:00 and Monday 07:00–08:00 were paused: two working hours.
    assert d.effective_due(vn("2021-04-13 00:00"), cal) == vn("2021-04-12 11:00")
    # While paused, the deadline keeps moving with the clock.
    assert d.effective_due(vn("2021-04-10 10:00"), cal) == vn("2021-04-12 10:00")
    assert d.is_paused_at(vn("2021-04-10 10:00")) and not d.is_paused_at(vn("2021-04-12 08:00"))


def test_supplement_over_a_weekend_restarts_the_full_duration(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = fold(supplement_over_weekend("1.013835"), catalog)  # 5 working days, restart
    assert d.pauses[0].policy is SupplementPolicy.RESTART
    assert d.legal_due_at == vn("2021-04-14 09:00")
    assert d.effective_due(vn("2021-04-13 00:00"), cal) == vn("2021-04-19 08:00")
    assert d.effective_due(vn("2021-04-10 10:00"), cal) == vn("2021-04-16 17:00")


def test_fee_and_suspension_always_extend(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = fold(
        [
            received("2021-04-07 09:00", "1.013835"),
            event(2, "2021-04-08 09:00", FeeRequested(amount=100000)),
            event(3, "2021-04-08 10:00", FeePaid()),
            event(4, "2021-04-08 14:00", DossierSuspended(reason="x")),
            event(5, "2021-04-08 15:00", DossierResumed()),
        ],
        catalog,
    )
    assert [p.kind for p in d.pauses] == [PauseKind.FEE, PauseKind.SUSPENSION]
    assert all(p.policy is SupplementPolicy.EXTEND for p in d.pauses)
    assert d.effective_due(vn("2021-05-01 00:00"), cal) == vn("2021-04-14 11:00")


def test_declared_due_wins_and_a_mismatch_is_recorded(catalog: Catalog) -> None:
    d = fold([received("2021-04-07 09:00", due_at=vn("2021-04-13 17:00"))], catalog)
    assert d.legal_due_at == d.appointment_at == vn("2021-04-13 17:00")
    assert d.computed_due_at == vn("2021-04-12 09:00")
    assert d.anomalies == (
        "due_at_mismatch: declared 2021-04-13T17:00+07:00, computed 2021-04-12T09:00+07:00",
    )


def test_events_made_from_json_like_data_fold_the_same(catalog: Catalog) -> None:
    data = {"procedure_code": "1.004194", "channel": "direct", "due_at": "2021-04-12T09:00:00+07:00"}
    d = fold([DossierEvent("e1", EventType.RECEIVED, CODE, AGENCY, vn("2021-04-07 09:00"), data)], catalog)
    assert d.legal_due_at == vn("2021-04-12 09:00") and d.anomalies == ()
    assert d == fold([received("2021-04-07 09:00", due_at=vn("2021-04-12 09:00"))], catalog)


def test_rescheduling_moves_the_appointment_only(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = fold(
        [
            received("2021-04-07 09:00"),
            event(
                2,
                "2021-04-12 08:00",
                DossierRescheduled(new_appointment_at=vn("2021-04-15 17:00"), reason="xin lỗi"),
            ),
            event(3, "2021-04-14 10:00", DossierResolved()),
            event(4, "2021-04-15 10:00", ResultReturned()),
        ],
        catalog,
    )
    assert d.appointment_at == vn("2021-04-15 17:00") and d.legal_due_at == vn("2021-04-12 09:00")
    assert d.reschedules == (vn("2021-04-12 08:00"),)
    assert d.status is StatusCode.RETURNED and d.end_kind is EndKind.RESOLVED
    assert d.finished_at == d.ended_at == vn("2021-04-14 10:00")
    assert d.timeliness(cal) is Timeliness.LATE


def test_returned_without_resolved_finishes(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = fold([received("2021-04-07 09:00"), event(2, "2021-04-12 16:00", ResultReturned())], catalog)
    assert d.end_kind is EndKind.RETURNED and d.finished_at == vn("2021-04-12 16:00")
    assert d.timeliness(cal) is Timeliness.ON_TIME


def test_early_finish(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = fold([received("2021-04-07 09:00"), event(2, "2021-04-09 16:00", DossierResolved())], catalog)
    assert d.timeliness(cal) is Timeliness.EARLY


def test_impossible_transitions_are_kept_as_anomalies(catalog: Catalog) -> None:
    d = fold(
        [
            received("2021-04-07 09:00"),
            event(2, "2021-04-08 09:00", DossierWithdrawn()),
            event(3, "2021-04-09 09:00", DossierResolved()),
            event(4, "2021-04-09 10:00", FeePaid()),
        ],
        catalog,
    )
    assert d.status is StatusCode.WITHDRAWN and d.end_kind is EndKind.WITHDRAWN and d.finished_at is None
    assert d.anomalies == (
        "invalid_transition: dossier.resolved after dossier.withdrawn",
        "invalid_transition: dossier.fee_paid after dossier.withdrawn",
    )
    assert d.event_count == 4


def test_events_before_receipt_are_anomalies(catalog: Catalog) -> None:
    d = fold([event(2, "2021-04-07 08:00", ProcessingStarted()), received("2021-04-07 09:00")], catalog)
    assert d.anomalies == ("invalid_transition: dossier.processing before dossier.received",)
    assert d.status is StatusCode.RECEIVED


def test_unknown_procedure_has_no_deadline(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = fold([received("2021-04-07 09:00", "9.999999")], catalog)
    assert d.rule is None and d.legal_due_at is None
    assert d.anomalies == ("unknown_procedure: '9.999999'",)
    assert d.pending_state(vn("2022-01-01 00:00"), cal) is PendingState.IN_TIME


def test_not_accepted_is_terminal_and_never_received(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = fold(
        [
            event(0, "2021-04-06 20:00", DossierSubmitted(procedure_code="1.004194", channel=Channel.ONLINE)),
            event(1, "2021-04-07 09:00", DossierNotAccepted(reason="sai thẩm quyền")),
            event(2, "2021-04-07 10:00", DossierReceived()),
        ],
        catalog,
    )
    assert d.status is StatusCode.NOT_ACCEPTED and d.end_kind is EndKind.NOT_ACCEPTED
    assert d.received_at is None and not d.is_received
    assert d.anomalies == ("invalid_transition: dossier.received after dossier.not_accepted",)


def test_duplicates_are_ignored_and_ties_go_by_arrival(catalog: Catalog) -> None:
    a = event(2, "2021-04-08 09:00", SupplementRequested())
    b = DossierEvent("e3", EventType.SUPPLEMENT_RECEIVED, CODE, AGENCY, vn("2021-04-08 09:00"), seq=3)
    d = fold([b, received("2021-04-07 09:00"), a, a], catalog)
    assert d.event_count == 3 and d.status is StatusCode.PROCESSING and d.anomalies == ()


def test_withdrawal_while_paused_closes_the_pause(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = fold(
        [*supplement_over_weekend("1.004194")[:2], event(3, "2021-04-12 10:00", DossierWithdrawn())], catalog
    )
    assert d.pauses[0].ended_at == vn("2021-04-12 10:00")
    assert not d.is_open_at(vn("2021-04-12 10:00")) and d.is_open_at(vn("2021-04-12 09:59"))


def test_a_snapshot_answers_without_the_catalog(catalog: Catalog, cal: WorkingCalendar) -> None:
    d = fold(supplement_over_weekend("1.013835"), catalog)
    copy = Dossier(**{name: getattr(d, name) for name in Dossier.__dataclass_fields__})
    t = vn("2021-04-10 10:00")
    assert copy == d and copy.effective_due(t, cal) == d.effective_due(t, cal)


def test_a_deadline_paused_past_the_calendar_years_is_later_than_any_instant(catalog: Catalog) -> None:
    cal = catalog.calendar()
    events = [
        received("2000-01-04 09:00", due_at=vn("2099-12-30 17:00")),
        event(2, "2000-01-04 10:00", SupplementRequested(reason="thiếu giấy tờ")),
    ]
    dossier = fold(events, catalog)
    assert dossier.effective_due(vn("2026-12-01 09:00"), cal) == vn("2125-12-20 16:00")  # still computed
    now = vn("2099-06-01 09:00")
    assert dossier.effective_due(now, cal) == BEYOND_CALENDAR
    assert dossier.pending_state(now, cal) is PendingState.IN_TIME
    resume = event(3, "2099-06-01 08:00", SupplementReceived())
    resumed = fold([*events, resume], catalog)
    finished = fold([*events, resume, event(4, "2099-06-02 08:00", DossierResolved())], catalog)
    assert resumed.effective_due(now, cal) == BEYOND_CALENDAR
    assert finished.timeliness(cal) is Timeliness.EARLY
