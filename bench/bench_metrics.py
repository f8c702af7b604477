"""Scrape time of the metrics service's `/metrics` for 10,000 agencies, and memory per open dossier.

The live index is filled with open dossiers spread over 10,000 agencies (5% of them paused, so the
domain is asked for those at every scrape), then the exposition is timed three ways:
- `render_text` (what `/metrics` serves), against the goal of 300 ms;
- the same `DossierCollector` through prometheus-client's `generate_latest`;
- a bare baseline: prometheus-client writing the same number of samples from plain labelled gauges.
Memory per open dossier is measured with tracemalloc while the index is filled (settled dossiers keep
only their deadline; paused ones keep their `Dossier`).

The instance that exports the province-wide counters (`counter_export.py`) also reads the counters
stored for every partition at each scrape: that read is timed on PostgreSQL with `--partitions` rows
per agency (a scratch schema, dropped afterwards), and the exporter's whole scrape (read + write).

Run: `.venv/bin/python bench/bench_metrics.py [--agencies N] [--dossiers N]`; results replace the
`## Metrics` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.record import machine_line, replace_section  # noqa: E402
from dossier_core.calendar import VN_TZ  # noqa: E402
from dossier_core.catalog import Agency, AgencyLevel, SupplementPolicy, default_catalog_dir, load_catalog  # noqa: E402
from dossier_core.dossier import Dossier, Pause, PauseKind  # noqa: E402
from dossier_core.events import Channel, StatusCode  # noqa: E402
from dossier_metrics.collector import AgencyRegistry, DossierCollector, render_text  # noqa: E402
from dossier_metrics.counters import COUNTER_COLUMNS, Counts  # noqa: E402
from dossier_metrics.db import create_engine  # noqa: E402
from dossier_metrics.index import LiveIndex  # noqa: E402
from dossier_metrics.models import agency_counter  # noqa: E402
from dossier_metrics.store import ProjectionStore  # noqa: E402
from dossier_runtime.settings import DEFAULT_DATABASE_URL  # noqa: E402

GOAL_MS = 300.0
NOW = datetime(2021, 6, 10, 10, 0, tzinfo=VN_TZ)


def agencies(n: int) -> dict[str, Agency]:
    out = {"000.00.00.H49": Agency("000.00.00.H49", "Ủy ban nhân dân tỉnh", AgencyLevel.PROVINCE, None)}
    for i in range(n - 1):
        code = f"{i % 100:03d}.{i // 100 % 100:02d}.{i // 10000:02d}.H49"
        out[code] = Agency(code, f"Ủy ban nhân dân xã số {i}", AgencyLevel.COMMUNE, "000.00.00.H49")
    return out


def dossiers(codes: list[str], n: int, paused_every: int = 20) -> Iterator[Dossier]:
    for i in range(n):
        received = NOW - timedelta(hours=1 + (i * 7) % (24 * 30))
        pauses: tuple[Pause, ...] = ()
        if i % paused_every == 0:
            pauses = (
                Pause(PauseKind.SUPPLEMENT, received + timedelta(minutes=30), None, SupplementPolicy.EXTEND),
            )
        yield Dossier(
            dossier_code=f"{codes[i % len(codes)]}-210601-{i:06d}",
            agency_code=codes[i % len(codes)],
            procedure_code="1.004194",
            channel=Channel.ONLINE,
            status=StatusCode.SUPPLEMENT_REQUESTED if pauses else StatusCode.PROCESSING,
            received_at=received,
            legal_due_at=received + timedelta(days=5),
            pauses=pauses,
        )


def timed(fn: Callable[[], bytes], runs: int) -> tuple[float, int]:
    fn()  # warm up (label strings, calendar years)
    times = []
    size = 0
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        size = len(fn())
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, size


def baseline(codes: list[str], samples_per_agency: int) -> Callable[[], bytes]:
    registry = CollectorRegistry()
    gauge = Gauge("bare_gauge", "plain samples", ["agency", "series"], registry=registry)
    for code in codes:
        for s in range(samples_per_agency):
            gauge.labels(code, str(s)).set(0)
    return lambda: generate_latest(registry)


def memory_per_dossier(calendar_dir: Path, codes: list[str], n: int, paused_every: int) -> float:
    calendar = load_catalog(calendar_dir).calendar()
    index = LiveIndex(calendar, lambda: NOW)
    index.figures(codes[:1])  # build the calendar's tables before measuring
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for chunk_start in range(0, n, 10_000):
        batch = list(dossiers(codes, min(10_000, n - chunk_start), paused_every))
        batch = [Dossier(**{**d.__dict__, "dossier_code": f"{d.dossier_code}-{chunk_start}"}) for d in batch]
        index.apply(0, batch, {}, None)
        del batch
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    used = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert index.open_count == n
    return used / n


async def stored_totals_read(codes: list[str], partitions: int, runs: int) -> tuple[float, dict[str, Counts]]:
    """Median ms of the exporter's read (`ProjectionStore.counter_totals`) over `partitions` counter rows
    per agency in a scratch schema, and the totals it read."""
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    schema = f"bench_counters_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url, schema)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f"create schema {schema}")
            await conn.run_sync(
                lambda sync: agency_counter.metadata.create_all(sync, tables=[agency_counter])
            )
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            rows = [
                (p, code, *((i + p) % 7 for i in range(len(COUNTER_COLUMNS))))
                for code in codes
                for p in range(partitions)
            ]
            await driver.copy_records_to_table("agency_counter", records=rows, schema_name=schema)
            await conn.exec_driver_sql(f"analyze {schema}.agency_counter")
        store = ProjectionStore(engine)
        times, totals = [], {}
        for _ in range(runs):
            start = time.perf_counter()
            totals = await store.counter_totals()
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times), totals
    finally:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f"drop schema if exists {schema} cascade")
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agencies", type=int, default=10_000)
    parser.add_argument("--dossiers", type=int, default=100_000, help="open dossiers in the index")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--partitions", type=int, default=12, help="status-topic partitions (stored counter rows per agency)"
    )
    args = parser.parse_args()

    catalog = load_catalog(default_catalog_dir())
    registry = AgencyRegistry(agencies(args.agencies))
    codes = registry.codes()
    index = LiveIndex(catalog.calendar(), lambda: NOW)
    index.apply(0, list(dossiers(codes, args.dossiers)), {}, None)
    collector = DossierCollector(index, registry)
    client_registry = CollectorRegistry(auto_describe=False)
    client_registry.register(collector)

    fast_ms, size = timed(collector.render_text, args.runs)
    client_ms, _ = timed(lambda: generate_latest(client_registry), max(3, args.runs // 2))
    samples_per_agency = 14
    bare_ms, bare_size = timed(baseline(codes, samples_per_agency), max(3, args.runs // 2))
    figures_ms, _ = timed(lambda: (collector.figures(), b"")[1], args.runs)
    read_ms, totals = asyncio.run(stored_totals_read(codes, args.partitions, args.runs))
    exporter_ms, _ = timed(lambda: render_text(collector.figures_with(totals), registry), args.runs)
    settled_bytes = memory_per_dossier(default_catalog_dir(), codes, 50_000, paused_every=10**9)
    paused_bytes = memory_per_dossier(default_catalog_dir(), codes, 20_000, paused_every=1)

    samples = args.agencies * samples_per_agency + 1
    bare_samples, bare_mb = args.agencies * samples_per_agency, bare_size / 1e6
    export_ms = read_ms + exporter_ms
    stored = f"{args.agencies * args.partitions:,} rows, {args.partitions} partitions"
    export_ratio = f"{export_ms / bare_ms:.2f}x the bare baseline"
    verdict = "meets" if max(fast_ms, export_ms) < GOAL_MS else "misses"
    body = f"""
