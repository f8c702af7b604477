"""The console's pages (issue 15): server time of what each page reads and computes, on the
300,000-dossier schema of `bench/bench_reports.py` (34 provinces, 3,820 agencies, the statutory year
2021; filled once and reused), "now" inside 2021-Q2 so that the current period and the open dossiers
are the fill's. Each page is timed for a key of every agency and for a key of the biggest province,
against a bare baseline in the same run: one asyncpg aggregate over the same agencies' report facts
(`SELECT agency_code, count(*) … GROUP BY 1`), the least any page over them must read.

Timed (p50/p95 of `--runs` runs after one warm-up): the overview's figures (`overview_figures`), the
worklist of the province root with its sub-tree and of one department (`read_worklist` + sort + the
details of a page of rows), a dossier's timeline (`timeline.read`), the report page (the report API's
`ReportBuilder.build`, by agency). Results replace the `## Console` section of BENCHMARKS.md.

Run: `.venv/bin/python bench/bench_console.py [--runs 20]`
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.national import province_root, provinces, write_catalog  # noqa: E402
from bench.national_fill import SETTINGS, prepared, say  # noqa: E402
from bench.record import machine_line, replace_section  # noqa: E402
from dossier_core.calendar import VN_TZ  # noqa: E402
from dossier_core.catalog import load_catalog  # noqa: E402
from dossier_metrics.app import build_state  # noqa: E402
from dossier_metrics.console import timeline  # noqa: E402
from dossier_metrics.console.figures import current_quarter, overview_figures  # noqa: E402
from dossier_metrics.console.scope import AgencyTree  # noqa: E402
from dossier_metrics.console.worklist import ordered, read_worklist, with_details  # noqa: E402
from dossier_metrics.migrations import upgrade  # noqa: E402
from dossier_runtime.api_keys import ApiKey  # noqa: E402

SIZE = 300_000
NOW = datetime(2021, 6, 10, 10, 0, tzinfo=VN_TZ)  # inside 2021-Q2, a Thursday
BASELINE = """SELECT agency_code, count(*) FROM report_fact
WHERE received_at IS NOT NULL AND ($1::text[] IS NULL OR agency_code = ANY($1::text[])) GROUP BY 1"""


async def timed(call: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    await call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


def p95(samples: list[float]) -> float:
    ordered_ = sorted(samples)
    return ordered_[max(0, -(-95 * len(ordered_) // 100) - 1)]


async def measure(schema: str, catalog_dir: Path, runs: int) -> list[dict[str, Any]]:
    catalog = load_catalog(catalog_dir)
    state = build_state(SETTINGS.model_copy(update={"db_schema": schema}), catalog=catalog)
    await upgrade(state.projection.engine, schema)  # the console's indexes (0003) on an older fill
    engine, calendar = state.report_engine, catalog.calendar()
    rows: list[dict[str, Any]] = []
    root = province_root(provinces()[0])
    try:
        everything = AgencyTree.of(catalog, ApiKey("all", "0" * 64, ("*",)))
        province = AgencyTree.of(catalog, ApiKey("province", "1" * 64, (f"*.{root.rsplit('.', 1)[1]}",)))
        department = next(code for code in province.children.get(root, ()) if province.children.get(code))
        items = await read_worklist(engine, calendar, province.subtree(root), NOW)
        dossier = items[0].dossier_code if items else ""

        async def baseline(codes: list[str] | None) -> None:
            async with engine.connect() as conn:
                driver: Any = (await conn.get_raw_connection()).driver_connection
                await driver.fetch(BASELINE, codes)

        async def worklist(codes: list[str]) -> None:
            found = ordered(await read_worklist(engine, calendar, codes, NOW), "due", False)
            await with_details(engine, found[:100])

        async def report(agency: str | None) -> None:
            await state.reports.build(current_quarter(NOW.date()), agency, "agency", None)

        cases: list[tuple[str, str, Callable[[], Awaitable[Any]], list[str] | None]] = [
            ("Tổng quan", "every agency", lambda: overview_figures(engine, calendar, None, NOW), None),
            (
                "Tổng quan",
                f"province `{root}`",
                lambda: overview_figures(engine, calendar, province.listed(), NOW),
                province.listed(),
            ),
            (
                "Việc cần xử lý",
                f"province `{root}` and its sub-tree",
                lambda: worklist(province.subtree(root)),
                province.subtree(root),
            ),
            ("Việc cần xử lý", f"department `{department}`", lambda: worklist([department]), [department]),
            (
                "Hồ sơ",
                f"`{dossier}`",
                lambda: timeline.read(state, dossier, everything, NOW),
                [dossier.rsplit("-", 2)[0]],
            ),
            ("Báo cáo", f"province `{root}` by agency", lambda: report(root), province.subtree(root)),
        ]
        for page, scope, call, codes in cases:
            say(f"{page}: {scope}")
            samples = await timed(call, runs)
            bare = await timed(lambda codes=codes: baseline(codes), runs)  # type: ignore[misc]
            rows.append(
                {
                    "page": page,
                    "scope": scope,
                    "p50": statistics.median(samples),
                    "p95": p95(samples),
                    "bare": statistics.median(bare),
                }
            )
        rows.append({"open": len(items), "department": department})
    finally:
        await state.report_engine.dispose()
        await state.projection.engine.dispose()
    return rows


def verdict(met: bool) -> str:
    return "meets" if met else "**misses**"


def section(rows: list[dict[str, Any]], runs: int) -> str:
    timed_rows = [r for r in rows if "page" in r]
    lines = [
        "`bench/bench_console.py`: what each console page reads and computes, on the 300k-dossier schema of",
        "`bench/bench_reports.py` (34 provinces, 3,820 agencies, 2021), now = 2021-06-10 10:00 (2021-Q2).",
        "Bare: one asyncpg `count(*) … GROUP BY agency_code` over the same agencies' report facts.",
        "",
        "| measured | value |",
        "|---|---|",
        f"| date | {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC |",
        f"| machine | {machine_line()} |",
        f"| runs | {runs} per page after one warm-up |",
        "",
        "| page | scope | p50 ms | p95 ms | bare p50 ms | page ÷ bare | < 300 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in timed_rows:
        lines.append(
            f"| {r['page']} | {r['scope']} | {r['p50'] * 1000:,.0f} | {r['p95'] * 1000:,.0f} |"
            f" {r['bare'] * 1000:,.1f} | {r['p50'] / r['bare']:.1f}x | {verdict(r['p95'] < 0.3)} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="timed runs per page")
    parser.add_argument("--regenerate", action="store_true", help="fill the schema again even when complete")
    parser.add_argument("--no-record", action="store_true", help="print, do not write BENCHMARKS.md")
    args = parser.parse_args()
    catalog_dir = write_catalog(Path(tempfile.mkdtemp(prefix="bench-console-")))
    schema, _, _ = prepared(SIZE, catalog_dir, args.regenerate)
    rows = asyncio.run(measure(schema, catalog_dir, args.runs))
    body = section(rows, args.runs)
    print(body)
    if not args.no_record:
        replace_section("Console", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
