"""The month partitions of `events` (migration 0003): one per Vietnam-time month of `occurred_at`, named
`events_YYYY_MM`, plus the DEFAULT partition `events_default`.

An event of any month can always be inserted: one whose month has no partition lands in the DEFAULT
partition. The consumer creates the months of a batch before writing it (`EventPartitions.ensure`, one
catalogue query per month it has not met yet), and the months ahead of the current one at start
(`prepare`). Creating a month that the DEFAULT partition already holds rows of moves them into it, so
the DEFAULT partition is normally empty and a new partition's check of it costs nothing.

Partition DDL takes the advisory lock `dossier-processing events partitions <schema>`, so consumers,
`events archive` and `events restore` never create or detach the same month at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dossier_core.calendar import VN_TZ

DEFAULT_PARTITION = "events_default"
_NAME = re.compile(r"events_(\d{4})_(\d{2})")


def month_of(instant: datetime) -> date:
    """The first day of the Vietnam-time month `instant` falls in."""
    local = instant.astimezone(VN_TZ)
    return date(local.year, local.month, 1)


def next_month(month: date, n: int = 1) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"events_{month:%Y_%m}"


def month_of_partition(name: str) -> date | None:
    """The month a partition named `events_YYYY_MM` holds; `None` for any other name."""
    match = _NAME.fullmatch(name)
    return date(int(match.group(1)), int(match.group(2)), 1) if match else None


def start_of(month: date) -> datetime:
    """Midnight, Vietnam time, on the first day of `month`: where its partition starts."""
    return datetime(month.year, month.month, 1, tzinfo=VN_TZ)


def _bounds(month: date) -> str:
    return f"from ('{month:%Y-%m-%d} 00:00+07') to ('{next_month(month):%Y-%m-%d} 00:00+07')"


async def lock(conn: AsyncConnection, schema: str) -> None:
    """Take the schema's partition-DDL advisory lock until the transaction ends."""
    await conn.execute(
        text("select pg_advisory_xact_lock(hashtextextended(:name, 0))"),
        {"name": f"dossier-processing events partitions {schema}"},
    )


async def attached_months(conn: AsyncConnection) -> set[date]:
    """The months that have a partition of `events`."""
    rows = await conn.execute(
        text(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
            "where i.inhparent = 'events'::regclass"
        )
    )
    return {m for (name,) in rows if (m := month_of_partition(name)) is not None}


async def default_months(conn: AsyncConnection) -> set[date]:
    """The months of the rows the DEFAULT partition holds (normally none)."""
    rows = await conn.execute(
        text(
            "select distinct date_trunc('month', occurred_at at time zone 'Asia/Ho_Chi_Minh')::date "
            f"from {DEFAULT_PARTITION}"
        )
    )
    return {m for (m,) in rows}


async def create_month(conn: AsyncConnection, month: date) -> int:
    """Create `month`'s partition, moving into it the rows of that month the DEFAULT partition holds
    (returns how many). The caller holds `lock`; the month has no partition yet."""
    name, bounds = partition_name(month), _bounds(month)
    window = {"start": start_of(month), "end": start_of(next_month(month))}
    in_month = "occurred_at >= :start and occurred_at < :end"
    waiting = await conn.scalar(text(f"select count(*) from {DEFAULT_PARTITION} where {in_month}"), window)
    if not waiting:
        await conn.execute(text(f"create table {name} partition of events for values {bounds}"))
        return 0
    await conn.execute(text(f"create table {name} (like events including defaults)"))
    await conn.execute(
        text(
            f"with moved as (delete from {DEFAULT_PARTITION} where {in_month} returning *) "
            f"insert into {name} select * from moved"
        ),
        window,
    )
    await conn.execute(text(f"alter table events attach partition {name} for values {bounds}"))
    return int(waiting)


async def ensure_months(conn: AsyncConnection, schema: str, months: Iterable[date]) -> list[date]:
    """Create the partitions of those `months` that have none (in the caller's transaction, under the
    lock); returns the months created."""
    await lock(conn, schema)
    missing = sorted(set(months) - await attached_months(conn))
    for month in missing:
        await create_month(conn, month)
    return missing


class EventPartitions:
    """The consumer's view of the partitions: the months it knows exist, and what creates the others."""

    def __init__(self, engine: AsyncEngine, schema: str) -> None:
        self.engine = engine
        self.schema = schema
        self.known: set[date] = set()

    async def ensure(self, instants: Iterable[datetime]) -> list[date]:
        """Make sure the months of these instants have partitions; returns the months created. Costs
        nothing once every month has been met (an archived month is created again when an event of it
        comes: the DEFAULT partition would take it anyway)."""
        months = {month_of(t) for t in instants} - self.known
        if not months:
            return []
        async with self.engine.begin() as conn:
            if months <= await attached_months(conn):
                created: list[date] = []
            else:
                created = await ensure_months(conn, self.schema, months)
        self.known |= months
        return created

    async def prepare(self, now: datetime, ahead: int) -> list[date]:
        """At start: the current month and `ahead` more, and the months of rows waiting in the DEFAULT
        partition (moved into their own). Returns the months created."""
        current = month_of(now)
        wanted = {next_month(current, n) for n in range(ahead + 1)}
        async with self.engine.begin() as conn:
            await lock(conn, self.schema)
            created = await ensure_months(conn, self.schema, wanted | await default_months(conn))
            self.known = await attached_months(conn)
        return created
