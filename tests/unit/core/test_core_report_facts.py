"""A dossier's report facts give its exact contribution to any period, or say that only the dossier
can (open at the period's end within its pauses)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dossier_core.calendar import VN_TZ
from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_core.codes import Channel
from dossier_core.dossier import Dossier, Pause, PauseKind
from dossier_core.events import DossierEvent
from dossier_core.lifecycle import fold
from dossier_core.periods import Period, parse_period
from dossier_core.report import contribution
from dossier_core.report_facts import ReportFacts, contribution_from_facts, facts_of, judged_without_dossier
from tests.histories import histories

CATALOG = load_catalog(default_catalog_dir())
CAL = CATALOG.calendar()

days = st.dates(min_value=date(2019, 1, 1), max_value=date(2026, 12, 31))
periods = st.one_of(
    st.builds(lambda start, n: Period.between(start, start + timedelta(days=n)), days, st.integers(0, 120)),
    st.builds(
        lambda day, kind: parse_period(
            {
                "month": f"{day:%Y-%m}",
                "quarter": f"{day.year}-Q{(day.month - 1) // 3 + 1}",
                "half": f"{day.year}-H1",
            }[kind]
        ),
        days,
        st.sampled_from(["month", "quarter", "half"]),
    ),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories().filter(bool), st.lists(periods, min_size=1, max_size=6))
def test_facts_give_the_domains_row_wherever_they_answer(
    events: list[DossierEvent], asked: list[Period]
) -> None:
    dossier = fold(events, CATALOG)
    facts = facts_of(dossier, CAL)
    # and the month of each event, so that pauses across a statutory end are common
    for event in events:
        day = event.occurred_at.astimezone(VN_TZ).date()
        asked.append(parse_period(f"{day:%Y-%m}" if day.day <= 14 else f"{day + timedelta(days=20):%Y-%m}"))
    for period in asked:
        row = contribution_from_facts(facts, period)
        exact = contribution(dossier, period, CAL)
        if row is None:  # open at the end, within its pauses
            assert dossier.is_received and (
                dossier.ended_at is None or dossier.ended_at >= period.end_instant
            )
            assert not judged_without_dossier(facts, period.end_instant)
            assert period.end_instant not in facts.judged_at
        else:
            assert row == exact


def vn(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


def _paused(started: str, ended: str | None) -> Dossier:
    return Dossier(
        dossier_code="000.00.12.H49-210401-0001",
        agency_code="000.00.12.H49",
        channel=Channel.ONLINE,
        received_at=vn("2021-04-01 08:00"),
        legal_due_at=vn("2021-06-10 17:00"),
        pauses=(Pause(PauseKind.SUPPLEMENT, vn(started), vn(ended) if ended else None),),
    )


@example("2021-06-14 09:00", "2021-06-20 09:00")
@given(
    st.sampled_from(["2021-06-14 09:00", "2021-06-15 00:00", "2021-06-20 09:00"]),
    st.none() | st.just("2021-06-25 09:00"),
)
def test_a_pause_across_an_end_is_judged_when_stored_else_by_the_dossier(
    started: str, ended: str | None
) -> None:
    q2 = parse_period("2021-Q2")  # ends at 15 June 00:00, a statutory end: judged when the facts are made
    explicit = Period.between(date(2021, 4, 1), date(2021, 6, 16))  # ends at 17 June 00:00
    dossier = _paused(started, ended)
    facts = facts_of(dossier, CAL)
    assert contribution_from_facts(facts, q2) == contribution(dossier, q2, CAL)
    row = contribution_from_facts(facts, explicit)
    if vn(started) <= explicit.end_instant:
        assert row is None  # paused at that end: only the domain judges it
        assert (q2.end_instant in facts.judged_at) == (vn(started) <= q2.end_instant)
    else:
        assert row == contribution(dossier, explicit, CAL)
        assert row is not None and row.overdue == 1  # judged on the legal deadline (10 June)


def test_settled_pauses_use_the_deadline_with_every_pause_applied() -> None:
    dossier = _paused("2021-06-01 09:00", "2021-06-08 09:00")
    facts = facts_of(dossier, CAL)
    assert facts.settled_due_at == dossier.effective_due(vn("2021-12-01 00:00"), CAL)
    assert facts.settled_due_at is not None and facts.settled_due_at > vn("2021-06-10 17:00")
    assert contribution_from_facts(facts, parse_period("2021-Q2")) == contribution(
        dossier, parse_period("2021-Q2"), CAL
    )


def test_a_dossier_never_received_counts_nowhere() -> None:
    facts = facts_of(Dossier(dossier_code="x", agency_code="a"), CAL)
    assert facts == ReportFacts(received_at=None)
    row = contribution_from_facts(facts, parse_period("2021"))
    assert row is not None and row.received_total == 0
