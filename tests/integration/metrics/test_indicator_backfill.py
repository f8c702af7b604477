"""`dossier-metrics backfill-indicators` against the real PostgreSQL: dossiers whose snapshots carried
the Decision 766/QĐ-TTg flags but were stored by a metrics service that did not know them (their facts,
counter vectors and agency counters without the flags, their bytes with them) get back exactly what
the projection stores today: facts and history, counter vectors, agency counters and the indicator
section's counts. A second run changes nothing, a dossier without flags is left alone, and a newer
snapshot of a backfilled dossier counts it once."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_contracts.snapshot_codec import dossier_to_snapshot
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.codes import Channel
from dossier_core.dossier import Dossier
from dossier_core.periods import parse_period
from dossier_metrics.__main__ import main as metrics_main
from dossier_metrics.counters import COUNTER_COLUMNS
from dossier_metrics.db import create_engine
from dossier_metrics.index import LiveIndex
from dossier_metrics.indicator_backfill import FILLED, backfill_indicators
from dossier_metrics.migrations import upgrade
from dossier_metrics.projector import Consumed, Projector
from dossier_metrics.report_store import ReportStore

pytestmark = pytest.mark.integration

AGENCY = "000.00.31.H49"
MAY = parse_period("2031-05")
TOPIC = "dossier.status.v1.indicator-backfill"
#: The counter vector's width before migration 0006 (what a metrics service of revision 0005 stored).
OLD_WIDTH = COUNTER_COLUMNS.index(FILLED[0])
#: Per dossier number: (digitised, the payment channel of its second version or None).
FLAGS: dict[int, tuple[bool, str | None]] = {
    1: (True, "online"),
    2: (True, None),
    3: (False, "direct"),
    4: (False, None),
    5: (True, "postal"),
    6: (False, "online"),
}


def vn(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=VN_TZ)


def snapshot(n: int, version: int, catalog: Catalog, ended: datetime | None = None) -> bytes:
    digitised, paid = FLAGS[n]
    dossier = Dossier(
        dossier_code=f"{AGENCY}-310501-{n:04d}",
        agency_code=AGENCY,
        procedure_code="1.004194",
        channel=Channel.ONLINE if n % 2 else Channel.DIRECT,
        received_at=vn("2031-05-02 09:00"),
        legal_due_at=vn("2031-05-07 09:00"),
        finished_at=ended,
        ended_at=ended,
        digitised=digitised,
        payment_channel=paid if version > 1 else None,
    )
    msg = dossier_to_snapshot(
        dossier,
        version=version,
        changed_at=vn("2031-05-02 09:01"),
        field="Hộ tịch",
        calendar=catalog.calendar(),
    )
    return msg.SerializeToString()


async def stored_state(engine: AsyncEngine, store: ReportStore) -> dict[str, Any]:
    async with engine.connect() as conn:
        facts = (
            await conn.execute(text("SELECT dossier_code, digitised, payment_channel FROM report_fact"))
        ).all()
        history = (
            await conn.execute(
                text("SELECT dossier_code, version, digitised, payment_channel FROM report_fact_history")
            )
        ).all()
        counted = (await conn.execute(text("SELECT dossier_code, counted FROM dossier_snapshot"))).all()
    indicators = await store.indicator_rows(MAY, None)
    return {
        "facts": sorted(map(tuple, facts)),
        "history": sorted(map(tuple, history)),
        "counted": {
            code: list(vector) + [0] * (len(COUNTER_COLUMNS) - len(vector)) for code, vector in counted
        },
        "counters": await store.counter_totals(),
        "indicators": {code: counts.to_dict() for code, counts in indicators.items()},
    }


async def as_revision_0005_stored_it(engine: AsyncEngine) -> None:
    """What a metrics service without the flags kept of the same snapshots: the bytes, not the flags."""
    async with engine.begin() as conn:
        for table in ("report_fact", "report_fact_history"):
            await conn.execute(text(f"UPDATE {table} SET digitised = false, payment_channel = NULL"))
        await conn.execute(text(f"UPDATE dossier_snapshot SET counted = counted[1:{OLD_WIDTH}]"))
        await conn.execute(text(f"UPDATE agency_counter SET {', '.join(f'{c} = 0' for c in FILLED)}"))


async def test_the_backfill_restores_what_the_projection_stores_today(
    database_url: str, db_schema: str, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(database_url, db_schema)
    try:
        await upgrade(engine, db_schema)
        store = ReportStore(engine, catalog.calendar())
        projector = Projector(
            store, LiveIndex(catalog.calendar(), lambda: vn("2031-06-01 00:00")), catalog.calendar()
        )
        for n in FLAGS:  # received (digitised or not), then a fee paid through its channel
            messages = [Consumed(0, snapshot(n, 1, catalog)), Consumed(1, snapshot(n, 2, catalog))]
            await projector.apply(TOPIC, n % 2, messages[:1])
            await projector.apply(TOPIC, n % 2, messages[1:])
        today = await stored_state(engine, store)
        digitised = sum(d for d, _ in FLAGS.values())
        paid = sum(p is not None for _, p in FLAGS.values())
        online = sum(p == "online" for _, p in FLAGS.values())
        totals = today["counters"][AGENCY]
        assert [totals[COUNTER_COLUMNS.index(c)] for c in FILLED] == [digitised, paid, online]

        await as_revision_0005_stored_it(engine)
        before = await stored_state(engine, store)
        assert before["indicators"][AGENCY]["digitised"] == 0 and before != today

        done = await backfill_indicators(engine, chunk=2)  # several chunks
        assert (done.examined, done.digitised, done.paid, done.paid_online) == (
            len(FLAGS),
            digitised,
            paid,
            online,
        )
        assert await stored_state(engine, store) == today

        again = await backfill_indicators(engine)
        assert again.changed == 0 and again.examined == sum(1 for d, p in FLAGS.values() if not (d or p))
        assert await stored_state(engine, store) == today

        # the command runs the same backfill on the configured schema
        await as_revision_0005_stored_it(engine)
        monkeypatch.setenv("METRICS_DATABASE_URL", database_url)
        monkeypatch.setenv("METRICS_DB_SCHEMA", db_schema)
        assert await asyncio.to_thread(metrics_main, ["backfill-indicators"]) == 0
        assert await stored_state(engine, store) == today

        # a newer snapshot of a backfilled dossier counts it once, as for any other dossier
        for n in FLAGS:
            await projector.apply(
                TOPIC, n % 2, [Consumed(2, snapshot(n, 3, catalog, vn("2031-05-03 10:00")))]
            )
        totals = (await store.counter_totals())[AGENCY]
        assert [totals[COUNTER_COLUMNS.index(c)] for c in FILLED] == [digitised, paid, online]
    finally:
        await engine.dispose()
