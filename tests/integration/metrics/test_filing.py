"""The freezer files each named period at its filing instant with what was known then — only once
its filing instant has passed by the settling time, only for periods that closed after the system
first learned of an event — and a filing, once made, never changes. An upgrade from a schema
without report facts derives them from the stored snapshots."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from dossier_contracts.snapshot_codec import dossier_to_snapshot
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.codes import Channel
from dossier_core.dossier import Dossier
from dossier_core.periods import filing_deadline, parse_period
from dossier_metrics.app import prepare_schema
from dossier_metrics.db import create_engine
from dossier_metrics.filing import Freezer
from dossier_metrics.index import LiveIndex
from dossier_metrics.migrations import upgrade
from dossier_metrics.projector import Consumed, Projector
from dossier_metrics.report_store import ReportStore
from tests.histories import CATALOG

pytestmark = pytest.mark.integration

AGENCY = "000.00.31.H49"
TOPIC = "dossier.status.v1.filing-test"
MAY = parse_period("2031-05")  # 15 April – 14 May 2031, filed at 18 May 2031 00:00


def vn(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=VN_TZ)


CALENDAR = CATALOG.calendar()


@pytest.fixture
async def store(database_url: str, db_schema: str) -> AsyncIterator[ReportStore]:
    engine = create_engine(database_url, db_schema)
    await upgrade(engine, db_schema)
    yield ReportStore(engine, CALENDAR, writer=engine)
    await engine.dispose()


def _snapshot(version: int, known: datetime, ended: datetime | None) -> bytes:
    dossier = Dossier(
        dossier_code=f"{AGENCY}-310501-0001",
        agency_code=AGENCY,
        procedure_code="1.004194",
        channel=Channel.ONLINE,
        received_at=vn("2031-05-02 09:00"),
        legal_due_at=vn("2031-05-09 17:00"),
        finished_at=ended,
        ended_at=ended,
        end_kind=None,
    )
    msg = dossier_to_snapshot(dossier, version=version, changed_at=known, field="Hộ tịch", calendar=CALENDAR)
    msg.accepted_at.FromDatetime(known)
    return msg.SerializeToString()


async def test_the_freezer_files_a_period_as_known_at_its_filing_instant(store: ReportStore) -> None:
    projector = Projector(store, LiveIndex(CALENDAR, lambda: vn("2031-05-01 00:00")), CALENDAR)
    await projector.apply(TOPIC, 0, [Consumed(0, _snapshot(1, vn("2031-05-02 09:01"), None))])
    # resolved on 8 May, but recorded only after the filing instant (18 May 00:00)
    await projector.apply(
        TOPIC, 0, [Consumed(1, _snapshot(2, vn("2031-05-20 10:00"), vn("2031-05-08 10:00")))]
    )

    now = vn("2031-05-18 00:04")
    freezer = Freezer(store, timedelta(days=3), timedelta(minutes=5), lambda: now)
    assert await freezer.file_due() == []  # not settled yet
    now = vn("2031-06-01 00:00")
    filed = await freezer.file_due()
    assert [f.period for f in filed] == ["2031-05"]
    assert filed[0].filed_at == filed[0].deadline == filing_deadline(MAY) == vn("2031-05-18 00:00")
    rows = await store.filed_rows("2031-05", None)
    (row,) = rows.values()
    assert (row.online, row.overdue, row.early) == (1, 1, 0)  # pending (past its 9 May deadline) when filed
    (live,) = (await store.grain_rows(MAY, None)).values()
    assert (live.online, live.overdue, live.early) == (1, 0, 1)  # resolved on 8 May, a day early
    assert await freezer.file_due() == []  # filed once
    assert await store.filed_rows("2031-05", None) == rows  # and never changed

    # Periods that closed before the first event the system learned of are not filed by themselves.
    assert await store.filing("2031-04") is None
    assert await store.filing("2031-Q2") is None  # its filing instant (18 June) has not come


async def test_an_upgraded_schema_gets_the_facts_of_its_stored_dossiers(
    database_url: str, db_schema: str, catalog: Catalog
) -> None:
    engine = create_engine(database_url, db_schema)
    try:
        await upgrade(engine, db_schema, "0001")
        payload = _snapshot(3, vn("2031-05-02 09:01"), None)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO dossier_snapshot (dossier_code, partition, version, agency_code,"
                    " procedure_code, field, received_at, ended_at, changed_at, counted, payload)"
                    " VALUES (:code, 0, 3, :agency, '1.004194', 'Hộ tịch', :received, NULL, :received,"
                    " '{0,1,0,0,0,0,0,0,0}', :payload)"
                ),
                {
                    "code": f"{AGENCY}-310501-0001",
                    "agency": AGENCY,
                    "received": vn("2031-05-02 09:00"),
                    "payload": payload,
                },
            )
        await prepare_schema(catalog)(engine, db_schema)
        store = ReportStore(engine, catalog.calendar())
        (row,) = (await store.grain_rows(MAY, None)).values()
        assert (row.online, row.overdue) == (1, 1)
        (known,) = (await store.grain_rows(MAY, None, vn("2031-05-02 09:01"))).values()
        assert known == row
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM report_fact_backfill")) == 0
    finally:
        await engine.dispose()
