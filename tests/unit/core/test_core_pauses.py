"""The pause rule on its own: what pauses, extend against restart, and the deadline at an instant."""

from __future__ import annotations

from datetime import datetime

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import Catalog, DeadlineUnit, SupplementPolicy
from dossier_core.codes import EventType
from dossier_core.deadlines import DeadlineRule
from dossier_core.pauses import PAUSED_BY, RESUMED_BY, Pause, PauseKind, effective_due, policy_for

FIVE_DAYS = DeadlineRule(DeadlineUnit.WORKING_DAYS, 5)


def vn(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


def test_each_pause_kind_is_opened_and_closed_by_one_event_type() -> None:
    assert PAUSED_BY == {
        EventType.SUPPLEMENT_REQUESTED: PauseKind.SUPPLEMENT,
        EventType.FEE_REQUESTED: PauseKind.FEE,
        EventType.SUSPENDED: PauseKind.SUSPENSION,
    }
    assert RESUMED_BY == {
        EventType.SUPPLEMENT_RECEIVED: PauseKind.SUPPLEMENT,
        EventType.FEE_PAID: PauseKind.FEE,
        EventType.RESUMED: PauseKind.SUSPENSION,
    }


def test_only_a_supplement_follows_the_procedures_policy(catalog: Catalog) -> None:
    restart = catalog.procedures["1.013835"]
    assert restart.supplement_policy is SupplementPolicy.RESTART
    assert policy_for(PauseKind.SUPPLEMENT, restart) is SupplementPolicy.RESTART
    assert policy_for(PauseKind.FEE, restart) is SupplementPolicy.EXTEND
    assert policy_for(PauseKind.SUSPENSION, restart) is SupplementPolicy.EXTEND
    assert policy_for(PauseKind.SUPPLEMENT, None) is SupplementPolicy.EXTEND


def test_extend_grants_the_time_left_again_from_the_resume(cal: WorkingCalendar) -> None:
    # Friday 16:00 → Monday 08:00; three working hours were left before Monday 09:00.
    pause = Pause(PauseKind.SUPPLEMENT, vn("2021-04-09 16:00"), vn("2021-04-12 08:00"))
    due = vn("2021-04-12 09:00")
    assert effective_due(due, [pause], FIVE_DAYS, vn("2021-05-01 00:00"), cal) == vn("2021-04-12 11:00")
    # Still paused on Saturday: the pause counts up to then, and the deadline keeps moving.
    open_pause = Pause(PauseKind.SUPPLEMENT, vn("2021-04-09 16:00"), None)
    assert effective_due(due, [open_pause], FIVE_DAYS, vn("2021-04-10 10:00"), cal) == vn("2021-04-12 10:00")
    # Before the pause began, it changes nothing.
    assert effective_due(due, [pause], FIVE_DAYS, vn("2021-04-09 15:00"), cal) == due


def test_extend_after_the_deadline_adds_the_paused_working_time(cal: WorkingCalendar) -> None:
    pause = Pause(PauseKind.FEE, vn("2021-04-08 10:00"), vn("2021-04-08 11:00"))
    due = vn("2021-04-08 09:00")
    assert effective_due(due, [pause], FIVE_DAYS, vn("2021-05-01 00:00"), cal) == vn("2021-04-08 10:00")


def test_restart_counts_the_whole_rule_again_from_the_resume(cal: WorkingCalendar) -> None:
    pause = Pause(
        PauseKind.SUPPLEMENT, vn("2021-04-09 16:00"), vn("2021-04-12 08:00"), SupplementPolicy.RESTART
    )
    due = vn("2021-04-14 09:00")
    assert effective_due(due, [pause], FIVE_DAYS, vn("2021-05-01 00:00"), cal) == vn("2021-04-19 08:00")
    # Without a rule (unknown procedure) restart falls back to extend.
    assert effective_due(due, [pause], None, vn("2021-05-01 00:00"), cal) == vn("2021-04-14 11:00")


def test_no_deadline_stays_none(cal: WorkingCalendar) -> None:
    pause = Pause(PauseKind.SUSPENSION, vn("2021-04-09 16:00"), None)
    assert effective_due(None, [pause], None, vn("2021-05-01 00:00"), cal) is None
