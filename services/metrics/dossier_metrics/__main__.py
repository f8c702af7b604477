"""`dossier-metrics [serve|migrate|rebuild --schema NAME|file --period P|backfill-indicators]` (serve is
the default)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from dossier_metrics.settings import MetricsSettings
from dossier_runtime.heap import settle_heap
from dossier_runtime.logs import configure_logging


def _serve(settings: MetricsSettings) -> int:
    import uvicorn

    from dossier_metrics.app import create_app

    app = create_app(settings)
    settle_heap()
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, lifespan="on")
    return 0


def _migrate(settings: MetricsSettings) -> int:
    from dossier_metrics.db import create_engine
    from dossier_metrics.migrations import upgrade

    async def run() -> None:
        engine = create_engine(settings.database_url, settings.db_schema)
        try:
            await upgrade(engine, settings.db_schema)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print(f"schema {settings.db_schema!r} is at the latest revision", file=sys.stderr)
    return 0


def _rebuild(settings: MetricsSettings, schema: str) -> int:
    from dossier_metrics.rebuild import SchemaNotEmpty, rebuild

    try:
        result = asyncio.run(rebuild(settings, schema))
    except SchemaNotEmpty as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"rebuilt schema {result.schema!r}: {result.messages} messages, {result.dossiers} dossiers "
        f"in {result.seconds} s; serve it with METRICS_DB_SCHEMA={result.schema}",
        file=sys.stderr,
    )
    return 0


def _file(settings: MetricsSettings, label: str, at: str | None) -> int:
    from datetime import datetime, timedelta

    from dossier_core.calendar import VN_TZ
    from dossier_core.catalog import load_catalog
    from dossier_core.periods import filing_deadline, parse_period
    from dossier_metrics.app import prepare_schema
    from dossier_metrics.db import create_engine
    from dossier_metrics.report_store import ReportStore

    try:
        period = parse_period(label)
        known_at = datetime.fromisoformat(at) if at else datetime.now(VN_TZ)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if known_at.tzinfo is None or known_at > datetime.now(VN_TZ):
        print("error: --at must be an instant with its offset, not in the future", file=sys.stderr)
        return 2
    catalog = load_catalog(settings.catalog_dir)

    async def run() -> tuple[bool, str]:
        engine = create_engine(settings.database_url, settings.db_schema)
        try:
            await prepare_schema(catalog)(engine, settings.db_schema)
            store = ReportStore(engine, catalog.calendar(), writer=engine)
            before = await store.filing(period.label)
            deadline = filing_deadline(period, timedelta(days=settings.filing_delay_days))
            filing = before or await store.file(period, deadline, known_at)
            return before is None, filing.filed_at.isoformat()
        finally:
            await engine.dispose()

    created, filed_at = asyncio.run(run())
    verb = "filed" if created else "was already filed"
    print(f"{period.label} {verb} as known at {filed_at}", file=sys.stderr)
    return 0


def _backfill_indicators(settings: MetricsSettings) -> int:
    from dossier_metrics.db import create_engine
    from dossier_metrics.indicator_backfill import backfill_indicators

    async def run() -> str:
        engine = create_engine(settings.database_url, settings.db_schema)
        try:
            done = await backfill_indicators(engine)
        finally:
            await engine.dispose()
        return (
            f"{done.examined} stored dossiers without the Decision 766 flags examined: {done.digitised} "
            f"digitised, {done.paid} with a fee payment channel ({done.paid_online} online) filled in"
        )

    print(asyncio.run(run()), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dossier-metrics",
        description="Metrics service: Prometheus /metrics, the Biểu 06 report API and live stats.",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the HTTP service and the status consumer (default)")
    sub.add_parser("migrate", help="create or upgrade the service's schema (METRICS_DB_SCHEMA)")
    rebuild = sub.add_parser("rebuild", help="replay the status topic from the beginning into a fresh schema")
    rebuild.add_argument("--schema", required=True, help="name of the fresh schema to build")
    filing = sub.add_parser(
        "file",
        help="file (freeze) a named period as the system knows it now or knew it --at an instant; "
        "a period already filed stays as filed",
    )
    filing.add_argument("--period", required=True, help="YYYY, YYYY-H1, YYYY-Qn or YYYY-MM")
    filing.add_argument("--at", help="the knowledge instant, e.g. 2021-06-18T00:00:00+07:00 (default: now)")
    sub.add_parser(
        "backfill-indicators",
        help="read the digitised flag and the fee payment channel of dossiers stored before the service "
        "knew them from their stored snapshots (safe while serving; a second run changes nothing)",
    )
    args = parser.parse_args(argv)
    settings = MetricsSettings()
    configure_logging("metrics", settings.log_level)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "rebuild":
        return _rebuild(settings, args.schema)
    if args.command == "file":
        return _file(settings, args.period, args.at)
    if args.command == "backfill-indicators":
        return _backfill_indicators(settings)
    return _serve(settings)


if __name__ == "__main__":
    raise SystemExit(main())
