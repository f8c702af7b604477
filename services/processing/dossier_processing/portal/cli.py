"""`dossier-processing portal parked|requeue`: list the dossiers the national portal rejected for good
(parked by the push worker with the portal's `error_code` and message), and send chosen ones again once
the cause is fixed (e.g. the procedure or the agency registered at the portal, a field corrected).

A parked dossier is posted again by itself when it changes (a newer version is wanted); `requeue` makes
the push worker post it at once, at its latest version, with its attempts reset.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from dossier_processing.portal import sql
from dossier_processing.settings import ProcessingSettings


def add_parser(sub: Any) -> None:
    """The `portal` command and its `parked` and `requeue` subcommands."""
    portal = sub.add_parser(
        "portal",
        help="list the dossiers the national portal rejected for good (parked), or re-queue them",
        description="The push worker parks a dossier the portal rejects with a permanent error_code "
        "(PROCESSING_PORTAL_PERMANENT_CODES) and posts it again only when it changes, or when re-queued.",
    )
    commands = portal.add_subparsers(dest="portal_command", required=True)
    commands.add_parser("parked", help="list the parked dossiers, oldest first, with the portal's reason")
    requeue = commands.add_parser(
        "requeue",
        help="post parked dossiers again (at their latest version) once the cause is fixed",
        epilog="example: dossier-processing portal requeue 000.00.18.H49-250303-0001",
    )
    requeue.add_argument("codes", nargs="*", metavar="CODE", help="dossier codes")
    requeue.add_argument("--all-parked", action="store_true", help="every parked dossier")


async def _run(args: argparse.Namespace, settings: ProcessingSettings) -> int:
    from dossier_processing.bootstrap import create_engine

    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            if args.portal_command == "parked":
                rows = await sql.parked(conn)
                for r in rows:
                    print(
                        f"{r.dossier_code}\tv{r.parked_version}\t{r.parked_at.isoformat()}\t{r.park_reason}",
                        flush=True,
                    )
                print(f"{len(rows)} parked dossier{'' if len(rows) == 1 else 's'}", flush=True)
                return 0
            done = await sql.requeue(conn, None if args.all_parked else args.codes)
    finally:
        await engine.dispose()
    listed = f": {', '.join(done)}" if done else ""
    print(f"re-queued {len(done)} parked dossier{'' if len(done) == 1 else 's'}{listed}", flush=True)
    if not args.all_parked and len(done) < len(set(args.codes)):
        missing = sorted(set(args.codes) - set(done))
        print(f"not parked (left as they are): {', '.join(missing)}", flush=True)
    return 0


def run(args: argparse.Namespace, settings: ProcessingSettings) -> int:
    """Exit status: 0 done, 2 a usage error."""
    if args.portal_command == "requeue" and bool(args.codes) == bool(args.all_parked):
        print("portal requeue needs dossier codes or --all-parked (not both)", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, settings))
