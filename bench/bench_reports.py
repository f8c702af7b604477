"""Biểu 06 reports at national scale (issue 13): report time, storage, and the pipeline under report load.

Each size (dossiers in the statutory year 2021) has a schema of its own, filled once through the
service's write path with `bench/national.py`'s dossiers and kept for later runs (`bench/national_fill.py`).
Timed for 2021-Q2 with the `ReportBuilder` and readers' engine the service wires (`app.build_state`):
the biggest and an average province by each `group_by` and the whole country by agency and by level
(p50/p95 of up to `--runs` runs within `--budget` s; a first run under 2 s only warms up); as the
baseline, the exact per-dossier path `build_exact` for the same province quarters (up to 3 runs up to
1 M dossiers, one above, or extrapolated from its cost per dossier past 5 minutes), its answer compared
with `build`'s; storage as `pg_total_relation_size` per table / dossiers. Then, on the largest size,
the projector alone and under 10 report loops (`bench/report_load.py`). Results replace the
`## Reports` section of BENCHMARKS.md; chart: bench/reports-cost.png.

Run: `.venv/bin/python bench/bench_reports.py [--sizes 300000,1000000,3000000,10000000] [--quick]`
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.national import province_root, provinces, write_catalog  # noqa: E402
from bench.national_fill import SETTINGS, label, prepared, say, schema_for, storage  # noqa: E402
from bench.record import machine_line, replace_section  # noqa: E402
from bench.report_load import GROUPS, LOOPS, pipeline  # noqa: E402
from dossier_core.calendar import VN_TZ  # noqa: E402
from dossier_core.catalog import load_catalog  # noqa: E402
from dossier_core.periods import parse_period  # noqa: E402
from dossier_metrics.app import build_state  # noqa: E402
from dossier_metrics.db import QUERY_CANCELED, sqlstate  # noqa: E402

SIZES = (300_000, 1_000_000, 3_000_000, 10_000_000)
PERIOD = parse_period("2021-Q2")
AS_OF = datetime(2021, 7, 1, tzinfo=VN_TZ)  # the quarter's versions are all known by then
EXACT_LIMIT_S = 300.0
CHART = ROOT / "bench" / "reports-cost.png"
SCOPES = {"biggest": "biggest province", "average": "average province", "country": "whole country"}


def scopes() -> dict[str, str | None]:
    ordered = provinces()
    average = min(ordered, key=lambda p: abs(p.weight * len(ordered) - 1))
    return {"biggest": province_root(ordered[0]), "average": province_root(average), "country": None}


async def timed(call: Callable[[], Awaitable[Any]], runs: int, budget_s: float) -> tuple[list[float], Any]:
    """Seconds of up to `runs` calls within `budget_s` (at least one); a first call under 2 s warms up."""
    started = time.perf_counter()
    result = await call()
    first = time.perf_counter() - started
    samples = [] if first < 2 else [first]
    spent = time.perf_counter()
    while len(samples) < runs and (not samples or time.perf_counter() - spent < budget_s):
        started = time.perf_counter()
        result = await call()
        samples.append(time.perf_counter() - started)
    return samples, result


async def time_into(
    row: dict[str, Any], call: Callable[[], Awaitable[Any]], runs: int, budget_s: float
) -> dict[str, Any] | None:
    """Time `call` into `row` (runs, p50, p95, dossiers, view) and return its report; None (and
    `row["timeout"]`) when the statement timeout cut it off."""
    try:
        samples, report = await timed(call, runs, budget_s)
    except Exception as exc:
        if sqlstate(exc) != QUERY_CANCELED:
            raise
        row["timeout"] = True
        return None
    row.update(runs=len(samples), p50=statistics.median(samples), p95=p95(samples))
    row.update(dossiers=int(report["total"]["received"]["total"]), view=report.get("view", "live"))
    return dict(report)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]  # nearest rank


async def measure(
    schema: str, catalog_dir: Path, size: int, args: argparse.Namespace, cost: list[float]
) -> dict[str, Any]:
    """Every timed report of one size; `cost` collects the exact path's seconds per dossier."""
    state = build_state(SETTINGS.model_copy(update={"db_schema": schema}), catalog=load_catalog(catalog_dir))
    builder = state.reports
    exact = getattr(builder, "build_exact", builder.build)
    rows: list[dict[str, Any]] = []
    try:
        for scope, agency in scopes().items():
            for group_by in GROUPS if agency else GROUPS[:2]:
                say(f"  {label(size)}: {SCOPES[scope]} {agency or ''} by {group_by}")
                row: dict[str, Any] = {"scope": scope, "agency": agency, "group_by": group_by}
                rows.append(row)
                call = functools.partial(builder.build, PERIOD, agency, group_by)
                report = await time_into(row, call, args.runs, args.budget)
                if report is None:
                    continue
                if agency is not None and group_by == "agency":
                    predicted = cost[-1] * row["dossiers"] if cost else 0.0
                    if size > 1_000_000 and predicted > EXACT_LIMIT_S:
                        row.update(exact=predicted, extrapolated=True)
                        continue
                    exact_runs = 3 if size <= 1_000_000 else 1
                    once = functools.partial(exact, PERIOD, agency, "agency")
                    seconds, answer = await timed(once, exact_runs, 30.0)
                    same = all(answer[k] == report[k] for k in ("rows", "total"))
                    row.update(exact=statistics.median(seconds), extrapolated=False, same=same)
                    cost.append(row["exact"] / max(1, row["dossiers"]))
        # As known at an instant: the history's path, which filing takes too (on the writers' engine).
        say(f"  {label(size)}: whole country by agency as known at {AS_OF:%Y-%m-%d %H:%M %z}")
        row = {"scope": "country", "agency": None, "group_by": "agency", "as_of": True}
        rows.append(row)
        known = functools.partial(builder.build, PERIOD, None, "agency", as_of=AS_OF)
        await time_into(row, known, 3, args.budget)
    finally:
        await state.report_engine.dispose()
        await state.projection.engine.dispose()
    return {"size": size, "rows": rows, "has_exact": hasattr(builder, "build_exact")}


