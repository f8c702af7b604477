"""Benchmark: legal deadlines for 1,000,000 receipts against a bare datetime baseline.

Run: `.venv/bin/python bench/bench_calendar.py [N]`. Prints throughput and the ratio to a
loop of plain `datetime + timedelta` over the same inputs, and writes the figures into
BENCHMARKS.md under "## Domain core: deadlines" (replacing that section if present).
"""

from __future__ import annotations

import os
import platform
import random
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import DeadlineUnit, default_catalog_dir, load_catalog
from dossier_core.deadlines import DeadlineRule, legal_deadline

HEADING = "## Domain core: deadlines"
TARGET_SECONDS = 5.0
ROOT = Path(__file__).resolve().parent.parent


def inputs(n: int) -> list[tuple[DeadlineRule, datetime]]:
    """Receipts spread over 2021–2025 (any minute, weekends and nights included), with rules
    drawn from the sample catalog in its own proportions."""
    rng = random.Random(20210405)
    procedures = list(load_catalog(default_catalog_dir()).procedures.values())
    rules = [DeadlineRule(p.unit, p.duration) for p in procedures]
    start = datetime(2021, 1, 1, tzinfo=VN_TZ)
    span = 5 * 365 * 24 * 60
    return [(rng.choice(rules), start + timedelta(minutes=rng.randrange(span))) for _ in range(n)]


def baseline(cases: list[tuple[DeadlineRule, datetime]]) -> float:
    began = time.perf_counter()
    for rule, received_at in cases:
        received_at + timedelta(days=rule.duration or 0)
    return time.perf_counter() - began


def deadlines(cases: list[tuple[DeadlineRule, datetime]]) -> float:
    calendar = load_catalog(default_catalog_dir()).calendar()
    for year in range(2020, 2028):  # build the yearly tables before timing
        calendar.is_working_day(datetime(year, 6, 1).date())
    began = time.perf_counter()
    for rule, received_at in cases:
        legal_deadline(rule, received_at, calendar)
    return time.perf_counter() - began


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_section(text: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text, current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    path.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    cases = inputs(n)
    units = {unit: sum(1 for rule, _ in cases if rule.unit is unit) for unit in DeadlineUnit}
    bare = baseline(cases)
    core = deadlines(cases)
    ratio = core / bare if bare else float("inf")
    verdict = "meets" if core < TARGET_SECONDS * n / 1_000_000 else "MISSES"
    print(f"baseline datetime + timedelta: {n:,} in {bare:.3f} s ({n / bare:,.0f}/s)")
    print(f"legal_deadline:                {n:,} in {core:.3f} s ({n / core:,.0f}/s)")
    print(f"ratio {ratio:.1f}x the bare loop; {verdict} the target of 1,000,000 in < {TARGET_SECONDS:.0f} s")
    mix = ", ".join(f"{unit.value} {count:,}" for unit, count in units.items())
    section = f"""{HEADING}

`bench/bench_calendar.py`: `legal_deadline` for {n:,} receipts at random minutes of 2021–2025
(nights, weekends and holidays included), on one core, with the yearly working-time tables
built before timing. Rules drawn from the sample catalog: {mix}.

| measured | value |
|---|---|
| date | {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} |
| machine | nproc {os.cpu_count()}, {cpu_model()}, Python {platform.python_version()} |
| bare loop (`datetime + timedelta`) | {bare:.3f} s ({n / bare:,.0f}/s) |
| `legal_deadline` | {core:.3f} s ({n / core:,.0f}/s) |
| ratio to the bare loop | {ratio:.1f}x |
| target (1,000,000 in < {TARGET_SECONDS:.0f} s) | {verdict} |
"""
    write_section(section)


if __name__ == "__main__":
    main()
