"""The simulator's citizen feedback (PAKN): the Quảng Ninh-like default (2 items a quarter, 1 handled and
published, 1 in progress), the mix apportioned exactly at scale, every event one intake admits, and
--expect's arithmetic on the feedback section (growth over a baseline, agency by agency)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dossier_core.calendar import VN_TZ
from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_core.feedback import DEFAULT_DEADLINE_DAYS, FEEDBACK_CODE, SUMMARY_FIGURES, FeedbackStage
from dossier_core.periods import Period, parse_period
from dossier_intake.feedback import admit_feedback
from dossier_sim.__main__ import choose_period, feedback_plan, parse_args, section_params
from dossier_sim.feedback import (
    DEFAULT_FEEDBACK_MIX,
    FeedbackGenerator,
    FeedbackOutcome,
    SimulatedFeedback,
    apportion,
    default_feedback_count,
    expected_feedback,
    feedback_differences,
    feedback_happened_by,
    feedback_total,
    folded,
    parse_feedback_mix,
)

CATALOG = load_catalog(default_catalog_dir())
CALENDAR = CATALOG.calendar()
Q2 = parse_period("2021-Q2")
AFTER = datetime(2026, 1, 1, tzinfo=VN_TZ)  # long after the quarter: the section as at its end
MIX = parse_feedback_mix(DEFAULT_FEEDBACK_MIX)


def generate(count: int, seed: int = 7, period: Period = Q2, mix: str = DEFAULT_FEEDBACK_MIX) -> list[Any]:
    return FeedbackGenerator(CATALOG, period, parse_feedback_mix(mix), seed=seed).items(count)


def section(rows: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {"rows": [{"agency": a, "name": "", **r} for a, r in sorted(rows.items())]}


def added(a: dict[str, dict[str, int]], b: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    zero = dict.fromkeys(SUMMARY_FIGURES, 0)
    return {k: feedback_total([a.get(k, zero), b.get(k, zero)]) for k in a.keys() | b.keys()}


def test_the_default_count_is_two_per_quang_ninh_quarter_and_at_least_two() -> None:
    assert default_feedback_count(0) == default_feedback_count(1000) == 2
    assert default_feedback_count(270_990) == 2
    assert default_feedback_count(10 * 270_990) == 20


@pytest.mark.parametrize("seed", [1, 7, 11, 2021])
def test_the_default_quarter_is_the_quang_ninh_report(seed: int) -> None:
    items = generate(default_feedback_count(270_990), seed=seed)
    whole = feedback_total(expected_feedback(items, CALENDAR, Q2, AFTER).values())
    # 2 received in the quarter, 1 handled and published, 1 in progress (none late or withdrawn)
    assert whole == {
        "received": 2,
        "in_progress": 1,
        "answered": 1,
        "published": 1,
        "withdrawn": 0,
        "overdue": 0,
        "answered_late": 0,
    }


@given(
    st.integers(min_value=0, max_value=5000),
    st.sampled_from([DEFAULT_FEEDBACK_MIX, "published=1,answered=2"]),
)
def test_apportioned_counts_add_up_and_keep_to_their_shares(count: int, mix: str) -> None:
    shares = parse_feedback_mix(mix)
    counts = apportion(count, shares)
    assert sum(counts.values()) == count
    for outcome, share in shares.items():
        assert int(count * share) <= counts[outcome] <= int(count * share) + 1


def test_the_mix_at_scale_is_what_the_section_counts() -> None:
    items = generate(200)
    by_outcome = Counter(item.outcome for item in items)
    assert by_outcome == {o: round(200 * s) for o, s in MIX.items()}
    whole = feedback_total(expected_feedback(items, CALENDAR, Q2, AFTER).values())
    assert whole["received"] == 200
    assert whole["published"] == by_outcome[FeedbackOutcome.PUBLISHED]
    assert whole["answered"] == by_outcome[FeedbackOutcome.PUBLISHED] + by_outcome[FeedbackOutcome.ANSWERED]
    assert whole["in_progress"] == by_outcome[FeedbackOutcome.IN_PROGRESS]
    assert whole["withdrawn"] == by_outcome[FeedbackOutcome.WITHDRAWN]
    # handled within the deadline; the ones open at the end were received within its last deadline
    assert whole["overdue"] == whole["answered_late"] == 0
    # ... but they are overdue long after it (what the live series say today)
    states = [folded(item, CALENDAR, DEFAULT_DEADLINE_DAYS) for item in items]
    assert sum(s.overdue_at(AFTER) for s in states) == whole["in_progress"]
    assert Counter(s.stage for s in states)[FeedbackStage.ASSIGNED] == whole["in_progress"]


def test_same_seed_same_items_other_seeds_share_no_code() -> None:
    assert [i.events for i in generate(30)] == [i.events for i in generate(30)]
    first, second = {i.code for i in generate(300, seed=1)}, {i.code for i in generate(300, seed=2)}
    assert len(first) == len(second) == 300 and not first & second


def test_every_event_is_one_intake_admits_across_the_restructuring() -> None:
    period = Period.between(date(2025, 6, 1), date(2025, 7, 31))
    items = generate(300, seed=3, period=period) + generate(50)
    state = SimpleNamespace(catalog=CATALOG, settings=SimpleNamespace(agency_validity_grace_days=0))
    agencies = {CATALOG.agencies[item.agency] for item in items}
    assert any(a.valid_to for a in agencies) and any(a.valid_from for a in agencies)
    ids = []
    for item in items:
        assert FEEDBACK_CODE.fullmatch(item.code)
        for event in item.events:
            admitted = admit_feedback(event, state, lambda _agency: True, datetime(2026, 1, 1, tzinfo=UTC))
            assert admitted.feedback_code == item.code and admitted.agency_code == item.agency
            ids.append(event["event_id"])
    assert len(ids) == len(set(ids))


def test_the_current_period_is_cut_at_now() -> None:
    items = generate(100)
    now = datetime(2021, 5, 20, 12, 0, tzinfo=VN_TZ)
    cut = feedback_happened_by(items, now)
    assert 0 < len(cut) < len(items)
    assert all(datetime.fromisoformat(e["occurred_at"]) <= now for i in cut for e in i.events)
    kept = {i.code: i for i in items}
    assert all(i.events == kept[i.code].events[: len(i.events)] for i in cut)
    # the section while the quarter runs counts what has happened by now
    assert feedback_total(expected_feedback(cut, CALENDAR, Q2, now).values())["received"] == len(cut)


def test_the_section_must_grow_by_exactly_what_was_generated() -> None:
    before = expected_feedback(generate(40, seed=5), CALENDAR, Q2, AFTER)  # already on the system
    mine = expected_feedback(generate(30, seed=6), CALENDAR, Q2, AFTER)
    after = added(before, mine)
    assert feedback_differences(mine, section(after), section(before)) == []
    # against an empty baseline the items already there show as differences
    assert feedback_differences(mine, section(after)) != []
    # a section that did not grow differs in every agency sent to
    assert len(feedback_differences(mine, section(before), section(before))) == len(mine)
    # one item missing: the agency and the figure are named, with the counts
    agency = sorted(mine)[0]
    short = {**after, agency: {**after[agency], "received": after[agency]["received"] - 1}}
    (line,) = feedback_differences(mine, section(short), section(before))
    want, was = mine[agency]["received"], before.get(agency, {}).get("received", 0)
    assert (
        line
        == f"{agency}: received expected +{want}, report +{want - 1} ({was} before, {was + want - 1} now)"
    )
    # another agency's figures changing while waiting is a difference too
    other = next(a for a in CATALOG.agencies if a not in after)
    grown = {**after, other: {**dict.fromkeys(SUMMARY_FIGURES, 0), "received": 1}}
    (line,) = feedback_differences(mine, section(grown), section(before))
    assert line.startswith(f"{other}: received expected +0, report +1")


def test_the_plan_sends_every_event_shuffled_and_doubled_as_asked() -> None:
    items: list[SimulatedFeedback] = generate(20)
    events = [e for i in items for e in i.events]
    assert feedback_plan(items, duplicate=False, shuffle=False, seed=1) == events
    doubled = feedback_plan(items, duplicate=True, shuffle=True, seed=1)
    assert Counter(e["event_id"] for e in doubled) == Counter(e["event_id"] for e in events * 2)


def test_the_feedback_mix_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        parse_feedback_mix("published=1,lost=2")
    with pytest.raises(ValueError):
        parse_feedback_mix("published=0")
    with pytest.raises(ValueError):
        parse_feedback_mix("published=-1,answered=2")
    assert parse_feedback_mix("published=1,answered=3")[FeedbackOutcome.ANSWERED] == 0.75


def test_expect_reads_the_feedback_section_for_the_days_asked() -> None:
    """--expect reads the feedback section with the named period, or with --from/--to for a range, as
    it reads the indicator section (it used to skip feedback for ranges)."""
    named = parse_args(["--period", "2021-Q2"])
    assert section_params(named, choose_period(named), "feedback") == {"period": "2021-Q2"}
    ranged = parse_args(["--from", "2021-04-01", "--to", "2021-05-31"])
    days = choose_period(ranged)
    assert days == Period.between(date(2021, 4, 1), date(2021, 5, 31))
    assert section_params(ranged, days, "feedback") == {"from": "2021-04-01", "to": "2021-05-31"}
    assert section_params(ranged, days, "feedback") == section_params(ranged, days, "indicators")
