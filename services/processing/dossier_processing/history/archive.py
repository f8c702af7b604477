"""Archiving the month partitions of `events` that nothing needs any more, and restoring them.

A month M (its partition `events_YYYY_MM`) may leave the database only when both hold:

1. **Its quarter is filed and revised**: the quarter M belongs to ended at least
   `PROCESSING_EVENTS_ARCHIVE_MIN_AGE_DAYS` ago (Vietnam time). The metrics service files a quarter from
   its own tables `METRICS_FILING_DELAY_DAYS` after it ends and revises it with late events after that;
   processing cannot see the filing, so this age covers the filing delay and the late events.
2. **No dossier can be re-folded from it**: every dossier with an event in M has ended (`ended_at` set:
   resolved, returned, withdrawn, refused or not accepted), at least `PROCESSING_EVENTS_REFOLD_HORIZON_DAYS`
   ago, and its newest event (in any month) occurred at least that long ago too. An open dossier, one
   not yet received or otherwise never ended, or one ended or changed within the horizon blocks M, and is
   named.

Archiving is all or nothing over the months before `--before`: one blocked month refuses them all.
Each month is then, in order: detached from `events` under an exclusive lock on it after checking the
rules again, its dossiers recorded in `archived_dossiers` and the table renamed `archiving_events_YYYY_MM`
(one short transaction); copied to `DIR/events-YYYY-MM.pgcopy` (PostgreSQL binary COPY) with a manifest
`events-YYYY-MM.json` (rows, columns, SHA-256); then dropped. A run that stops between these steps is
finished by the next one, which first completes any `archiving_` table it finds.

Event ids stay in `event_ids`, so an archived id is still never applied again: the consumer sets such an
event aside with reason `archived`, as it does any new event of an archived dossier (its history is no
longer whole). `restore` copies a month back (into its partition, created if needed) and clears its
dossiers' archived mark; dead letters set aside meanwhile can then be replayed (`dlq replay --reason
archived`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dossier_processing.history import partitions
from dossier_processing.history.partitions import month_of_partition, next_month, partition_name, start_of
from dossier_processing.settings import ProcessingSettings

ARCHIVING_PREFIX = "archiving_"
#: blocking dossiers named per month (the count is always given)
NAMED_BLOCKERS = 20
COLUMNS = (
    "event_id",
    "seq",
    "dossier_code",
    "agency_code",
    "type",
    "occurred_at",
    "payload",
    "kafka_partition",
    "kafka_offset",
    "applied_at",
)

Say = Callable[[str], None]


@dataclass(frozen=True)
class Policy:
    """The two ages of the rules above, and the instant they are measured from."""

    now: datetime
    refold_horizon_days: int
    min_age_days: int

    @classmethod
    def of(cls, settings: ProcessingSettings, now: datetime) -> Policy:
        return cls(now, settings.events_refold_horizon_days, settings.events_archive_min_age_days)

    @property
    def horizon(self) -> datetime:
        return self.now - timedelta(days=self.refold_horizon_days)

    def quarter_end(self, month: date) -> datetime:
        first = date(month.year, (month.month - 1) // 3 * 3 + 1, 1)
        return start_of(next_month(first, 3))

    def too_recent(self, month: date) -> str | None:
        """Why `month`'s quarter is too recent to archive, or `None`."""
        end = self.quarter_end(month)
        if end + timedelta(days=self.min_age_days) <= self.now:
            return None
        quarter = f"{month.year}-Q{(month.month - 1) // 3 + 1}"
        return (
            f"its quarter {quarter} ended {end:%Y-%m-%d}, less than {self.min_age_days} days ago "
            "(PROCESSING_EVENTS_ARCHIVE_MIN_AGE_DAYS)"
        )


@dataclass
class MonthSurvey:
    """What archiving one month would take, and what blocks it."""

    month: date
    events: int = 0
    dossiers: int = 0
    too_recent: str | None = None
    blocking: int = 0
    #: up to `NAMED_BLOCKERS` (dossier code, why)
    blockers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def archivable(self) -> bool:
        return self.too_recent is None and self.blocking == 0

    def lines(self) -> list[str]:
        head = f"{self.month:%Y-%m}: {self.events} events of {self.dossiers} dossiers"
        if self.archivable:
            return [f"{head}: can be archived"]
        out = [f"{head}: blocked"]
        if self.too_recent:
            out.append(f"  {self.too_recent}")
        if self.blocking:
            out.append(f"  {self.blocking} dossiers may still be re-folded:")
            out += [f"    {code}: {why}" for code, why in self.blockers]
            if self.blocking > len(self.blockers):
                out.append(f"    … and {self.blocking - len(self.blockers)} more")
        return out


