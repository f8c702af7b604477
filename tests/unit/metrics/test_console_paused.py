"""The console's shortcut for a dossier within its pauses (`open_dossiers.steady_at`): wherever it
says "in time, paused, not due soon" without running the calendar, the domain says the same, on
random histories (pauses of every kind, restarting and extending policies, deadlines given by the
counter or the catalog, odd orders of events) at instants all around their pauses."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier_contracts.snapshot_codec import dossier_to_snapshot
from dossier_core.calendar import VN_TZ
from dossier_core.codes import Channel, EventType
from dossier_core.dossier import Dossier
from dossier_core.event_data import DATA_CLASSES, DossierReceived
from dossier_core.events import DossierEvent
from dossier_core.lifecycle import fold
from dossier_core.pauses import SupplementPolicy
from dossier_core.timeliness import PendingState
from dossier_metrics.console.open_dossiers import PreparedCache, judge, judge_prepared, prepare, steady_at
from tests.histories import CATALOG, histories

CALENDAR = CATALOG.calendar()


def _instants(dossier: Dossier, offsets: list[int]) -> list[datetime]:
    """Instants at, just before and after, and some minutes around each pause's start and end."""
    marks = [p.started_at for p in dossier.pauses] + [p.ended_at for p in dossier.pauses if p.ended_at]
    out = []
    for mark in marks:
        out += [mark, mark - timedelta(microseconds=1), mark + timedelta(microseconds=1)]
        out += [mark + timedelta(minutes=m) for m in offsets]
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(histories().filter(bool), st.lists(st.integers(-3000, 30000), min_size=1, max_size=12))
def test_a_steady_pause_is_what_the_domain_judges(events: list[DossierEvent], offsets: list[int]) -> None:
    dossier = fold(events, CATALOG)
    if not dossier.pauses:
        return
    at = events[-1].occurred_at
    payload = dossier_to_snapshot(
        dossier, version=1, changed_at=at, field="", calendar=CALENDAR
    ).SerializeToString()
    prepared = prepare(payload, CALENDAR)
    for now in _instants(dossier, offsets):
        if prepared.dossier.pending_state(now, CALENDAR) is None:
            continue  # not open at `now`: never read as open
        exact = judge(payload, now, CALENDAR)
        assert judge_prepared(prepared, now, CALENDAR) == exact
        if steady_at(prepared, now):
            assert exact.state is PendingState.IN_TIME and exact.paused, (now, dossier.pauses)


def test_the_shortcut_is_taken_for_an_extending_pause_begun_in_time() -> None:
    """Not a shortcut that never applies: a supplement pause begun well before the deadline."""
    code, agency = "000.00.12.H49-0001", "000.00.12.H49"
    received = datetime(2026, 3, 2, 9, tzinfo=VN_TZ)  # a Monday
    procedure = next(
        code
        for code, p in sorted(CATALOG.procedures.items())
        if p.supplement_policy is SupplementPolicy.EXTEND
    )
    data = DossierReceived(
        procedure_code=procedure, channel=Channel.DIRECT, due_at=received + timedelta(days=20)
    )
    paused = received + timedelta(hours=2)
    requested = DATA_CLASSES[EventType.SUPPLEMENT_REQUESTED]()
    events = [
        DossierEvent(f"{code}-0", EventType.RECEIVED, code, agency, received, data, seq=0),
        DossierEvent(f"{code}-1", EventType.SUPPLEMENT_REQUESTED, code, agency, paused, requested, seq=1),
    ]
    dossier = fold(events, CATALOG)
    payload = dossier_to_snapshot(dossier, version=1, changed_at=paused, field="", calendar=CALENDAR)
    prepared = prepare(payload.SerializeToString(), CALENDAR)
    assert steady_at(prepared, paused + timedelta(days=3))
    assert not steady_at(prepared, paused - timedelta(minutes=1))


class _Snapshots:
    """The one query `PreparedCache.fetch` makes, over stored (code, version, payload) rows."""

    def __init__(self, rows: list[tuple[str, int, bytes]]) -> None:
        self.rows = rows
        self.asked: list[list[str]] = []

    async def fetch(self, _query: str, codes: list[str]) -> list[tuple[str, int, bytes]]:
        self.asked.append(list(codes))
        return [row for row in self.rows if row[0] in codes]


async def test_the_cache_reads_only_new_versions_and_starts_again_past_its_limit() -> None:
    received = datetime(2026, 3, 2, 9, tzinfo=VN_TZ)
    rows = []
    for n in range(3):
        code = f"000.00.12.H49-{n:04d}"
        data = DossierReceived(procedure_code=sorted(CATALOG.procedures)[0], channel=Channel.DIRECT)
        event = DossierEvent(f"{code}-0", EventType.RECEIVED, code, "000.00.12.H49", received, data, seq=0)
        snapshot = dossier_to_snapshot(
            fold([event], CATALOG), version=1, changed_at=received, field="", calendar=CALENDAR
        )
        rows.append((code, 1, snapshot.SerializeToString()))
    driver = _Snapshots(rows)
    cache = PreparedCache(limit=2)
    await cache.fetch(driver, [(rows[0][0], 1), (rows[1][0], 1)], CALENDAR)
    await cache.fetch(driver, [(rows[0][0], 1)], CALENDAR)  # known: nothing read
    assert driver.asked == [[rows[0][0], rows[1][0]]]
    await cache.fetch(driver, [(rows[2][0], 1)], CALENDAR)  # past the limit: starts again
    assert cache.get(rows[2][0], 1) is not None and cache.get(rows[0][0], 1) is None
    await cache.fetch(driver, [(rows[0][0], 2)], CALENDAR)  # a newer version is read again
    assert cache.get(rows[0][0], 2) is None  # the stored snapshot is still version 1
