"""Simulated citizen feedback (phản ánh, kiến nghị, PAKN): items received in the period, each taken to
the stage its share of the mix gives, and the feedback section (`/v1/reports/feedback`) they must add.

The default mix follows Quảng Ninh's report for Q2 2021 (docs/domain.md, "Citizen feedback"): 2 items
received in the quarter, 1 handled and its answer published, 1 in progress; answered-but-unpublished
and withdrawn items are small additions that show only at scale. Items are apportioned to stages by
largest remainder (not drawn at random), so the default 2 items are exactly the report's 1 + 1. They
draw from a generator of their own, so a seed's dossier traffic is the same with or without them."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import Agency, Catalog
from dossier_core.feedback import (
    DEFAULT_DEADLINE_DAYS,
    SUMMARY_FIGURES,
    FeedbackEvent,
    FeedbackEventType,
    FeedbackState,
    feedback_figures,
    fold_feedback,
)
from dossier_core.periods import Period
from dossier_sim.generator import LEVEL_WEIGHTS, WORK_MINUTES_PER_DAY
from dossier_sim.mix import parse_shares

#: Quảng Ninh's quarter: 2 feedback items for 270,990 dossiers.
DOSSIERS_PER_ITEM = 270_990 / 2
#: At least the report's 2 items, whatever the number of dossiers.
MIN_DEFAULT_ITEMS = 2


class FeedbackOutcome(StrEnum):
    """Where a simulated item ends."""

    PUBLISHED = "published"  # answered and the answer made public ("đã xử lý, công khai")
    IN_PROGRESS = "in_progress"  # assigned to a department, not answered by the period's end
    ANSWERED = "answered"  # answered, not published
    WITHDRAWN = "withdrawn"  # withdrawn by the citizen before an answer


DEFAULT_FEEDBACK_MIX = "published=45,in_progress=45,answered=5,withdrawn=5"

SUBJECTS = (
    "Thời hạn giải quyết thủ tục cấp giấy phép xây dựng",
    "Thành phần hồ sơ đăng ký hộ kinh doanh",
    "Phí, lệ phí cấp giấy chứng nhận quyền sử dụng đất",
    "Thái độ tiếp nhận hồ sơ tại bộ phận một cửa",
    "Quy định về chứng thực bản sao",
)
HANDLERS = ("Phòng Kiểm soát thủ tục hành chính", "Phòng Nghiệp vụ", "Văn phòng")


def default_feedback_count(dossiers: int) -> int:
    """About 2 items per 270,990 dossiers, and at least the report's 2."""
    return max(MIN_DEFAULT_ITEMS, round(dossiers / DOSSIERS_PER_ITEM))


def parse_feedback_mix(text: str) -> dict[FeedbackOutcome, float]:
    """`published=45,in_progress=45,answered=5,withdrawn=5` (any non-negative numbers; normalised)."""
    return parse_shares(text, FeedbackOutcome, "feedback")


def apportion(count: int, shares: Mapping[FeedbackOutcome, float]) -> dict[FeedbackOutcome, int]:
    """`count` items split by `shares` (largest remainder, ties in the mix's order): the counts add
    up to `count` and each is its share rounded down or up."""
    exact = {o: count * s for o, s in shares.items()}
    counts = {o: int(v) for o, v in exact.items()}
    by_remainder = sorted(shares, key=lambda o: -(exact[o] - counts[o]))
    for outcome in by_remainder[: count - sum(counts.values())]:
        counts[outcome] += 1
    return counts


@dataclass
class SimulatedFeedback:
    code: str
    agency: str
    outcome: FeedbackOutcome
    events: list[dict[str, Any]] = field(default_factory=list)


