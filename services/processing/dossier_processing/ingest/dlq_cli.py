"""`dossier-processing dlq list|replay`: read the dead-letter topic by reason and time window, and send
chosen dead letters back to the events topic with their original bytes and key once the cause is fixed
(e.g. a procedure added to the catalog, a database constraint relaxed, a limit raised).

Both commands read the topic from its start (or from `--since`, found with the broker's time index) up
to its end when the command starts; dead letters written meanwhile wait for the next run. A replayed
event goes through the consumer again: applied if its cause is fixed, a duplicate if it was already
applied, or dead-lettered again (a new dead letter) if not.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import re
import sys
import time
from collections import Counter
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any, TextIO

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from dossier_core.calendar import VN_TZ
from dossier_processing.ingest.dlq_read import DeadLetter, Selection, scan
from dossier_processing.ingest.failures import Reason
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.kafka import client_options

REPLAY_HEADER = "dlq-replay-of"
_AGO = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_SEND_CHUNK = 500


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """An instant: ISO 8601 (`2026-12-01T08:00+07:00`; without an offset it is Vietnam time; a bare date
    is its midnight) or an age (`30m`, `2h`, `7d`: that long before now)."""
    ago = _AGO.fullmatch(text.strip())
    if ago:
        delta = timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
        return (now or datetime.now(VN_TZ)) - delta
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither an ISO 8601 instant (2026-12-01T08:00+07:00, 2026-12-01) "
            "nor an age (30m, 2h, 7d)"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=VN_TZ)


class _Progress:
    """`scanned 1200/5000 dead letters, 300 selected` on stderr, at most once a second and at the end."""

    def __init__(self, out: TextIO, verb: str) -> None:
        self.out = out
        self.verb = verb
        self.last = 0.0

    def __call__(self, scanned: int, total: int, selected: int) -> None:
        now = time.monotonic()
        if now - self.last >= 1.0 or scanned >= total:
            self.last = now
            print(
                f"scanned {scanned}/{total} dead letters, {selected} {self.verb}", file=self.out, flush=True
            )


def _summary(counts: Counter[str]) -> str:
    by_reason = ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items())) or "none"
    return f"{sum(counts.values())} dead letters (by reason: {by_reason})"


async def list_letters(
    settings: ProcessingSettings, selection: Selection, limit: int, out: TextIO, err: TextIO
) -> int:
    """Print the count by reason of the selected dead letters, then up to `limit` of them, oldest first."""
    counts: Counter[str] = Counter()
    oldest: list[tuple[float, int, int, DeadLetter]] = []  # a max-heap on time of the oldest `limit`
    async for letter in scan(settings.kafka, settings.dlq_topic, selection, _Progress(err, "selected")):
        counts[letter.reason] += 1
        heapq.heappush(oldest, (-letter.timestamp.timestamp(), -letter.partition, -letter.offset, letter))
        if len(oldest) > limit:
            heapq.heappop(oldest)
    print(f"{settings.dlq_topic}: {selection.describe()}", file=out)
    print(_summary(counts), file=out)
    shown = sorted((entry[3] for entry in oldest), key=lambda d: (d.timestamp, d.partition, d.offset))
    for letter in shown:
        print(letter.line(), file=out)
    hidden = sum(counts.values()) - len(shown)
    if hidden > 0:
        print(f"… and {hidden} more (raise --limit or narrow --since/--until/--reason)", file=out)
    return 0


async def replay_letters(
    settings: ProcessingSettings, selection: Selection, dry_run: bool, to_topic: str, out: TextIO, err: TextIO
) -> int:
    """Send the selected dead letters to `to_topic` with their original key and bytes (or, with
    `dry_run`, only print them). Truncated dead letters are never replayed."""
    producer: AIOKafkaProducer | None = None
    if not dry_run:
        producer = AIOKafkaProducer(**client_options(settings.kafka), enable_idempotence=True, acks="all")
        await producer.start()
    sent: Counter[str] = Counter()
    skipped = 0
    futures: list[Awaitable[Any]] = []
    verb = "selected" if dry_run else "replayed"
    try:
        async for letter in scan(settings.kafka, settings.dlq_topic, selection, _Progress(err, verb)):
            if letter.truncated:
                skipped += 1
                print(f"skipped (truncated, not the original bytes): {letter.line()}", file=out)
                continue
            sent[letter.reason] += 1
            if producer is None:
                print(f"would replay: {letter.line()}", file=out)
                continue
            origin = f"{settings.dlq_topic}:{letter.partition}:{letter.offset}".encode()
            futures.append(
                await producer.send(
                    to_topic, value=letter.value, key=letter.key, headers=[(REPLAY_HEADER, origin)]
                )
            )
            if len(futures) >= _SEND_CHUNK:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        if producer is not None:
            await producer.stop()
    action = "would replay" if dry_run else "replayed"
    print(
        f"{action} to {to_topic}: {_summary(sent)}" + (f"; {skipped} truncated skipped" if skipped else ""),
        file=out,
    )
    return 0


def add_parser(sub: Any) -> None:
    """The `dlq` command and its `list` and `replay` subcommands."""
    reasons = [r.value for r in Reason]
    dlq = sub.add_parser(
        "dlq",
        help="list dead letters by reason and time, or replay them to the events topic",
        description="Dead letters are events the consumer set aside (PROCESSING_DLQ_TOPIC). Reasons: "
        + ", ".join(reasons)
        + ". See docs/processing.md.",
    )
    commands = dlq.add_subparsers(dest="dlq_command", required=True, metavar="{list,replay}")

    def selection_options(p: argparse.ArgumentParser, *, reason_required: bool) -> None:
        p.add_argument(
            "--reason",
            action="append",
            choices=reasons,
            metavar="REASON",
            required=reason_required,
            help=f"only dead letters with this reason (repeatable): {', '.join(reasons)}",
        )
        p.add_argument(
            "--since",
            type=parse_when,
            help="only dead letters written at or after this instant: ISO 8601 (no offset = Vietnam time) "
            "or an age such as 30m, 2h, 7d",
        )
        p.add_argument("--until", type=parse_when, help="only dead letters written at or before this instant")

    epilog_list = (
        "examples:\n"
        "  dossier-processing dlq list\n"
        "  dossier-processing dlq list --reason event_id_conflict --since 24h --limit 20\n"
        "  dossier-processing dlq list --since 2026-12-01 --until 2026-12-02T12:00+07:00"
    )
    listing = commands.add_parser(
        "list",
        help="count dead letters by reason and print them, oldest first",
        description="Count the dead letters by reason, then print one line each (time, reason, position\n"
        "in the DLQ, origin partition@offset, key, event id, error). Progress goes to stderr.",
        epilog=epilog_list,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    selection_options(listing, reason_required=False)
    listing.add_argument("--limit", type=int, default=50, help="lines to print at most (default 50)")

    epilog_replay = (
        "examples:\n"
        "  dossier-processing dlq replay --reason unappliable --since 2d --dry-run\n"
        "  dossier-processing dlq replay --reason unappliable --since 2d"
    )
    replay = commands.add_parser(
        "replay",
        help="send selected dead letters back to the events topic (original key and bytes)",
        description="Send the selected dead letters back to the events topic with their original key and\n"
        "bytes, once their cause is fixed. Each replayed event is applied, ignored as a duplicate,\n"
        "or dead-lettered again (a new dead letter). Run with --dry-run first. Progress goes to stderr.",
        epilog=epilog_replay,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    selection_options(replay, reason_required=True)
    replay.add_argument("--dry-run", action="store_true", help="print what would be replayed, send nothing")
    replay.add_argument("--to", help="topic to replay to (default: PROCESSING_EVENTS_TOPIC)")


def run(args: argparse.Namespace, settings: ProcessingSettings) -> int:
    """Exit status: 0 done, 1 Kafka unreachable or refusing (a replay may then be partial: run it again,
    the events already replayed are duplicates)."""
    selection = Selection(frozenset(args.reason or ()), args.since, args.until)
    try:
        if args.dlq_command == "list":
            return asyncio.run(list_letters(settings, selection, max(0, args.limit), sys.stdout, sys.stderr))
        to_topic = args.to or settings.events_topic
        return asyncio.run(
            replay_letters(settings, selection, args.dry_run, to_topic, sys.stdout, sys.stderr)
        )
    except KafkaError as exc:
        print(f"Kafka at {settings.kafka_bootstrap_servers}: {exc}", file=sys.stderr)
        return 1
