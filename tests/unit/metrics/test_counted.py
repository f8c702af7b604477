"""`counters.counted` skips the domain's pending judgement for an open dossier; whatever the dossier,
it must equal the counter columns of its report row over its lifetime (`dossier_core.report`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import DeadlineUnit, SupplementPolicy
from dossier_core.codes import PAYMENT_CHANNELS, Channel, StatusCode
from dossier_core.deadlines import DeadlineRule
from dossier_core.dossier import Dossier, EndKind, Pause, PauseKind
from dossier_core.periods import Period
from dossier_core.report import contribution
from dossier_metrics.counters import CHANNELS, TIMELINESS, ZERO, Counts, counted

BASE = datetime(2021, 3, 1, 8, tzinfo=VN_TZ)


def lifetime(dossier: Dossier) -> Period | None:
    """The days from the dossier's first to its last recorded instant (Vietnam dates): a period in
    which it is received, ends (if it has) and has every reschedule, so its contribution to it is its
    contribution over all of time, and "pending" is judged at an instant the dossier has seen rather
    than far in the future."""
    if dossier.received_at is None:
        return None
    instants = [dossier.received_at, *dossier.reschedules]
    if dossier.ended_at is not None:
        instants.append(dossier.ended_at)
    days = [t.astimezone(VN_TZ).date() for t in instants]
    return Period.between(min(days), max(days))


def counted_by_the_row(dossier: Dossier, calendar: WorkingCalendar) -> Counts:
    """The definition: the counter columns of the dossier's row over its lifetime."""
    period = lifetime(dossier)
    if period is None or not dossier.is_received:
        return ZERO
    row = contribution(dossier, period, calendar).to_dict()
    return (
        *(row["received"][c] for c in CHANNELS),
        *(row["resolved"][t] for t in TIMELINESS),
        row["withdrawn"],
        row["refused"],
        row["rescheduled"],
        row["on_site"],
        # Decision 766/QĐ-TTg: the receipt's digitised flag, a payment naming its channel, online
        int(dossier.digitised),
        int(dossier.payment_channel is not None),
        int(dossier.payment_channel == "online"),
    )


instants = st.integers(min_value=-60 * 24 * 20, max_value=60 * 24 * 90).map(
    lambda minutes: BASE + timedelta(minutes=minutes)
)
pauses = st.builds(
    Pause,
    kind=st.sampled_from(PauseKind),
    started_at=instants,
    ended_at=st.none() | instants,
    policy=st.sampled_from(SupplementPolicy),
)
rules = st.none() | st.builds(
    DeadlineRule,
    st.sampled_from([DeadlineUnit.WORKING_DAYS, DeadlineUnit.WORKING_HOURS, DeadlineUnit.CALENDAR_DAYS]),
    st.integers(min_value=1, max_value=40),
)
dossiers = st.builds(
    Dossier,
    dossier_code=st.just("000.00.12.H49-210301-0001"),
    agency_code=st.just("000.00.12.H49"),
    channel=st.none() | st.sampled_from(Channel),
    status=st.sampled_from(StatusCode),
    received_at=st.none() | instants,
    rule=rules,
    legal_due_at=st.none() | instants,
    pauses=st.lists(pauses, max_size=3).map(tuple),
    finished_at=st.none() | instants,
    ended_at=st.none() | instants,
    end_kind=st.none() | st.sampled_from(EndKind),
    reschedules=st.lists(instants, max_size=3).map(tuple),
    on_site=st.booleans(),
    digitised=st.booleans(),
    payment_channel=st.none() | st.sampled_from(PAYMENT_CHANNELS),
)


@settings(max_examples=400, deadline=None)
@given(dossier=dossiers)
def test_counted_equals_the_lifetime_row_for_any_dossier(dossier: Dossier, calendar: WorkingCalendar) -> None:
    assert counted(dossier, calendar) == counted_by_the_row(dossier, calendar)


def test_an_open_rescheduled_dossier_counts_its_channel_and_each_reschedule(
    calendar: WorkingCalendar,
) -> None:
    dossier = Dossier(
        "000.00.12.H49-210301-0002",
        "000.00.12.H49",
        channel=Channel.POSTAL,
        received_at=BASE,
        reschedules=(BASE + timedelta(days=2), BASE + timedelta(days=9)),
    )
    assert counted(dossier, calendar) == (0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0)
    assert counted(dossier, calendar) == counted_by_the_row(dossier, calendar)
