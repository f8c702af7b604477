"""dossier-sim: generate a province's dossier traffic through the intake API and check the report.

Examples:
  dossier-sim --period 2021-Q2 --dossiers 270990            # a past quarter, as fast as possible
  dossier-sim --period 2021-Q2 --dossiers 5000 --expect     # … then compare the report API's numbers
  dossier-sim --dossiers 2000 --rate 500                    # the current quarter so far, 500 events/s
  dossier-sim --period 2021-Q2 --dossiers 5000 --feedback 20 --expect   # … with 20 feedback items

--expect reads the report (today's figures, by agency) before sending and checks that it grows by
exactly what was generated, agency by agency and column by column, so it works on a system that already
holds data (not while other traffic for the same period arrives). It also sends citizen feedback
(phản ánh, kiến nghị) items through POST /v1/feedback/events, Quảng Ninh-like by default (about 2 per
270,990 dossiers, at least 2; half published, half in progress), and --expect checks that the feedback
section (/v1/reports/feedback) grows by exactly their figures, agency by agency. Runs with other
--seed values never share a dossier or feedback item; the same seed sends the same events again,
which change nothing. It reads the report with a metrics reader key: --metrics-key, else the
environment variable DOSSIER_SIM_METRICS_KEY, else the file --metrics-key-file (default
.run/keys/metrics.key, which `make run` creates).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.catalog_csv import CatalogError, default_catalog_dir, load_catalog
from dossier_core.feedback import DEFAULT_DEADLINE_DAYS
from dossier_core.indicators import IndicatorCounts
from dossier_core.periods import Period, parse_period
from dossier_sim.applicants import APPLICANT_SHARE
from dossier_sim.expect import (
    differences,
    expected_indicators,
    expected_rows,
    indicator_differences,
    received_total,
    total,
)
from dossier_sim.feedback import (
    DEFAULT_FEEDBACK_MIX,
    FeedbackGenerator,
    SimulatedFeedback,
    default_feedback_count,
    expected_feedback,
    feedback_differences,
    feedback_happened_by,
    feedback_total,
    parse_feedback_mix,
)
from dossier_sim.generator import ProvinceGenerator, SimulatedDossier, happened_by
from dossier_sim.mix import DEFAULT_MIX, OutcomeMix
from dossier_sim.sender import IntakeSender

DEFAULT_KEY_FILE = Path(".run/keys/intake.key")
DEFAULT_METRICS_KEY_FILE = Path(".run/keys/metrics.key")
METRICS_KEY_ENV = "DOSSIER_SIM_METRICS_KEY"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="dossier-sim", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--period",
        help="named period (2021-Q2, 2021-04, 2021); default: the current quarter, as far as it has happened",
    )
    p.add_argument("--from", dest="from_", type=date.fromisoformat, help="explicit first day (YYYY-MM-DD)")
    p.add_argument("--to", type=date.fromisoformat, help="explicit last day (YYYY-MM-DD)")
    p.add_argument("--dossiers", type=int, default=1000, help="how many dossiers to generate (default 1000)")
    p.add_argument("--mix", default=DEFAULT_MIX, help=f"outcome shares (default {DEFAULT_MIX})")
    p.add_argument(
        "--feedback",
        type=int,
        help="how many citizen feedback items to generate (default: 2 per 270,990 dossiers, at least 2)",
    )
    p.add_argument(
        "--feedback-mix",
        default=DEFAULT_FEEDBACK_MIX,
        help=f"how feedback items end, in shares (default {DEFAULT_FEEDBACK_MIX})",
    )
    p.add_argument(
        "--feedback-deadline-days",
        type=int,
        default=DEFAULT_DEADLINE_DAYS,
        help="the feedback handling deadline processing applies, in working days "
        f"(PROCESSING_FEEDBACK_DEADLINE_DAYS; default {DEFAULT_DEADLINE_DAYS})",
    )
    p.add_argument(
        "--applicants",
        type=float,
        default=APPLICANT_SHARE,
        metavar="SHARE",
        help="share of receipts carrying made-up applicant data (name, CCCD, phone, email; intake needs "
        f"INTAKE_APPLICANT_PUBLIC_KEY to take it; 0 sends none; default {APPLICANT_SHARE})",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same traffic")
    p.add_argument("--intake-url", default="http://127.0.0.1:8001")
    p.add_argument("--metrics-url", default="http://127.0.0.1:8003")
    p.add_argument("--key", help="intake API key (default: read --key-file)")
    p.add_argument(
        "--key-file",
        type=Path,
        default=DEFAULT_KEY_FILE,
        help=f"file holding the key (default {DEFAULT_KEY_FILE})",
    )
    p.add_argument(
        "--metrics-key",
        default=os.environ.get(METRICS_KEY_ENV),
        help=f"metrics reader key for --expect (default: ${METRICS_KEY_ENV}, else --metrics-key-file)",
    )
    p.add_argument(
        "--metrics-key-file",
        type=Path,
        default=DEFAULT_METRICS_KEY_FILE,
        help=f"file holding the metrics reader key (default {DEFAULT_METRICS_KEY_FILE})",
    )
    p.add_argument(
        "--catalog-dir", type=Path, default=None, help="catalog directory (default: the sample catalog)"
    )
    p.add_argument("--batch-size", type=int, default=1000, help="events per request (max 1000)")
    p.add_argument("--concurrency", type=int, default=4, help="concurrent HTTP clients")
    p.add_argument("--rate", type=float, help="events per second (default: as fast as possible)")
    p.add_argument("--duplicate", action="store_true", help="send every event twice (tests idempotency)")
    p.add_argument("--shuffle", action="store_true", help="send each dossier's events in random order")
    p.add_argument("--expect", action="store_true", help="after sending, wait until the report API matches")
    p.add_argument(
        "--expect-timeout", type=float, default=600, help="seconds to wait for the report (default 600)"
    )
    p.add_argument("--dry-run", action="store_true", help="generate and summarise, send nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def choose_period(args: argparse.Namespace) -> Period:
    if args.from_ or args.to:
        if not (args.from_ and args.to):
            raise SystemExit("dossier-sim: --from and --to go together")
        return Period.between(args.from_, args.to)
    if args.period:
        return parse_period(args.period)
    today = datetime.now(VN_TZ).date()
    quarter = (today.month - 1) // 3 + 1 if today.day <= 14 else ((today.month) // 3) % 4 + 1
    return parse_period(f"{today.year + (1 if today.month == 12 and today.day > 14 else 0)}-Q{quarter}")


def batches(
    dossiers: list[SimulatedDossier], size: int, *, duplicate: bool, shuffle: bool, seed: int
) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    stream: list[dict[str, Any]] = []
    for d in dossiers:
        events = list(d.events)
        if shuffle:
            rng.shuffle(events)
        stream.extend(events)
        if duplicate:
            stream.extend(rng.sample(events, len(events)) if shuffle else events)
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def read_key(given: str | None, path: Path) -> str | None:
    """The key given, else the one stored in `path` (None when neither exists)."""
    if given and given.strip():
        return given.strip()
    return (path.read_text().strip() or None) if path.exists() else None


def report_params(args: argparse.Namespace, period: Period) -> dict[str, str]:
    """The report --expect reads: today's figures by agency (live, even for a filed period)."""
    params = {"group_by": "agency", "live": "true"}
    if args.from_:
        params.update({"from": args.from_.isoformat(), "to": args.to.isoformat()})
    else:
        params["period"] = period.label
    return params


