"""The report engine (SQL over report facts, the domain only for dossiers paused across a period's
end) against the exact per-dossier domain path, on random histories through the real write path:

- live reports: every grain of every random period equals the domain's rows of the newest versions,
  and the whole report (any grouping) equals `build_exact`;
- `as_of`: the rows known at an instant equal the domain's rows of the dossiers folded from the
  events recorded by then (late and duplicated events included), whatever the batching."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier_contracts.snapshot_codec import dossier_to_snapshot
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.codes import PAYMENT_CHANNELS
from dossier_core.event_data import DossierReceived, FeePaid
from dossier_core.events import DossierEvent
from dossier_core.indicators import IndicatorCounts, indicator_contribution
from dossier_core.lifecycle import fold
from dossier_core.periods import Period, parse_period
from dossier_core.report import ReportRow, contribution
from dossier_core.report_facts import facts_of
from dossier_metrics.db import create_engine
from dossier_metrics.index import LiveIndex
from dossier_metrics.migrations import upgrade
from dossier_metrics.projector import Consumed, Projector
from dossier_metrics.report_store import GrainPart, GrainRows, ReportStore, add_row, part_of
from dossier_metrics.reports import ReportBuilder
from tests.histories import CATALOG, histories

pytestmark = pytest.mark.integration

AGENCIES = ["000.00.31.H49", "000.01.31.H49", "000.02.31.H49", "000.00.12.H49"]
FIELD = "Hộ tịch"
TOPIC = "dossier.status.v1.engine-test"
RECORDED_FROM = datetime(2027, 1, 1, 8, tzinfo=VN_TZ)  # intake times, after every occurred_at
TABLES = "dossier_snapshot, agency_counter, consumed_offset, report_fact, report_fact_history"


@pytest.fixture
async def store(database_url: str, db_schema: str) -> AsyncIterator[ReportStore]:
    engine = create_engine(database_url, db_schema)
    await upgrade(engine, db_schema)
    yield ReportStore(engine, CATALOG.calendar(), writer=engine)
    await engine.dispose()


def _periods_around(rng: random.Random, dossiers: list[list[DossierEvent]]) -> list[Period]:
    """Periods where the dossiers live: around a random event's day (so events fall inside, before
    and after them), and the named month, quarter and year holding it."""
    asked = []
    for _ in range(3):
        day = rng.choice([e for events in dossiers for e in events]).occurred_at.astimezone(VN_TZ).date()
        start = day - timedelta(days=rng.randint(0, 20))
        asked.append(Period.between(start, day + timedelta(days=rng.randint(0, 20))))
    quarter = (day.month - 1) // 3 + 1
    named = rng.choice(
        [f"{day.year}-{day.month:02d}", f"{day.year}-Q{quarter}", f"{day.year}", f"{day.year}-H1"]
    )
    return [*asked, parse_period(named)]


def _own(events: list[DossierEvent], n: int, agency: str) -> list[DossierEvent]:
    """The history as dossier number `n` of `agency` (histories draw their codes independently)."""
    code = f"{agency}-{n:04d}"
    return [replace(e, event_id=f"{code}-{e.seq}", dossier_code=code, agency_code=agency) for e in events]


def _flagged(events: list[DossierEvent], rng: random.Random) -> list[DossierEvent]:
    """The history with Decision 766/QĐ-TTg's fields drawn: a digitised receipt, fees paid through a
    channel (or none named)."""
    out = []
    for e in events:
        if isinstance(e.data, DossierReceived):
            e = replace(e, data=replace(e.data, digitised=rng.choice([True, False, None])))
        elif isinstance(e.data, FeePaid):
            e = replace(e, data=FeePaid(payment_channel=rng.choice([*PAYMENT_CHANNELS, None])))
        out.append(e)
    return out


def _indicators(dossiers: dict[str, Any], period: Period) -> dict[str, IndicatorCounts]:
    rows: dict[str, IndicatorCounts] = {}
    for dossier in dossiers.values():
        facts = facts_of(dossier, CATALOG.calendar())
        if facts.received_at is None or facts.received_at >= period.end_instant:
            continue
        if facts.ended_at is not None and facts.ended_at < period.start_instant:
            continue  # the store's window: what the period's report reads
        counts = indicator_contribution(facts, period)
        rows[dossier.agency_code] = rows.get(dossier.agency_code, IndicatorCounts()) + counts
    return rows


def _arrivals(rng: random.Random, dossiers: list[list[DossierEvent]]) -> list[DossierEvent]:
    """Every event in a shuffled intake order, some sent twice."""
    sent = [e for events in dossiers for e in events]
    sent += [e for e in sent if rng.random() < 0.1]
    rng.shuffle(sent)
    return sent


def _versions(arrived: list[DossierEvent]) -> tuple[list[bytes], list[tuple[datetime, dict[str, Any]]]]:
    """The snapshots processing would publish (one version per arrival that changes the dossier's
    events) with their intake instants, and each arrival's instant with the dossiers known then."""
    calendar = CATALOG.calendar()
    known: dict[str, dict[str, DossierEvent]] = {}
    version: dict[str, int] = {}
    messages: list[bytes] = []
    timeline: list[tuple[datetime, dict[str, Any]]] = []
    for k, event in enumerate(arrived):
        at = RECORDED_FROM + timedelta(minutes=k)
        events = known.setdefault(event.dossier_code, {})
        if event.event_id not in events:
            events[event.event_id] = event
            dossier = fold(list(events.values()), CATALOG)
            version[event.dossier_code] = version.get(event.dossier_code, 0) + 1
            msg = dossier_to_snapshot(
                dossier,
                version=version[event.dossier_code],
                changed_at=at,
                field=FIELD,
                calendar=calendar,
                last_event_id=event.event_id,
            )
            msg.accepted_at.FromDatetime(at)
            messages.append(msg.SerializeToString())
        timeline.append((at, {code: fold(list(evs.values()), CATALOG) for code, evs in known.items()}))
    return messages, timeline