`bench/bench_metrics.py`: one `/metrics` scrape with {args.agencies:,} agencies ({samples:,} samples, zero
series included) and {args.dossiers:,} open dossiers in the live index, 5% of them paused (their
deadline is recomputed by the domain at every scrape). Median of {args.runs} runs, one core.

| measured | value |
|---|---|
| date | {datetime.now(UTC):%Y-%m-%d %H:%M} UTC |
| machine | {machine_line()} |
| scrape, `/metrics` writer (`render_text`) | {fast_ms:.0f} ms ({size / 1e6:.1f} MB of text) |
| of which gauges and counters at the clock (`LiveIndex.figures`) | {figures_ms:.0f} ms |
| same collector through prometheus-client `generate_latest` | {client_ms:.0f} ms |
| bare baseline: prometheus-client, {bare_samples:,} plain gauges | {bare_ms:.0f} ms ({bare_mb:.1f} MB) |
| ratio of the scrape to the bare baseline | {fast_ms / bare_ms:.2f}x |
| the counters' exporter: stored totals read ({stored}) | {read_ms:.0f} ms |
| the exporter's whole scrape (read + `render_text` with the totals) | {export_ms:.0f} ms ({export_ratio}) |
| goal (< {GOAL_MS:.0f} ms for 10,000 agencies, either scrape) | {verdict} |
| memory per open dossier, settled (deadline only) | {settled_bytes:.0f} bytes |
| memory per open dossier, paused (keeps its `Dossier`) | {paused_bytes:.0f} bytes |
"""
    print(body)
    replace_section("Metrics", body)
    print("recorded in BENCHMARKS.md")
    return 0 if max(fast_ms, export_ms) < GOAL_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
