"""`dossier-processing [serve|migrate|dlq|events|portal|erase-applicant|applicant-keys]`: run the service
(default), only migrate its schema, list and replay dead letters (`dlq list|replay`, see
`ingest/dlq_cli.py`), archive and restore months of the events table (`events archive|restore`, see
`history/cli.py`), list and re-queue the dossiers the national portal rejected for good (`portal
parked|requeue`, see `portal/cli.py`), erase a dossier's applicant data or write a key pair for it
(`applicant/cli.py`)."""

from __future__ import annotations

import argparse
import asyncio

from dossier_processing.applicant import cli as applicant_cli
from dossier_processing.history import cli as events_cli
from dossier_processing.ingest import dlq_cli
from dossier_processing.portal import cli as portal_cli
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.heap import settle_heap
from dossier_runtime.logs import configure_logging


def _serve(settings: ProcessingSettings) -> None:
    import uvicorn

    from dossier_processing.app import create_app

    app = create_app(settings)
    settle_heap()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
    )


async def _migrate(settings: ProcessingSettings) -> None:
    from dossier_processing.bootstrap import create_engine
    from dossier_processing.migrations import MIGRATIONS

    engine = create_engine(settings)
    try:
        await MIGRATIONS.upgrade(engine, settings.db_schema)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dossier-processing",
        description="Dossier processing: consumes dossier.events.v1 into PostgreSQL, publishes "
        "dossier.status.v1 through an outbox, serves the dossier and portal-sync API. "
        "Configured by PROCESSING_* environment variables (see docs/processing.md).",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser(
        "serve",
        help="migrate, then run the HTTP API and the workers PROCESSING_RUN_CONSUMER, _RUN_RELAY and "
        "_RUN_PORTAL choose (default)",
    )
    sub.add_parser("migrate", help="bring the database schema to the latest revision and exit")
    dlq_cli.add_parser(sub)
    events_cli.add_parser(sub)
    portal_cli.add_parser(sub)
    applicant_cli.add_parser(sub)
    args = parser.parse_args(argv)
    settings = ProcessingSettings()
    configure_logging("processing", settings.log_level)
    if args.command == "dlq":
        return dlq_cli.run(args, settings)
    if args.command == "events":
        return events_cli.run(args, settings)
    if args.command == "portal":
        return portal_cli.run(args, settings)
    if args.command in ("erase-applicant", "applicant-keys"):
        return applicant_cli.run(args, settings)
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        print(f"schema {settings.db_schema} is at the latest revision")
        return 0
    _serve(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