def slowest(result: dict[str, Any], scope: str) -> dict[str, Any] | None:
    """The slowest `group_by` of a scope by p95 (None when one timed out)."""
    rows = [r for r in result["rows"] if r["scope"] == scope and not r.get("as_of")]
    return None if not rows or any(r.get("timeout") for r in rows) else max(rows, key=lambda r: r["p95"])


def chart(results: list[dict[str, Any]], path: Path = CHART) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (times, space) = plt.subplots(1, 2, figsize=(12, 4.6))
    colors = dict(zip(SCOPES, ("C0", "C1", "C2"), strict=True))
    for scope, title in SCOPES.items():
        points = [(r["size"], w["p95"]) for r in results if (w := slowest(r, scope))]
        if points:
            what = f"build p95, {title}, slowest group_by"
            times.plot(*zip(*points, strict=True), marker="o", color=colors[scope], label=what)
    for scope in ("biggest", "average"):
        for extrapolated, marker in ((False, "s"), (True, "x")):
            points = [
                (r["size"], x["exact"])
                for r in results
                for x in r["rows"]
                if x["scope"] == scope and x.get("extrapolated") is extrapolated
            ]
            if points:
                what = f"exact, {SCOPES[scope]} ({'extrapolated' if extrapolated else 'measured'})"
                times.plot(
                    *zip(*points, strict=True), marker=marker, ls="--", color=colors[scope], label=what
                )
    times.set(
        xscale="log", yscale="log", xlabel="dossiers in the year", ylabel="seconds", title="2021-Q2 report"
    )
    times.grid(alpha=0.3, which="both")
    times.legend(fontsize=7)
    names = [label(r["size"]) for r in results]
    bottom = [0.0] * len(results)
    for table in sorted({t for r in results for t in r["storage"]}):
        heights = [r["storage"].get(table, 0) / r["size"] for r in results]
        space.bar(names, heights, bottom=bottom, label=table)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    space.set(
        xlabel="dossiers in the year", ylabel="bytes per dossier", title="storage, pg_total_relation_size"
    )
    space.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def verdict(ok: bool) -> str:
    return "meets" if ok else "**misses**"


