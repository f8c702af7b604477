"""The console's per-agency figures per day (`console_agency_day`, migration 0007) and per statutory
month (`console_agency_month`, 0009) against a recompute from the dossiers, through every path that
writes report facts:

- the consumer's batches, on random histories arriving shuffled, some events twice and late (so a
  dossier is folded again and its facts replaced, its agency, channel, end or outcome changing), with
  a batch delivered again;
- facts deleted and derived again by the facts' backfill (`facts_backfill`);
- a schema migrated to 0007 after its facts were stored (the migration's own fill);
- the same messages replayed into a fresh schema, as `rebuild` does.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_contracts.snapshot_codec import dossier_to_snapshot
from dossier_core.calendar import VN_TZ
from dossier_core.events import DossierEvent
from dossier_core.lifecycle import fold
from dossier_core.report_facts import facts_of
from dossier_metrics.console.figures import statutory_month
from dossier_metrics.db import create_engine
from dossier_metrics.facts_backfill import backfill_facts
from dossier_metrics.index import LiveIndex
from dossier_metrics.migrations import upgrade
from dossier_metrics.projector import Consumed, Projector
from dossier_metrics.store import ProjectionStore
from tests.histories import CATALOG, histories

pytestmark = pytest.mark.integration

AGENCIES = ["000.00.31.H49", "000.01.31.H49", "000.00.12.H49"]
FIELD = "Hộ tịch"
TOPIC = "dossier.status.v1.rollup-test"
RECORDED_FROM = datetime(2027, 1, 1, 8, tzinfo=VN_TZ)
TABLES = "dossier_snapshot, agency_counter, consumed_offset, report_fact, report_fact_history"
CHANNELS = ("direct", "online", "postal")
OUTCOMES = ("early", "on_time", "late")
Rollup = dict[tuple[str, str], tuple[int, ...]]


@pytest.fixture
async def engine(database_url: str, db_schema: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, db_schema)
    await upgrade(engine, db_schema)
    yield engine
    await engine.dispose()


def _messages(rng: random.Random, drawn: list[list[DossierEvent]]) -> tuple[list[bytes], dict[str, Any]]:
    """Snapshots as processing publishes them for the events arriving shuffled, some twice (a version
    per arrival that changes a dossier), and each dossier's final state. A dossier's receiving agency
    is drawn per dossier and may be corrected by a later receipt event."""
    dossiers = []
    for n, events in enumerate(drawn):
        agency = rng.choice(AGENCIES)
        code = f"{agency}-{n:04d}"
        dossiers.append(
            [replace(e, event_id=f"{code}-{e.seq}", dossier_code=code, agency_code=agency) for e in events]
        )
    sent = [e for events in dossiers for e in events]
    sent += [e for e in sent if rng.random() < 0.1]
    rng.shuffle(sent)
    known: dict[str, dict[str, DossierEvent]] = {}
    version: dict[str, int] = {}
    messages = []
    for k, event in enumerate(sent):
        at = RECORDED_FROM + timedelta(minutes=k)
        seen = known.setdefault(event.dossier_code, {})
        if event.event_id in seen:
            continue
        seen[event.event_id] = event
        version[event.dossier_code] = version.get(event.dossier_code, 0) + 1
        msg = dossier_to_snapshot(
            fold(list(seen.values()), CATALOG),
            version=version[event.dossier_code],
            changed_at=at,
            field=FIELD,
            calendar=CATALOG.calendar(),
            last_event_id=event.event_id,
        )
        msg.accepted_at.FromDatetime(at)
        messages.append(msg.SerializeToString())
    return messages, {code: fold(list(evs.values()), CATALOG) for code, evs in known.items()}


def _add(rollup: dict[tuple[str, str], list[int]], agency: str, at: datetime, k: int) -> None:
    key = (agency, at.astimezone(VN_TZ).date().isoformat())
    rollup.setdefault(key, [0] * 6)[k] += 1


def expected(final: dict[str, Any]) -> Rollup:
    """Per agency and day (Vietnam time): received by channel, resolved early / on time / late, from
    the domain's report facts of the dossiers' final states."""
    rollup: dict[tuple[str, str], list[int]] = {}
    for dossier in final.values():
        facts = facts_of(dossier, CATALOG.calendar())
        if facts.received_at is None:
            continue
        _add(rollup, dossier.agency_code, facts.received_at, CHANNELS.index(facts.channel.value))
        outcome = facts.outcome or "on_time"
        if facts.ended_at is not None and outcome in OUTCOMES:
            _add(rollup, dossier.agency_code, facts.ended_at, 3 + OUTCOMES.index(outcome))
    return {key: tuple(counts) for key, counts in rollup.items()}


def by_month(days: Rollup) -> Rollup:
    """The day figures added up per agency and statutory month (keyed by its first day)."""
    months: dict[tuple[str, str], list[int]] = {}
    for (agency, day), counts in days.items():
        key = (agency, statutory_month(date.fromisoformat(day)).start.isoformat())
        total = months.setdefault(key, [0] * 6)
        for k, n in enumerate(counts):
            total[k] += n
    return {key: tuple(counts) for key, counts in months.items() if any(counts)}


async def stored(engine: AsyncEngine, table: str = "console_agency_day", key: str = "day") -> Rollup:
    columns = [f"received_{c}" for c in CHANNELS] + [f"resolved_{o}" for o in OUTCOMES]
    async with engine.connect() as conn:
        rows = await conn.exec_driver_sql(f"SELECT agency_code, {key}, {', '.join(columns)} FROM {table}")
        out: Rollup = {}
        row: Any
        for row in rows:
            counts = tuple(int(n) for n in row[2:])
            if any(counts):
                out[(row[0], row[1].isoformat())] = counts
        return out


async def check(engine: AsyncEngine, want: Rollup) -> None:
    assert await stored(engine) == want
    assert await stored(engine, "console_agency_month", "month") == by_month(want)


async def apply_all(engine: AsyncEngine, messages: list[bytes], batch: int, again: int | None = None) -> None:
    """Apply `messages` in batches through the projection; the batch at `again` is delivered twice."""
    calendar = CATALOG.calendar()
    projector = Projector(ProjectionStore(engine), LiveIndex(calendar, lambda: RECORDED_FROM), calendar)
    for number, first in enumerate(range(0, len(messages), batch)):
        chunk = [Consumed(first + k, raw) for k, raw in enumerate(messages[first : first + batch])]
        await projector.apply(TOPIC, 0, chunk)
        if number == again:
            await projector.apply(TOPIC, 0, chunk)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(histories().filter(bool), min_size=1, max_size=10),
    st.randoms(use_true_random=False),
    st.integers(1, 30),
)
async def test_the_rollup_follows_the_facts_through_batches_and_the_backfill(
    engine: AsyncEngine, drawn: list[list[DossierEvent]], rng: random.Random, batch: int
) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            f"TRUNCATE {TABLES}, report_fact_backfill, console_agency_day, console_agency_month"
        )
    messages, final = _messages(rng, drawn)
    again, chunk = rng.randrange(max(1, len(messages) // batch)), rng.randint(1, 5)
    await apply_all(engine, messages, batch, again)
    want = expected(final)
    await check(engine, want)

    # every fact deleted (the rollup empties), then derived again from the stored snapshots
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DELETE FROM report_fact")
    await check(engine, {})
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO report_fact_backfill SELECT dossier_code FROM dossier_snapshot"
        )
    await backfill_facts(engine, CATALOG.calendar(), chunk=chunk)
    await check(engine, want)


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(histories().filter(bool), min_size=5, max_size=25), st.randoms(use_true_random=False))
async def test_the_migration_fills_the_rollup_from_stored_facts_and_a_rebuild_equals_it(
    database_url: str, db_schema: str, drawn: list[list[DossierEvent]], rng: random.Random
) -> None:
    messages, final = _messages(rng, drawn)
    want = expected(final)
    engine = create_engine(database_url, db_schema)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {db_schema} CASCADE")
        await upgrade(engine, db_schema, "0006")
        await apply_all(engine, messages, 7)
        await upgrade(engine, db_schema)
        await check(engine, want)
        await apply_all(engine, messages, 5)  # the same stream again: every version already stored
        await check(engine, want)
    finally:
        await engine.dispose()

    rebuilt = f"{db_schema}_rebuilt"
    engine = create_engine(database_url, rebuilt)
    try:
        await upgrade(engine, rebuilt)
        await apply_all(engine, messages, 11)
        await check(engine, want)
    finally:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f"DROP SCHEMA {rebuilt} CASCADE")
        await engine.dispose()
