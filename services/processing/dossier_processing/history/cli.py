"""`dossier-processing events archive|restore`: move month partitions of `events` that nothing needs any
more to files, and bring them back (the rules are in `archive.py` and docs/processing.md)."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dossier_core.calendar import VN_TZ
from dossier_processing.history.archive import Policy, RestoreError, archive, restore
from dossier_processing.settings import ProcessingSettings

_MONTH = re.compile(r"(\d{4})-(\d{2})")


def parse_month(text: str) -> date:
    """`YYYY-MM` → the first day of that month."""
    match = _MONTH.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month written YYYY-MM (e.g. 2025-01)")
    return date(int(match.group(1)), int(match.group(2)), 1)


def add_parser(sub: Any) -> None:
    """The `events` command and its `archive` and `restore` subcommands."""
    events = sub.add_parser(
        "events",
        help="archive month partitions of the events table that nothing needs any more, or restore them",
        description="The events table is partitioned by the Vietnam-time month of occurred_at. A month "
        "leaves the database only when its quarter ended PROCESSING_EVENTS_ARCHIVE_MIN_AGE_DAYS ago and "
        "every dossier with an event in it ended, and last changed, PROCESSING_EVENTS_REFOLD_HORIZON_DAYS "
        "ago.",
    )
    commands = events.add_subparsers(dest="events_command", required=True)
    arch = commands.add_parser(
        "archive",
        help="write every month before --before to files and drop it, if none is blocked",
        description="Check every stored month before --before; if none is blocked (a quarter too "
        "recent, or a dossier that may still be re-folded: each is named), detach each month, write it "
        "to DIR/events-YYYY-MM.pgcopy (PostgreSQL binary COPY) with a manifest events-YYYY-MM.json, and "
        "drop it. Event ids stay, so an archived event is never applied again; new events of archived "
        "dossiers are dead-lettered with reason 'archived' until their month is restored.",
        epilog="example: dossier-processing events archive --before 2025-01 --to /var/lib/dossier/archive",
    )
    arch.add_argument(
        "--before", type=parse_month, required=True, metavar="YYYY-MM", help="archive the months before it"
    )
    arch.add_argument("--to", type=Path, metavar="DIR", help="directory of the archive files")
    arch.add_argument(
        "--dry-run", action="store_true", help="only report what would be archived or blocks it"
    )
    rest = commands.add_parser(
        "restore",
        help="copy archived months back into the events table",
        description="Copy each archive file back into events (its month's partition is created if "
        "needed) after checking it against its manifest, and let its dossiers take new events again. "
        "Then replay what was set aside meanwhile: dossier-processing dlq replay --reason archived.",
    )
    rest.add_argument("files", type=Path, nargs="+", metavar="FILE", help="events-YYYY-MM.pgcopy files")


async def _archive(args: argparse.Namespace, settings: ProcessingSettings) -> int:
    from dossier_processing.bootstrap import create_engine

    engine = create_engine(settings, pool_size=1)
    try:
        policy = Policy.of(settings, datetime.now(VN_TZ))
        done = await archive(
            engine,
            settings.db_schema,
            args.before,
            args.to,
            policy,
            lambda line: print(line, flush=True),
            dry_run=args.dry_run,
        )
    finally:
        await engine.dispose()
    return 0 if done else 1


async def _restore(args: argparse.Namespace, settings: ProcessingSettings) -> int:
    from dossier_processing.bootstrap import create_engine

    engine = create_engine(settings, pool_size=1)
    try:
        for path in args.files:
            try:
                month, rows = await restore(engine, settings.db_schema, path)
            except RestoreError as exc:
                print(f"refused: {exc}", file=sys.stderr)
                return 1
            print(f"{month:%Y-%m}: restored {rows} events from {path}", flush=True)
    finally:
        await engine.dispose()
    return 0


def run(args: argparse.Namespace, settings: ProcessingSettings) -> int:
    """Exit status: 0 done (or a dry run that found nothing blocked), 1 refused."""
    if args.events_command == "archive":
        if args.to is None and not args.dry_run:
            print("archive needs --to DIR (or --dry-run)", file=sys.stderr)
            return 2
        return asyncio.run(_archive(args, settings))
    return asyncio.run(_restore(args, settings))