class ReportUnreadable(Exception):
    """The report API cannot be read with the metrics key (a reason for the user)."""


def indicator_params(args: argparse.Namespace, period: Period) -> dict[str, str]:
    """The indicator section --expect reads (always today's figures)."""
    params = report_params(args, period)
    return {k: v for k, v in params.items() if k not in ("group_by", "live")}


def section_params(args: argparse.Namespace, period: Period, section: str) -> dict[str, str]:
    """The query --expect reads `section` with: the named period, or the --from/--to days."""
    if section == "dossiers":
        return report_params(args, period)
    return indicator_params(args, period)  # the indicator and feedback sections take the same


async def read_report(
    args: argparse.Namespace, period: Period, metrics_key: str, section: str = "dossiers"
) -> dict[str, Any]:
    """The report API's `section` (dossiers: Biểu 06 by agency; indicators: Decision 766/QĐ-TTg;
    feedback: citizen feedback)."""
    headers = {"Authorization": f"Bearer {metrics_key}"}
    params = section_params(args, period, section)
    async with httpx.AsyncClient(timeout=60, headers=headers) as client:
        try:
            response = await client.get(f"{args.metrics_url.rstrip('/')}/v1/reports/{section}", params=params)
        except httpx.HTTPError as exc:
            raise ReportUnreadable(f"report API at {args.metrics_url}: {exc}") from exc
    if response.status_code in (401, 403):
        raise ReportUnreadable(f"report API: {response.status_code}: the metrics key may not read the report")
    if response.status_code != 200:
        raise ReportUnreadable(f"report API: {response.status_code}: {response.text[:300]}")
    report: dict[str, Any] = response.json()
    return report