class FeedbackGenerator:
    """Feedback items of one period, deterministic for a seed. `deadline_days` is the handling deadline
    processing applies (`PROCESSING_FEEDBACK_DEADLINE_DAYS`): answered items are answered within it,
    and items in progress at the period's end were received within its last `deadline_days` working
    days (not overdue at its end, as in the report)."""

    def __init__(
        self,
        catalog: Catalog,
        period: Period,
        shares: Mapping[FeedbackOutcome, float],
        seed: int = 1,
        deadline_days: int = DEFAULT_DEADLINE_DAYS,
    ) -> None:
        self.catalog, self.period, self.shares = catalog, period, dict(shares)
        self.calendar: WorkingCalendar = catalog.calendar()
        self.deadline_days = deadline_days
        self.rng = random.Random(seed + 3)
        self.seed = seed
        self.days = [
            period.start + timedelta(days=i)
            for i in range((period.end - period.start).days + 1)
            if self.calendar.is_working_day(period.start + timedelta(days=i))
        ]
        if not self.days:
            raise ValueError(f"period {period.label} has no working day")

    def items(self, count: int) -> list[SimulatedFeedback]:
        outcomes = [o for o, n in apportion(count, self.shares).items() for _ in range(n)]
        self.rng.shuffle(outcomes)
        return [self.one(i + 1, outcome) for i, outcome in enumerate(outcomes)]

    def one(self, number: int, outcome: FeedbackOutcome) -> SimulatedFeedback:
        rng, cal = self.rng, self.calendar
        # Items handled by the end were received early enough to be handled inside the period.
        # Items in progress at the end were received within its last deadline, so not overdue then.
        room = self.deadline_days + 2
        last, early = self.days[-self.deadline_days :], self.days[:-room] or self.days
        day = rng.choice(last if outcome is FeedbackOutcome.IN_PROGRESS else early)
        # An agency that still exists when the item is handled (not one abolished meanwhile).
        handled_by = self.days[min(self.days.index(day) + room, len(self.days) - 1)]
        agency = self._agency(day, handled_by)
        code = f"PAKN-S{self.seed}-{day:%Y%m%d}-{number:05d}"
        item = SimulatedFeedback(code, agency.code, outcome)
        received = self._moment(day)
        self._add(item, FeedbackEventType.RECEIVED, received, {"subject": rng.choice(SUBJECTS)})
        if outcome is FeedbackOutcome.WITHDRAWN:
            at = cal.add_working_minutes(received, rng.randint(30, 3 * WORK_MINUTES_PER_DAY))
            self._add(item, FeedbackEventType.WITHDRAWN, at, {"note": "Công dân rút phản ánh"})
            return item
        assigned = cal.add_working_minutes(received, rng.randint(10, 240))
        self._add(item, FeedbackEventType.ASSIGNED, assigned, {"handler": rng.choice(HANDLERS)})
        if outcome is FeedbackOutcome.IN_PROGRESS:
            return item
        budget = self.deadline_days * cal.minutes_per_day
        answered = cal.add_working_minutes(received, rng.randint(241, max(242, budget - 1)))
        self._add(item, FeedbackEventType.ANSWERED, answered, {"note": "Đã trả lời công dân"})
        if outcome is FeedbackOutcome.PUBLISHED:
            published = cal.add_working_minutes(answered, rng.randint(10, WORK_MINUTES_PER_DAY))
            self._add(item, FeedbackEventType.PUBLISHED, published, {})
        return item

    def _agency(self, day: date, until: date) -> Agency:
        """An agency valid from `day` to `until` (else one valid on `day`), level by level."""
        valid = [a for a in self.catalog.agencies.values() if a.is_valid_on(day) and a.is_valid_on(until)]
        valid = valid or [a for a in self.catalog.agencies.values() if a.is_valid_on(day)]
        levels = {lvl: [a for a in valid if a.level is lvl] for lvl in LEVEL_WEIGHTS}
        choices = [lvl for lvl in LEVEL_WEIGHTS if levels[lvl]]
        level = self.rng.choices(choices, [LEVEL_WEIGHTS[lvl] for lvl in choices])[0]
        return self.rng.choice(levels[level])

    def _moment(self, day: date) -> datetime:
        opening = self.calendar.next_working_moment(datetime.combine(day, datetime.min.time(), tzinfo=VN_TZ))
        return self.calendar.add_working_minutes(opening, self.rng.randint(0, WORK_MINUTES_PER_DAY - 1))

    def _add(
        self, item: SimulatedFeedback, kind: FeedbackEventType, at: datetime, data: dict[str, Any]
    ) -> None:
        item.events.append(
            {
                "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                "type": kind.value,
                "feedback_code": item.code,
                "agency_code": item.agency,
                "occurred_at": at.astimezone(VN_TZ).isoformat(),
                "data": data,
            }
        )