def _exact(dossiers: dict[str, Any], period: Period) -> GrainRows:
    rows: GrainRows = {}
    for dossier in dossiers.values():
        row = contribution(dossier, period, CATALOG.calendar())
        if row != ReportRow():
            add_row(rows, (dossier.agency_code, dossier.procedure_code or "", FIELD), row)
    return rows


def _collapsed(rows: GrainRows, by: GrainPart) -> GrainRows:
    """`rows` added up by the part of their grain `by` names."""
    out: GrainRows = {}
    for grain, row in rows.items():
        add_row(out, part_of(grain, by), row)
    return out


def _without_views(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ("view", "as_of", "filing", "revisions")}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(histories().filter(bool), min_size=1, max_size=10),
    st.randoms(use_true_random=False),
    st.integers(1, 40),
)
async def test_the_engine_equals_the_domain_live_and_as_of(
    store: ReportStore,
    catalog: Catalog,
    drawn: list[list[DossierEvent]],
    rng: random.Random,
    batch: int,
) -> None:
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql(f"TRUNCATE {TABLES}")
    dossiers = [_flagged(_own(events, n, rng.choice(AGENCIES)), rng) for n, events in enumerate(drawn)]
    messages, timeline = _versions(_arrivals(rng, dossiers))
    calendar = CATALOG.calendar()
    projector = Projector(store, LiveIndex(calendar, lambda: RECORDED_FROM), calendar)
    for first in range(0, len(messages), batch):
        chunk = [Consumed(first + k, raw) for k, raw in enumerate(messages[first : first + batch])]
        await projector.apply(TOPIC, 0, chunk)

    final = timeline[-1][1]
    asked = _periods_around(rng, dossiers)
    builder = ReportBuilder(catalog, store)
    for period in asked:
        assert await store.indicator_rows(period, None) == _indicators(final, period)
        assert await store.grain_rows(period, None) == _exact(final, period)
        assert await store.grain_rows(period, [AGENCIES[1]]) == {
            g: r for g, r in _exact(final, period).items() if g[0] == AGENCIES[1]
        }
        at, known = timeline[rng.randrange(len(timeline))]
        assert await store.grain_rows(period, None, at) == _exact(known, period)
        assert await store.grain_rows(period, None, RECORDED_FROM - timedelta(seconds=1)) == {}
        for by in ("agency", "procedure", "field"):
            assert await store.grain_rows(period, None, None, by) == _collapsed(_exact(final, period), by)
            assert await store.grain_rows(period, None, at, by) == _collapsed(_exact(known, period), by)
    group_by = rng.choice(["agency", "level", "procedure", "field"])
    fast = await builder.build(asked[0], None, group_by)  # type: ignore[arg-type]
    exact = await builder.build_exact(asked[0], None, group_by)  # type: ignore[arg-type]
    assert _without_views(fast) == _without_views(exact)
    assert fast["view"] == "live" and fast["revisions"] is None