async def wait_for_report(
    args: argparse.Namespace,
    period: Period,
    expected: dict[str, Any],
    metrics_key: str,
    baseline: dict[str, Any] | None = None,
) -> list[str]:
    """Reads the report every second until it has grown since `baseline` by exactly what was generated
    (or --expect-timeout passes); the differences left, none when it matches."""
    want = total(expected.values()).received_total
    before = received_total(baseline)
    deadline = time.monotonic() + args.expect_timeout
    diffs: list[str] = ["no report yet"]
    bar = tqdm(total=want, desc="visible in report", unit="dossier", disable=args.quiet)
    last_note = time.monotonic()
    while time.monotonic() < deadline:
        try:
            report = await read_report(args, period, metrics_key)
        except ReportUnreadable as exc:
            diffs = [str(exc)]
            if "may not read" in diffs[0]:
                break
        else:
            bar.n = received_total(report) - before
            bar.refresh()
            diffs = differences(expected, report, baseline)
            if not diffs:
                break
            if args.quiet and time.monotonic() - last_note >= 30:
                last_note = time.monotonic()
                print(
                    f"waiting: {bar.n} of {want} dossiers visible, {len(diffs)} agencies differ",
                    file=sys.stderr,
                )
        await asyncio.sleep(1.0)
    bar.close()
    return diffs


async def wait_for_indicators(
    args: argparse.Namespace,
    period: Period,
    expected: dict[str, IndicatorCounts],
    metrics_key: str,
    baseline: dict[str, Any] | None,
    deadline: float,
) -> list[str]:
    """Reads the indicator section until it has grown since `baseline` by exactly the generated
    counts (or `deadline` passes); the differences left."""
    diffs = ["no indicator section yet"]
    while time.monotonic() < deadline:
        try:
            section = await read_report(args, period, metrics_key, "indicators")
        except ReportUnreadable as exc:
            diffs = [str(exc)]
        else:
            diffs = indicator_differences(expected, section, baseline)
            if not diffs:
                break
        await asyncio.sleep(1.0)
    return diffs


async def wait_for_feedback(
    args: argparse.Namespace,
    period: Period,
    items: list[SimulatedFeedback],
    catalog: Catalog,
    metrics_key: str,
    baseline: dict[str, Any] | None,
    deadline: float,
) -> list[str]:
    """Reads the feedback section until it has grown since `baseline` by exactly the generated items'
    figures (as of the period's end, or now while it runs), or `deadline` passes; the differences left."""
    calendar = catalog.calendar()
    diffs = ["no feedback section yet"]
    while time.monotonic() < deadline:
        try:
            section = await read_report(args, period, metrics_key, "feedback")
        except ReportUnreadable as exc:
            diffs = [str(exc)]
        else:
            now = datetime.now(VN_TZ)
            expected = expected_feedback(items, calendar, period, now, args.feedback_deadline_days)
            diffs = feedback_differences(expected, section, baseline)
            if not diffs:
                break
        await asyncio.sleep(1.0)
    return diffs