_BLOCKERS = """
    with codes as (select distinct dossier_code from {table}),
    judged as (
        select c.dossier_code, d.dossier_code is not null as known, d.is_open, d.ended_at,
               (select max(e.occurred_at) from events e where e.dossier_code = c.dossier_code) as newest
        from codes c left join dossiers d using (dossier_code)
    )
    select dossier_code, known, is_open, ended_at, newest, count(*) over () as blocking
    from judged
    where not known or ended_at is null or ended_at > :horizon or newest > :horizon
    order by dossier_code
    limit :named
"""


def _why(known: bool, is_open: bool, ended_at: datetime | None, newest: datetime | None, h: int) -> str:
    if not known:
        return "no dossier row"
    if ended_at is None:
        return "open" if is_open else "not ended (never received, or still waiting)"
    if newest is not None and newest > ended_at:
        return f"newest event {newest:%Y-%m-%d}, less than {h} days ago"
    return f"ended {ended_at:%Y-%m-%d}, less than {h} days ago"


async def survey_month(conn: AsyncConnection, table: str, month: date, policy: Policy) -> MonthSurvey:
    """Rules 1 and 2 for the events of `month` held in `table` (its partition)."""
    counts = (await conn.execute(text(f"select count(*), count(distinct dossier_code) from {table}"))).one()
    found = MonthSurvey(month, int(counts[0]), int(counts[1]), policy.too_recent(month))
    rows = await conn.execute(
        text(_BLOCKERS.format(table=table)), {"horizon": policy.horizon, "named": NAMED_BLOCKERS}
    )
    for code, known, is_open, ended_at, newest, blocking in rows:
        found.blocking = int(blocking)
        found.blockers.append((code, _why(known, is_open, ended_at, newest, policy.refold_horizon_days)))
    return found


async def survey(engine: AsyncEngine, schema: str, before: date, policy: Policy) -> list[MonthSurvey]:
    """Each month before `before` that has a partition, oldest first, with what blocks it. Rows of
    those months waiting in the DEFAULT partition are first moved into their months' partitions."""
    async with engine.begin() as conn:
        await partitions.lock(conn, schema)
        waiting = {m for m in await partitions.default_months(conn) if m < before}
        await partitions.ensure_months(conn, schema, waiting)
        months = sorted(m for m in await partitions.attached_months(conn) if m < before)
    found = []
    async with engine.connect() as conn:
        for month in months:
            found.append(await survey_month(conn, partition_name(month), month, policy))
    return found


def _files(directory: Path, month: date) -> tuple[Path, Path]:
    stem = directory / f"events-{month:%Y-%m}"
    return stem.with_suffix(".pgcopy"), stem.with_suffix(".json")