def feedback_happened_by(items: Iterable[SimulatedFeedback], now: datetime) -> list[SimulatedFeedback]:
    """The items as they stand at `now`: later events left out, items not received yet dropped."""
    out = []
    for item in items:
        events = [e for e in item.events if datetime.fromisoformat(e["occurred_at"]) <= now]
        if events:
            out.append(SimulatedFeedback(item.code, item.agency, item.outcome, events))
    return out


def domain_feedback_event(event: Mapping[str, Any], seq: int = 0) -> FeedbackEvent:
    """The domain event of a generated JSON feedback event (what intake makes of it)."""
    data = event.get("data", {})
    return FeedbackEvent(
        event_id=event["event_id"],
        type=FeedbackEventType(event["type"]),
        feedback_code=event["feedback_code"],
        agency_code=event["agency_code"],
        occurred_at=datetime.fromisoformat(event["occurred_at"]),
        subject=data.get("subject"),
        handler=data.get("handler"),
        note=data.get("note"),
        seq=seq,
    )


def folded(item: SimulatedFeedback, calendar: WorkingCalendar, deadline_days: int) -> FeedbackState:
    return fold_feedback(
        (domain_feedback_event(e, i) for i, e in enumerate(item.events)), calendar, deadline_days
    )


def expected_feedback(
    items: Iterable[SimulatedFeedback],
    calendar: WorkingCalendar,
    period: Period,
    now: datetime,
    deadline_days: int = DEFAULT_DEADLINE_DAYS,
) -> dict[str, dict[str, int]]:
    """Each agency's figures of the feedback section from the generated items, as the section gives
    them: items received in the period, as they stood at its end (or at `now`, if it has not ended)."""
    start, end = period.start_instant, min(period.end_instant, now)
    by_agency: dict[str, list[FeedbackState]] = {}
    for item in items:
        by_agency.setdefault(item.agency, []).append(folded(item, calendar, deadline_days))
    figures = {agency: feedback_figures(states, start, end) for agency, states in by_agency.items()}
    return {agency: row for agency, row in figures.items() if row["received"]}


def feedback_total(rows: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total = dict.fromkeys(SUMMARY_FIGURES, 0)
    for row in rows:
        for name in SUMMARY_FIGURES:
            total[name] += row[name]
    return total


def feedback_differences(
    expected: Mapping[str, Mapping[str, int]],
    section: Mapping[str, Any],
    baseline: Mapping[str, Any] | None = None,
) -> list[str]:
    """Like `expect.differences`, for the feedback section: each agency's figures must have grown since
    `baseline` (the section read before sending; None: an empty system) by exactly the generated ones,
    and the other agencies' not at all."""
    now = {row["agency"]: row for row in section.get("rows", [])}
    before = {row["agency"]: row for row in (baseline or {}).get("rows", [])}
    out = []
    for agency in sorted(set(expected) | set(now) | set(before)):
        want, was, got = expected.get(agency, {}), before.get(agency, {}), now.get(agency, {})
        columns = [
            f"{name} expected +{want.get(name, 0)}, report +{got.get(name, 0) - was.get(name, 0)} "
            f"({was.get(name, 0)} before, {got.get(name, 0)} now)"
            for name in SUMMARY_FIGURES
            if got.get(name, 0) - was.get(name, 0) != want.get(name, 0)
        ]
        if columns:
            out.append(f"{agency}: " + "; ".join(columns))
    return out