def feedback_plan(
    items: list[SimulatedFeedback], *, duplicate: bool, shuffle: bool, seed: int
) -> list[dict[str, Any]]:
    """The feedback events in sending order (each item's events, shuffled and doubled as asked)."""
    rng = random.Random(seed + 5)
    stream: list[dict[str, Any]] = []
    for item in items:
        events = list(item.events)
        if shuffle:
            rng.shuffle(events)
        stream.extend(events)
        if duplicate:
            stream.extend(rng.sample(events, len(events)) if shuffle else events)
    return stream


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        catalog = load_catalog(args.catalog_dir or default_catalog_dir())
        period = choose_period(args)
        mix = OutcomeMix.parse(args.mix)
        feedback_mix = parse_feedback_mix(args.feedback_mix)
    except (CatalogError, ValueError) as exc:
        print(f"dossier-sim: {exc}", file=sys.stderr)
        return 2
    if not 1 <= args.batch_size <= 1000:
        print("dossier-sim: --batch-size must be 1..1000", file=sys.stderr)
        return 2
    if not 0 <= args.applicants <= 1:
        print("dossier-sim: --applicants must be a share between 0 and 1", file=sys.stderr)
        return 2
    feedback_count = default_feedback_count(args.dossiers) if args.feedback is None else args.feedback
    if feedback_count < 0 or args.feedback_deadline_days < 1:
        print(
            "dossier-sim: --feedback must be 0 or more, --feedback-deadline-days 1 or more", file=sys.stderr
        )
        return 2

    started = time.monotonic()
    generator = ProvinceGenerator(catalog, period, mix, seed=args.seed, applicant_share=args.applicants)
    dossiers = list(
        tqdm(
            generator.dossiers(args.dossiers),
            total=args.dossiers,
            desc="generating",
            unit="dossier",
            disable=args.quiet,
        )
    )
    feedback = FeedbackGenerator(
        catalog, period, feedback_mix, seed=args.seed, deadline_days=args.feedback_deadline_days
    ).items(feedback_count)
    now = datetime.now(VN_TZ)
    if period.end_instant > now:  # the current period: only what has happened so far
        generated = len(dossiers)
        dossiers = happened_by(dossiers, now)
        feedback = feedback_happened_by(feedback, now)
        print(
            f"the period is still running: {generated - len(dossiers)} of the {generated} dossiers "
            f"begin after now and are left out, and later events of the others too",
            file=sys.stderr,
        )
    event_count = sum(len(d.events) for d in dossiers)
    expected = expected_rows(dossiers, catalog, period)
    want = total(expected.values())
    indicators = expected_indicators(dossiers, catalog, period)
    kpi = IndicatorCounts()
    for counts in indicators.values():
        kpi = kpi + counts
    print(
        f"period {period.label} ({period.start}..{period.end}): {len(dossiers)} dossiers, "
        f"{event_count} events, "
        f"{len(expected)} agencies; generated in {time.monotonic() - started:.1f}s",
        file=sys.stderr,
    )
    print(f"expected total: {want.to_dict()}", file=sys.stderr)
    print(f"expected Decision 766/QĐ-TTg indicators: {kpi.to_dict()}", file=sys.stderr)
    calendar = catalog.calendar()
    pakn = feedback_total(
        expected_feedback(feedback, calendar, period, now, args.feedback_deadline_days).values()
    )
    print(f"expected citizen feedback ({len(feedback)} items): {pakn}", file=sys.stderr)
    if args.dry_run:
        return 0

    key = args.key or (args.key_file.read_text().strip() if args.key_file.exists() else None)
    if not key:
        print(f"dossier-sim: no key: pass --key or create {args.key_file} (make run does)", file=sys.stderr)
        return 2
    metrics_key = read_key(args.metrics_key, args.metrics_key_file) if args.expect else ""
    if metrics_key is None:
        print(
            f"dossier-sim: --expect needs a metrics reader key: pass --metrics-key, set "
            f"{METRICS_KEY_ENV} or create {args.metrics_key_file} (make run does)",
            file=sys.stderr,
        )
        return 2
    baseline = indicator_baseline = feedback_baseline = None
    check_feedback = args.expect and bool(feedback)
    if args.expect:
        # The system may already hold dossiers of the period (of these or other agencies): --expect
        # checks that the report grows by exactly what is sent, against the report read now.
        try:
            baseline = asyncio.run(read_report(args, period, metrics_key))
            indicator_baseline = asyncio.run(read_report(args, period, metrics_key, "indicators"))
            if check_feedback:
                feedback_baseline = asyncio.run(read_report(args, period, metrics_key, "feedback"))
        except ReportUnreadable as exc:
            print(f"dossier-sim: --expect: {exc}", file=sys.stderr)
            return 2
        held = received_total(baseline)
        print(
            f"baseline: the report of {period.label} already holds {held} dossiers; --expect checks that "
            f"it grows by exactly the {want.received_total} sent, agency by agency",
            file=sys.stderr,
        )
    plan = batches(dossiers, args.batch_size, duplicate=args.duplicate, shuffle=args.shuffle, seed=args.seed)
    sender = IntakeSender(args.intake_url, key, concurrency=args.concurrency, rate=args.rate)
    with tqdm(total=sum(map(len, plan)), desc="sending", unit="event", disable=args.quiet) as bar:
        sent = asyncio.run(sender.send(plan, bar.update))
    rate = (sent.accepted + sent.rejected) / sent.seconds if sent.seconds else 0.0
    print(
        f"sent: {sent.accepted} accepted, {sent.rejected} rejected, {sent.retries} retries "
        f"in {sent.seconds:.1f}s ({rate:,.0f} events/s)",
        file=sys.stderr,
    )
    for error in sent.errors[:10]:
        print(f"  {error}", file=sys.stderr)
    if sent.rejected:
        return 1
    if feedback:
        stream = feedback_plan(feedback, duplicate=args.duplicate, shuffle=args.shuffle, seed=args.seed)
        with tqdm(total=len(stream), desc="sending feedback", unit="event", disable=args.quiet) as bar:
            fed = asyncio.run(sender.send_feedback(stream, bar.update))
        print(
            f"feedback sent: {fed.accepted} accepted, {fed.rejected} rejected, {fed.retries} retries",
            file=sys.stderr,
        )
        for error in fed.errors[:10]:
            print(f"  {error}", file=sys.stderr)
        if fed.rejected:
            return 1
    if args.expect:
        t0 = time.monotonic()
        deadline = t0 + args.expect_timeout
        diffs = asyncio.run(wait_for_report(args, period, expected, metrics_key, baseline))
        if not diffs:
            diffs = asyncio.run(
                wait_for_indicators(args, period, indicators, metrics_key, indicator_baseline, deadline)
            )
        if not diffs and check_feedback:
            diffs = asyncio.run(
                wait_for_feedback(args, period, feedback, catalog, metrics_key, feedback_baseline, deadline)
            )
        if diffs:
            print(
                f"after {args.expect_timeout:.0f}s the report still differs from baseline + generated "
                f"({len(diffs)} agencies):",
                file=sys.stderr,
            )
            for line in diffs[:20]:
                print(f"  {line}", file=sys.stderr)
            if len(diffs) > 20:
                print(f"  … and {len(diffs) - 20} more", file=sys.stderr)
            print(
                "  (a report that did not grow at all: these events were sent before, with the same "
                "--seed and period, and duplicates change nothing; run with another --seed. Other "
                "traffic for the same period while waiting also shows here.)",
                file=sys.stderr,
            )
            return 1
        print(
            f"report matches: {want.received_total} dossiers received, {want.resolved_total} resolved, "
            f"{want.pending_total} pending; Decision 766/QĐ-TTg counts {kpi.to_dict()}; "
            f"citizen feedback {pakn if check_feedback else 'not checked'}; visible "
            f"{time.monotonic() - t0:.1f}s after the last send",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
