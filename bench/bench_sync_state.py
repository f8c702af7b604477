"""The national-portal sync state's reads (`dossier_processing.portal.state`, issue 17): how long the
per-agency aggregate behind `/metrics`, `GET /v1/sync/state` and `portal.sync.v1` takes, and a page of
`GET /v1/sync/dossiers`, on a schema of `--dossiers` received dossiers over `--agencies` agencies (made
with SQL, not through the consumer: only `dossiers` and `sync_state` matter here), 95 % synced, 2.5 %
failed, 1 in 1,000 parked, the rest never attempted. Beside it, bare baselines in the same run:
`select agency_code, count(*) from dossiers group by 1`, the least any per-agency figure must read, and
the same joined with `sync_state`, the least any figure of both tables must read.

p50/max of `--runs` runs after one warm-up; the schema is dropped afterwards.

Run: `.venv/bin/python bench/bench_sync_state.py [--dossiers 300000] [--agencies 600] [--runs 7]`
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from dossier_processing.bootstrap import create_engine  # noqa: E402
from dossier_processing.migrations import MIGRATIONS  # noqa: E402
from dossier_processing.portal import state  # noqa: E402
from dossier_processing.settings import ProcessingSettings  # noqa: E402

SCHEMA = "bench_sync_state"


async def fill(engine: AsyncEngine, dossiers: int, agencies: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                """
                insert into dossiers (dossier_code, agency_code, status_code, received_at, is_open, pauses,
                    anomalies, reschedule_count, on_site, event_count, version, last_event_id, snapshot,
                    change_xid, updated_at)
                select 'D-' || g, 'AG' || (g % :a), 4, now(), true, '[]', '[]', 0, false, 3, 1 + g % 3,
                       'e' || g, '\\x00', pg_current_xact_id(), now() - make_interval(secs => g % 86400)
                from generate_series(1, :n) g
                """
            ),
            {"n": dossiers, "a": agencies},
        )
        await conn.execute(
            text(
                """
                insert into sync_state (dossier_code, wanted_version, synced_version, attempts, last_error,
                                        error_code, parked_at, parked_version)
                select 'D-' || g, 1 + g % 3,
                       case when g % 40 = 0 or g % 1000 = 7 then 0 else 1 + g % 3 end,
                       case when g % 40 = 0 then 2 else 0 end,
                       case when g % 1000 = 7 then 'DongBoHoSoMC: error_code 12: x'
                            when g % 80 = 0 then 'HTTP 503: down' when g % 40 = 0 then 'ReadTimeout: x' end,
                       case when g % 1000 = 7 then '12' end,
                       case when g % 1000 = 7 then now() end,
                       case when g % 1000 = 7 then 1 + g % 3 end
                from generate_series(1, :n) g where g % 50 <> 0
                """
            ),
            {"n": dossiers},
        )
    async with engine.connect() as conn:
        await conn.execute(text("analyze dossiers"))
        await conn.execute(text("analyze sync_state"))
        await conn.commit()


async def timed(engine: AsyncEngine, runs: int, read: Callable[[Any], Awaitable[Any]]) -> tuple[float, float]:
    times = []
    for i in range(runs + 1):
        async with engine.connect() as conn:
            start = time.perf_counter()
            await read(conn)
            if i:  # the first is a warm-up
                times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, max(times) * 1000


async def main(args: argparse.Namespace) -> None:
    engine = create_engine(ProcessingSettings(db_schema=SCHEMA), pool_size=2)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"drop schema if exists {SCHEMA} cascade"))
        await MIGRATIONS.upgrade(engine, SCHEMA)
        await fill(engine, args.dossiers, args.agencies)
        async with engine.connect() as conn:
            figures = await state.sync_by_agency(conn)
        total = sum(a.received for a in figures.values())
        counts = {
            "synced": sum(a.synced for a in figures.values()),
            "failed": sum(a.failed_total for a in figures.values()),
            "pending": sum(a.pending for a in figures.values()),
            "parked": sum(a.parked_total for a in figures.values()),
        }
        print(
            f"{total:,} received dossiers, {len(figures)} agencies: "
            + ", ".join(f"{k} {v:,}" for k, v in counts.items())
        )
        reads: dict[str, Callable[[Any], Awaitable[Any]]] = {
            "bare: count per agency": lambda c: c.execute(
                text("select agency_code, count(*) from dossiers group by 1")
            ),
            "bare: joined with sync_state, count per agency": lambda c: c.execute(
                text(
                    "select agency_code, count(s.dossier_code) from dossiers"
                    " left join sync_state s using (dossier_code) group by 1"
                )
            ),
            "sync_by_agency, every agency (/metrics, portal.sync.v1)": lambda c: state.sync_by_agency(c),
            "sync_by_agency, one agency (/v1/sync/state?agency=)": lambda c: state.sync_by_agency(c, ["AG0"]),
            "unsynced_dossiers, a page of one agency (/v1/sync/dossiers)": lambda c: state.unsynced_dossiers(
                c, ["AG0"], state=None, reason=None, after=None, limit=51
            ),
            "unsynced_dossiers, a page of every agency": lambda c: state.unsynced_dossiers(
                c, None, state=None, reason=None, after=None, limit=51
            ),
        }
        for name, read in reads.items():
            p50, worst = await timed(engine, args.runs, read)
            print(f"{name}: p50 {p50:.0f} ms, max {worst:.0f} ms")
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"drop schema if exists {SCHEMA} cascade"))
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dossiers", type=int, default=300_000)
    parser.add_argument("--agencies", type=int, default=600)
    parser.add_argument("--runs", type=int, default=7)
    asyncio.run(main(parser.parse_args()))