def province_goal(results: list[dict[str, Any]]) -> str:
    """The 300,000-dossier province quarter: measured when one was that big, else from the line
    through the two largest province quarters measured (their slowest group_by)."""
    found = sorted(
        (w["dossiers"], w["p95"], r["size"])
        for r in results
        for s in ("biggest", "average")
        if (w := slowest(r, s))
    )
    goal = "| a province quarter of 300,000 dossiers, any group_by: p95 < 300 ms |"
    big = [f for f in found if f[0] >= 300_000]
    if big:
        n, seconds, size = big[0]
        how = f"{label(size)}, {n:,} dossiers"
    elif len(found) > 1 and found[-1][0] > found[-2][0]:
        (n0, p0, _), (n, p, size) = found[-2], found[-1]
        seconds = p + max(0.0, (p - p0) / (n - n0)) * (300_000 - n)
        how = f"extrapolated through the {n0:,}- and {n:,}-dossier quarters ({label(size)})"
    else:
        return f"{goal} not measured | |"
    return f"{goal} {ms(seconds)} ms ({how}) | {verdict(seconds < 0.3)} |"


def goals(results: list[dict[str, Any]]) -> list[str]:
    lines = [province_goal(results)]
    at = [r for r in results if r["size"] == 10_000_000]
    for scope, goal_s, text in (
        ("biggest", 0.5, "one province quarter: p95 < 500 ms"),
        ("country", 5.0, "the whole country: p95 < 5 s"),
    ):
        row = slowest(at[0], scope) if at else None
        value = "not measured in this run" if not at else f"{ms(row['p95'])} ms" if row else "timed out"
        met = verdict(row is not None and row["p95"] < goal_s) if at else ""
        lines.append(f"| at 10 M dossiers, {text} | {value} | {met} |")
    return lines


def timings_table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| dossiers | 2021-Q2 report | by | in the report | runs | p50 ms | p95 ms | exact ms"
        " | exact ÷ p50 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for x in r["rows"]:
            where = SCOPES[x["scope"]] + (f" `{x['agency']}`" if x["agency"] else "")
            head = f"| {label(r['size'])} | {where} | {x['group_by']} |"
            if x.get("timeout"):
                lines.append(f"{head} | | statement timeout | | | |")
                continue
            exact = ratio = ""
            if "exact" in x:
                note = " (extrapolated)" if x["extrapolated"] else "" if x["same"] else " (**differs**)"
                exact, ratio = ms(x["exact"]) + note, f"{x['exact'] / x['p50']:.1f}x"
            view = "" if x["view"] == "live" else f" ({x['view']})"
            times = f"{x['runs']} | {ms(x['p50'])} | {ms(x['p95'])}"
            lines.append(f"{head} {x['dossiers']:,}{view} | {times} | {exact} | {ratio} |")
    return lines


