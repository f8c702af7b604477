"""Reports never slow the pipeline: the projector's throughput on one partition stream, alone and while
report loops read the same schema from another process.

The projector runs in a process of its own (the service's projection, `national_fill.projection`) on
a partition no generated dossier uses (`PIPELINE_PARTITION`), fed one stream of 2022 dossiers made
before the clock starts; snapshots/s is the number applied over the time `Projector.apply` took. The
report loops run in one other process, on the readers' engine and `ReportBuilder` exactly as the
service wires them (`app.build_state`: a pool of `METRICS_REPORT_CONCURRENCY` connections, no
overflow, the statement timeout, read-only): `LOOPS` loops build 2021-Q2 province reports over and
over, so at most that many read at once and the others wait for a connection (a wait that times out
is a 503 in the service; here it is counted and tried again). What the projector wrote is deleted
after (dossier codes tagged `-P`, its partition's rows), then the tables are vacuumed.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bench.national import PartitionStream
from bench.national_fill import (
    BATCH,
    PARTITIONS,
    SEED,
    SETTINGS,
    TOPIC,
    admin,
    projection,
    say,
    tables,
    vacuum,
)
from dossier_core.catalog import load_catalog
from dossier_core.periods import Period, parse_period
from dossier_metrics.app import build_state
from dossier_metrics.projector import Consumed
from dossier_metrics.report_params import GroupBy

PIPELINE_PARTITION, LOOPS = PARTITIONS, 10
GROUPS: tuple[GroupBy, ...] = ("agency", "level", "procedure", "field")


def projector_process(schema: str, catalog_dir: Path, dossiers: int, seed: int, tag: str, out: Any) -> None:
    """Process: one partition stream of 2022 dossiers, made first, then timed through `Projector.apply`."""

    async def run() -> None:
        parts = projection(schema, catalog_dir)
        stream = PartitionStream(parts.catalog, dossiers, 0, 1, seed, tag, parse_period("2022"))
        messages = [raw for _, raw in stream]
        try:
            started = time.perf_counter()
            for i in range(0, len(messages), BATCH):
                batch = [Consumed(i + k, raw) for k, raw in enumerate(messages[i : i + BATCH])]
                await parts.projector.apply(TOPIC, PIPELINE_PARTITION, batch)
            out.put(len(messages) / (time.perf_counter() - started))
        finally:
            await parts.engine.dispose()

    asyncio.run(run())


def reports_process(
    schema: str, catalog_dir: Path, period: Period, agencies: list[str], ready: Any, stop: Any, out: Any
) -> None:
    """Process: `LOOPS` report loops on the service's readers' engine until `stop`; tells how many
    reports were built, how many waits for a connection failed, and over how many seconds."""

    async def run() -> None:
        settings = SETTINGS.model_copy(update={"db_schema": schema})
        state = build_state(settings, catalog=load_catalog(catalog_dir))
        done, refused, first = [0], [0], [0.0]

        async def loop(i: int) -> None:
            while not stop.is_set():
                try:
                    await state.reports.build(period, agencies[i % len(agencies)], GROUPS[i % len(GROUPS)])
                except (PoolTimeout, DBAPIError):
                    refused[0] += 1
                    continue
                done[0] += 1
                if not ready.is_set():
                    first[0] = time.monotonic()
                    ready.set()

        try:
            await asyncio.gather(*(loop(i) for i in range(LOOPS)))
        finally:
            await state.report_engine.dispose()
            await state.projection.engine.dispose()
        out.put((done[0], refused[0], time.monotonic() - first[0]))

    asyncio.run(run())


async def forget(schema: str) -> None:
    """Delete what the projector wrote here (codes tagged `-P`, rows of its partition), then vacuum."""
    conn = await admin()
    try:
        for table in await tables(conn, schema):
            columns = {
                row[0]
                for row in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = $1 AND table_name = $2",
                    schema,
                    table,
                )
            }
            if "dossier_code" in columns:
                await conn.execute(f'DELETE FROM "{schema}"."{table}" WHERE dossier_code LIKE \'%-P%\'')
            elif "partition" in columns:
                await conn.execute(
                    f'DELETE FROM "{schema}"."{table}" WHERE partition = $1', PIPELINE_PARTITION
                )
    finally:
        await conn.close()
    await vacuum(schema)


def pipeline(
    schema: str, catalog_dir: Path, period: Period, agencies: list[str], dossiers: int
) -> dict[str, Any]:
    """Snapshots/s of the projector alone and under `LOOPS` report loops, and the loops' reports/s."""
    spawn = mp.get_context("spawn")
    out = spawn.Queue()

    def projector_run(seed: int, tag: str) -> float:
        process = spawn.Process(
            target=projector_process, args=(schema, catalog_dir, dossiers, seed, tag, out)
        )
        process.start()
        rate = float(out.get())
        process.join()
        return rate

    say(f"pipeline: the projector alone, {dossiers:,} dossiers ({2 * dossiers:,} snapshots), one partition")
    alone = projector_run(SEED + 1, "P1")
    say(f"  alone: {alone:,.0f} snapshots/s; again with {LOOPS} report loops in another process")
    ready, stop, report_out = spawn.Event(), spawn.Event(), spawn.Queue()
    readers = spawn.Process(
        target=reports_process, args=(schema, catalog_dir, period, agencies, ready, stop, report_out)
    )
    readers.start()
    try:
        while not ready.wait(1):
            if not readers.is_alive():
                raise SystemExit("the report loops stopped before their first report")
        loaded = projector_run(SEED + 2, "P2")
    finally:
        stop.set()
    reports, refused, seconds = report_out.get()
    readers.join()
    say(f"  with report loops: {loaded:,.0f} snapshots/s, {reports / seconds:.1f} reports/s; cleaning up")
    asyncio.run(forget(schema))
    return {"alone": alone, "loaded": loaded, "reports_per_s": reports / seconds, "refused": refused}
