"""`dossier-metrics [serve|migrate|rebuild --schema NAME]` (serve is the default)."""

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
    args = parser.parse_args(argv)
    settings = MetricsSettings()
    configure_logging("metrics", settings.log_level)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "rebuild":
        return _rebuild(settings, args.schema)
    return _serve(settings)


if __name__ == "__main__":
    raise SystemExit(main())