async def _driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn` (for COPY), in the same transaction."""
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def _detach(engine: AsyncEngine, schema: str, month: date, policy: Policy) -> MonthSurvey:
    """Check the month again under an exclusive lock on `events`, mark its dossiers archived, detach it
    and rename it `archiving_…`; nothing changes when it is blocked now."""
    name = partition_name(month)
    try:
        async with engine.begin() as conn:
            found = await _detach_in(conn, schema, name, month, policy)
    except _Blocked as blocked:
        return blocked.found
    return found


async def _detach_in(
    conn: AsyncConnection, schema: str, name: str, month: date, policy: Policy
) -> MonthSurvey:
    await partitions.lock(conn, schema)
    await conn.execute(text("lock table events in access exclusive mode"))
    if month not in await partitions.attached_months(conn):
        raise _Blocked(MonthSurvey(month, too_recent="it is no longer a partition of events"))
    found = await survey_month(conn, name, month, policy)
    if not found.archivable:
        raise _Blocked(found)
    await conn.execute(
        text(
            "insert into archived_dossiers (dossier_code, month) "
            f"select distinct dossier_code, cast(:month as date) from {name} on conflict do nothing"
        ),
        {"month": month},
    )
    await conn.execute(text(f"alter table events detach partition {name}"))
    await conn.execute(text(f"alter table {name} rename to {ARCHIVING_PREFIX}{name}"))
    return found


async def _write_out(engine: AsyncEngine, month: date, directory: Path) -> int:
    """Copy the detached `archiving_` table of `month` to its file and manifest, then drop it."""
    table = f"{ARCHIVING_PREFIX}{partition_name(month)}"
    data, manifest = _files(directory, month)
    partial = data.with_suffix(".pgcopy.part")
    async with engine.begin() as conn:
        rows = int(await conn.scalar(text(f"select count(*) from {table}")) or 0)
        driver = await _driver(conn)
        await driver.copy_from_table(table, columns=list(COLUMNS), output=str(partial), format="binary")
    await asyncio.to_thread(_seal, partial, data, manifest, month, rows)
    async with engine.begin() as conn:
        await conn.execute(text(f"drop table {table}"))
    return rows


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _seal(partial: Path, data: Path, manifest: Path, month: date, rows: int) -> None:
    """Flush the copied file to disk, give it its name, and write its manifest beside it."""
    with partial.open("rb") as f:
        os.fsync(f.fileno())
    partial.replace(data)
    description = {
        "month": f"{month:%Y-%m}",
        "rows": rows,
        "columns": list(COLUMNS),
        "format": "postgresql binary copy",
        "sha256": _sha256(data),
        "file": data.name,
    }
    manifest.write_text(json.dumps(description, indent=2) + "\n")


async def unfinished(engine: AsyncEngine) -> list[date]:
    """Months detached by an earlier run that has not written them out yet."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "select c.relname from pg_class c where c.relnamespace = current_schema()::regnamespace "
                "and c.relkind = 'r' and c.relname like :prefix"
            ),
            {"prefix": f"{ARCHIVING_PREFIX}events_%"},
        )
        names = [cast(str, n)[len(ARCHIVING_PREFIX) :] for (n,) in rows]
    return sorted(m for n in names if (m := month_of_partition(n)) is not None)


async def archive(
    engine: AsyncEngine,
    schema: str,
    before: date,
    directory: Path | None,
    policy: Policy,
    say: Say,
    *,
    dry_run: bool = False,
) -> bool:
    """Archive every month before `before` to `directory` if none is blocked (see the module). Returns
    whether nothing was refused."""
    if not dry_run and directory is not None:
        for month in await unfinished(engine):
            await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
            rows = await _write_out(engine, month, directory)
            say(f"{month:%Y-%m}: finished an earlier run: {rows} events written to {directory}")
    months = await survey(engine, schema, before, policy)
    for found in months:
        for line in found.lines():
            say(line)
    if not months:
        say(f"no month before {before:%Y-%m} is stored")
        return True
    blocked = [f for f in months if not f.archivable]
    if blocked:
        say(f"refused: {len(blocked)} of {len(months)} months are blocked; nothing was archived")
        return False
    if dry_run or directory is None:
        say(f"dry run: {len(months)} months can be archived; nothing was changed")
        return True
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    for found in months:
        now_found = await _detach(engine, schema, found.month, policy)
        if not now_found.archivable:
            for line in now_found.lines():
                say(line)
            say(f"refused: {found.month:%Y-%m} was blocked meanwhile; the months before it are archived")
            return False
        rows = await _write_out(engine, found.month, directory)
        data, _ = _files(directory, found.month)
        say(f"{found.month:%Y-%m}: archived {rows} events of {now_found.dossiers} dossiers to {data}")
    return True


class _Blocked(Exception):
    def __init__(self, found: MonthSurvey) -> None:
        self.found = found


class RestoreError(Exception):
    """An archive file that cannot be restored (missing, altered, or already stored)."""


def read_manifest(data: Path) -> dict[str, Any]:
    """The manifest of an archive file, after checking the file against it."""
    manifest = data.with_suffix(".json")
    if not data.is_file() or not manifest.is_file():
        raise RestoreError(f"{data}: needs the file and its manifest {manifest.name}")
    description: dict[str, Any] = json.loads(manifest.read_text())
    if _sha256(data) != description["sha256"]:
        raise RestoreError(f"{data}: its SHA-256 differs from the manifest's: the file was altered")
    return description


async def restore(engine: AsyncEngine, schema: str, data: Path) -> tuple[date, int]:
    """Copy an archived month back into `events` (its partition is created if needed) and clear its
    dossiers' archived mark, in one transaction. Returns the month and the events restored."""
    description = await asyncio.to_thread(read_manifest, data)
    month = date.fromisoformat(description["month"] + "-01")
    async with engine.begin() as conn:
        await partitions.ensure_months(conn, schema, [month])
        driver = await _driver(conn)
        try:
            status = await driver.copy_to_table(
                "events", source=str(data), columns=list(description["columns"]), format="binary"
            )
        except asyncpg.UniqueViolationError:
            raise RestoreError(f"{data}: some of its events are stored already (restored before?)") from None
        restored = int(str(status).split()[-1])
        if restored != description["rows"]:
            raise RestoreError(f"{data}: {restored} rows read, the manifest says {description['rows']}")
        await conn.execute(text("delete from archived_dossiers where month = :month"), {"month": month})
    return month, restored
