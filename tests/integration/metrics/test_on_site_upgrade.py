"""An upgrade to "4 tại chỗ" (migration 0004) reads the on-the-spot flag of the dossiers stored before
it: their report facts, their stored counter vectors and their agency's counter; a newer snapshot of
such a dossier afterwards counts it once."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from dossier_contracts.snapshot_codec import dossier_to_snapshot
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.codes import Channel
from dossier_core.dossier import Dossier
from dossier_core.periods import parse_period
from dossier_metrics.app import prepare_schema
from dossier_metrics.counters import COUNTER_COLUMNS
from dossier_metrics.db import create_engine
from dossier_metrics.index import LiveIndex
from dossier_metrics.migrations import upgrade
from dossier_metrics.projector import Consumed, Projector
from dossier_metrics.report_store import ReportStore

pytestmark = pytest.mark.integration

AGENCY = "000.00.31.H49"
MAY = parse_period("2031-05")
ON_SITE = COUNTER_COLUMNS.index("received_on_site")


def vn(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=VN_TZ)


def _snapshot(n: int, version: int, on_site: bool, catalog: Catalog, ended: datetime | None = None) -> bytes:
    dossier = Dossier(
        dossier_code=f"{AGENCY}-310501-{n:04d}",
        agency_code=AGENCY,
        procedure_code="1.004194",
        channel=Channel.DIRECT,
        received_at=vn("2031-05-02 09:00"),
        legal_due_at=vn("2031-05-07 09:00"),
        finished_at=ended,
        ended_at=ended,
        on_site=on_site,
    )
    known = vn("2031-05-02 09:01")
    msg = dossier_to_snapshot(
        dossier, version=version, changed_at=known, field="Hộ tịch", calendar=catalog.calendar()
    )
    return msg.SerializeToString()


async def test_an_upgrade_counts_the_stored_on_the_spot_dossiers(
    database_url: str, db_schema: str, catalog: Catalog
) -> None:
    engine = create_engine(database_url, db_schema)
    flags = {1: True, 2: False, 3: True}
    try:
        await upgrade(engine, db_schema, "0003")
        async with engine.begin() as conn:  # what the projection of revision 0003 stored
            for n, on_site in flags.items():
                code = f"{AGENCY}-310501-{n:04d}"
                row = {"code": code, "agency": AGENCY, "at": vn("2031-05-02 09:00")}
                await conn.execute(
                    text(
                        "INSERT INTO dossier_snapshot (dossier_code, partition, version, agency_code,"
                        " procedure_code, field, received_at, ended_at, changed_at, counted, payload)"
                        " VALUES (:code, :partition, 1, :agency, '1.004194', 'Hộ tịch', :at, NULL, :at,"
                        " '{1,0,0,0,0,0,0,0,0}', :payload)"
                    ),
                    {**row, "partition": n % 2, "payload": _snapshot(n, 1, on_site, catalog)},
                )
                await conn.execute(
                    text(
                        "INSERT INTO report_fact (dossier_code, version, agency_code, procedure_code, field,"
                        " received_at, channel, legal_due_at) VALUES (:code, 1, :agency, '1.004194',"
                        " 'Hộ tịch', :at, 'direct', :at)"
                    ),
                    row,
                )
            await conn.execute(
                text(
                    "INSERT INTO agency_counter (partition, agency_code, received_direct)"
                    " VALUES (0, :agency, 1), (1, :agency, 2)"
                ),
                {"agency": AGENCY},
            )
        await prepare_schema(catalog)(engine, db_schema)
        store = ReportStore(engine, catalog.calendar())
        totals = await store.counter_totals()
        assert totals[AGENCY][ON_SITE] == sum(flags.values())
        (row,) = (await store.grain_rows(MAY, None)).values()
        assert (row.direct, row.on_site) == (len(flags), sum(flags.values()))
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM on_site_backfill")) == 0
            counted = dict(
                (await conn.execute(text("SELECT dossier_code, counted FROM dossier_snapshot"))).all()
            )
        for n, on_site in flags.items():
            vector = counted[f"{AGENCY}-310501-{n:04d}"]
            assert (vector[ON_SITE] if len(vector) > ON_SITE else 0) == int(on_site)

        # a newer version of an upgraded dossier counts it once, as it counts the others
        projector = Projector(
            store, LiveIndex(catalog.calendar(), lambda: vn("2031-06-01 00:00")), catalog.calendar()
        )
        for n in flags:
            resolved = _snapshot(n, 2, flags[n], catalog, ended=vn("2031-05-03 10:00"))
            await projector.apply("dossier.status.v1.on-site-upgrade", n % 2, [Consumed(0, resolved)])
        totals = await store.counter_totals()
        assert totals[AGENCY][ON_SITE] == sum(flags.values())
        assert totals[AGENCY][COUNTER_COLUMNS.index("received_direct")] == len(flags)
    finally:
        await engine.dispose()