def section(results: list[dict[str, Any]], flow: dict[str, Any] | None, agencies: int) -> str:
    exact = (
        "`build_exact`, the per-dossier domain path."
        if all(r["has_exact"] for r in results)
        else "`build` again (this `ReportBuilder` has no `build_exact`: its `build` is the per-dossier path)."
    )
    about = (
        f"`bench/bench_reports.py` (`make bench-reports`): 34 provinces of skewed sizes, {agencies:,} "
        "agencies, "
        "the sample catalog's procedures, dossiers over the statutory year 2021 with two versions each "
        "(`bench/national.py`), written through `Projector.apply` (12 partitions, batches of 500, two "
        "processes), then `VACUUM ANALYZE`. Reports: `ReportBuilder.build` on the readers' engine as the "
        'service wires them; "in the report" is its `received.total` (carried over included). Exact = '
        f"{exact} Chart: [reports-cost.png](bench/reports-cost.png)."
    )
    lines = [
        textwrap.fill(about, 105),
        "",
        "| measured | value |",
        "|---|---|",
        f"| date | {datetime.now(UTC):%Y-%m-%d %H:%M} UTC |",
        f"| machine | {machine_line()} |",
    ]
    for r in results:
        info, how = r["info"], f"reused, filled {r['info']['at']}" if r["reused"] else "filled in this run"
        lines.append(
            f"| {label(r['size'])} dossiers: filling, VACUUM ANALYZE | {info['fill_s']:,.0f} s"
            f" ({r['size'] / info['fill_s']:,.0f} dossiers/s), {info['vacuum_s']:,.0f} s ({how}) |"
        )
    names = sorted({t for r in results for t in r["storage"]})
    lines += ["", *timings_table(results), ""]
    lines += [
        f"| bytes per dossier | {' | '.join(f'`{n}`' for n in names)} | total |",
        "|---" * (len(names) + 2) + "|",
    ]
    for r in results:
        sizes = [r["storage"].get(n, 0) / r["size"] for n in names]
        lines.append(f"| {label(r['size'])} | {' | '.join(f'{s:,.0f}' for s in sizes)} | {sum(sizes):,.0f} |")
    lines += ["", "| goal | measured | |", "|---|---|---|", *goals(results)]
    if flow:
        lines.append(
            f"| reports never slow the pipeline: `Projector.apply` on one partition, alone → with {LOOPS}"
            f" report loops in another process ({flow['reports_per_s']:.1f} reports/s;"
            f" {flow['refused']} waits for a connection timed out)"
            f" | {flow['alone']:,.0f} → {flow['loaded']:,.0f} snapshots/s"
            f" ({flow['loaded'] / flow['alone']:.2f}x) | |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="dossiers per data set (comma-separated)"
    )
    parser.add_argument("--quick", action="store_true", help="only 300,000 dossiers")
    parser.add_argument("--regenerate", action="store_true", help="fill the schemas again even when complete")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per report")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per report before fewer runs")
    parser.add_argument("--pipeline-dossiers", type=int, default=30_000, help="dossiers per projector stream")
    parser.add_argument("--no-pipeline", action="store_true", help="skip the projector under report load")
    parser.add_argument(
        "--no-record", action="store_true", help="print only: BENCHMARKS.md and the chart stay"
    )
    parser.add_argument(
        "--fill-only", action="store_true", help="fill (or reuse) the schemas of --sizes, then stop"
    )
    args = parser.parse_args()
    sizes = [300_000] if args.quick else sorted(int(s) for s in args.sizes.split(","))

    catalog_dir = write_catalog(Path(tempfile.mkdtemp(prefix="bench-reports-")))
    agencies = len(load_catalog(catalog_dir).agencies)
    say(f"national catalog: {agencies:,} agencies in {catalog_dir}")
    results: list[dict[str, Any]] = []
    cost: list[float] = []
    if args.fill_only:
        for size in sizes:
            prepared(size, catalog_dir, args.regenerate)
        return 0
    for size in sizes:
        schema, info, reused = prepared(size, catalog_dir, args.regenerate)
        result = asyncio.run(measure(schema, catalog_dir, size, args, cost))
        result.update(info=info, reused=reused, storage=asyncio.run(storage(schema)))
        results.append(result)
    flow = None
    if not args.no_pipeline:
        loop_agencies = [a for a in scopes().values() if a]
        flow = pipeline(schema_for(sizes[-1]), catalog_dir, PERIOD, loop_agencies, args.pipeline_dossiers)
    text = section(results, flow, agencies)
    print(text)
    if not args.no_record:
        say(f"chart: {chart(results)}")
        replace_section("Reports", text)
        say("recorded in BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
