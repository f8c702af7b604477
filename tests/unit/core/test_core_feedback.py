"""Citizen feedback in the domain: the handling deadline in working days on the province's calendar
(weekends and public holidays do not count), the fold of an item's events whatever their arrival
order, and the report section's figures as they stood at a period's end."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dossier_contracts.feedback_codec import (
    decode_feedback_event,
    decode_feedback_status,
    encode_feedback_event,
    encode_feedback_status,
)
from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.feedback import (
    FeedbackEvent,
    FeedbackEventType,
    FeedbackStage,
    feedback_deadline,
    feedback_figures,
    fold_feedback,
)

T = FeedbackEventType
CODE, AGENCY = "PAKN-2021-0001", "000.00.18.H49"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


def ev(kind: FeedbackEventType, when: str, n: int = 0, **fields: str) -> FeedbackEvent:
    return FeedbackEvent(f"e-{kind.value}-{n}", kind, CODE, AGENCY, at(when), **fields)  # type: ignore[arg-type]


def test_the_deadline_counts_working_days_only(cal: WorkingCalendar) -> None:
    # Friday 2021-04-23, 10:00: ten working days skip the weekends, 30 April (Friday) and 3 May (the
    # Monday given in lieu of 1 May): due Tuesday 2021-05-11 at 10:00.
    received = at("2021-04-23T10:00")
    due = feedback_deadline(received, 10, cal)
    days = {received.date() + timedelta(d) for d in range((due.date() - received.date()).days)}
    working = [d for d in sorted(days) if cal.is_working_day(d)]
    assert len(working) == 10  # the receipt day's rest and nine more, ending at the same hour
    assert due == at("2021-05-11T10:00")
    assert not cal.is_working_day(received.date() + timedelta(days=7))  # 30 April is a holiday
    with pytest.raises(ValueError, match="at least one working day"):
        feedback_deadline(received, 0, cal)


def test_a_longer_setting_moves_the_deadline_and_the_overdue_verdict(cal: WorkingCalendar) -> None:
    events = [ev(T.RECEIVED, "2021-04-05T09:00"), ev(T.ASSIGNED, "2021-04-06T09:00")]
    short, long = fold_feedback(events, cal, 10), fold_feedback(events, cal, 15)
    assert short.due_at is not None and long.due_at is not None and short.due_at < long.due_at
    between = short.due_at + (long.due_at - short.due_at) / 2
    assert short.overdue_at(between) and not long.overdue_at(between)
    assert short.stage is FeedbackStage.ASSIGNED and short.stage.open


def test_answered_then_published_and_a_late_withdrawal_changes_nothing(cal: WorkingCalendar) -> None:
    state = fold_feedback(
        [
            ev(T.RECEIVED, "2021-04-05T09:00", subject="phí đăng ký"),
            ev(T.ASSIGNED, "2021-04-06T09:00", handler="Sở Tư pháp"),
            ev(T.ANSWERED, "2021-04-09T09:00"),
            ev(T.PUBLISHED, "2021-04-12T09:00"),
            ev(T.WITHDRAWN, "2021-04-13T09:00"),
        ],
        cal,
    )
    assert state.stage is FeedbackStage.PUBLISHED and state.stage.handled
    assert (state.subject, state.handler) == ("phí đăng ký", "Sở Tư pháp")
    assert state.answered_at == at("2021-04-09T09:00") and not state.answered_late()
    assert not state.overdue_at(at("2022-01-01T00:00"))


def test_published_without_an_answer_event_is_answered_then(cal: WorkingCalendar) -> None:
    state = fold_feedback([ev(T.RECEIVED, "2021-04-05T09:00"), ev(T.PUBLISHED, "2021-05-28T09:00")], cal)
    assert state.stage is FeedbackStage.PUBLISHED
    assert state.answered_at == at("2021-05-28T09:00") and state.answered_late()


def test_withdrawn_before_an_answer_is_not_overdue(cal: WorkingCalendar) -> None:
    state = fold_feedback([ev(T.RECEIVED, "2021-04-05T09:00"), ev(T.WITHDRAWN, "2021-04-06T09:00")], cal)
    assert state.stage is FeedbackStage.WITHDRAWN and not state.stage.open
    assert not state.overdue_at(at("2022-01-01T00:00"))


def test_an_item_without_its_receipt_has_no_deadline(cal: WorkingCalendar) -> None:
    state = fold_feedback([ev(T.ASSIGNED, "2021-04-06T09:00")], cal)
    assert state.received_at is None and state.due_at is None and not state.overdue_at(at("2030-01-01T00:00"))
    with pytest.raises(ValueError):
        fold_feedback([], cal)


KINDS = st.lists(st.sampled_from(list(T)), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(kinds=KINDS, hours=st.lists(st.integers(0, 2000), min_size=8, max_size=8), seed=st.integers(0, 99))
def test_the_fold_does_not_depend_on_arrival_order(
    cal: WorkingCalendar, kinds: list[FeedbackEventType], hours: list[int], seed: int
) -> None:
    base = at("2021-04-05T08:00")
    events = [
        FeedbackEvent(f"e{i}", kind, CODE, AGENCY, base + timedelta(hours=hours[i]), seq=i)
        for i, kind in enumerate(kinds)
    ]
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    state = fold_feedback(events, cal)
    assert fold_feedback(shuffled, cal) == state
    # the stage follows the furthest step, an answer outweighing a withdrawal
    if T.PUBLISHED in kinds:
        assert state.stage is FeedbackStage.PUBLISHED
    elif T.ANSWERED in kinds:
        assert state.stage is FeedbackStage.ANSWERED
    elif T.WITHDRAWN in kinds:
        assert state.stage is FeedbackStage.WITHDRAWN
    # and round-trips through feedback.status.v1
    snapshot = decode_feedback_status(encode_feedback_status(state, 3))
    assert (snapshot.state, snapshot.version) == (state, 3)


def test_events_round_trip_through_feedback_events_v1() -> None:
    event = ev(T.ASSIGNED, "2021-04-06T09:00", handler="Phòng Kiểm soát TTHC")
    back = decode_feedback_event(encode_feedback_event(event, recorded_at=at("2021-04-06T09:01"), source="k"))
    assert back == event and back.occurred_at.utcoffset() == timedelta(hours=7)


def test_the_section_counts_the_quang_ninh_quarter_as_it_stood_at_its_end(cal: WorkingCalendar) -> None:
    """DOMAIN.md's quarter: 2 received, 1 handled and published, 1 in progress; items received outside
    the quarter and steps taken after its end are not counted."""

    def item(code: str, steps: list[tuple[FeedbackEventType, str]]) -> object:
        return fold_feedback(
            [FeedbackEvent(f"{code}-{i}", k, code, AGENCY, at(w)) for i, (k, w) in enumerate(steps)], cal
        )

    published = item("PAKN-1", [(T.RECEIVED, "2021-04-01T09:00"), (T.ANSWERED, "2021-04-08T09:00"),
                                (T.PUBLISHED, "2021-04-09T09:00")])  # fmt: skip
    open_late = item("PAKN-2", [(T.RECEIVED, "2021-05-20T09:00"), (T.ASSIGNED, "2021-05-21T09:00"),
                                (T.ANSWERED, "2021-06-20T09:00")])  # fmt: skip
    before = item("PAKN-3", [(T.RECEIVED, "2021-03-01T09:00")])
    start, end = at("2021-03-15T00:00"), at("2021-06-15T00:00")  # 2021-Q2 as reported
    figures = feedback_figures([published, open_late, before], start, end)  # type: ignore[list-item]
    assert figures == {
        "received": 2,
        "in_progress": 1,
        "answered": 1,
        "published": 1,
        "withdrawn": 0,
        "overdue": 1,  # PAKN-2's ten working days ran out on 2021-06-03
        "answered_late": 0,
    }
