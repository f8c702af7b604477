"""All SQL of the projection. One Kafka batch of one partition is applied in one transaction that
also records the next offset to read, so a restart resumes exactly where the database stands."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dossier_metrics.counters import COUNTER_COLUMNS, ZERO, Counts, add, sub
from dossier_metrics.models import agency_counter, consumed_offset, dossier_snapshot


@dataclass(frozen=True)
class SnapshotRecord:
    """One dossier's snapshot as the projection stores it."""

    dossier_code: str
    partition: int
    version: int
    agency_code: str
    procedure_code: str
    field: str
    received_at: datetime | None
    ended_at: datetime | None
    changed_at: datetime
    counted: Counts
    payload: bytes


@dataclass
class AppliedBatch:
    """What a batch changed: the records newer than what was stored, and the counter deltas."""

    records: list[SnapshotRecord] = field(default_factory=list)
    deltas: dict[str, Counts] = field(default_factory=dict)
    ignored: int = 0


@dataclass
class PartitionState:
    counters: dict[str, Counts]
    open_payloads: list[bytes]
    last_changed_at: datetime | None


def latest_per_dossier(records: Iterable[SnapshotRecord]) -> list[SnapshotRecord]:
    """Within one batch, only each dossier's highest version matters."""
    best: dict[str, SnapshotRecord] = {}
    for record in records:
        seen = best.get(record.dossier_code)
        if seen is None or record.version > seen.version:
            best[record.dossier_code] = record
    return list(best.values())


class ProjectionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def apply_batch(
        self, topic: str, partition: int, records: Sequence[SnapshotRecord], next_offset: int
    ) -> AppliedBatch:
        candidates = latest_per_dossier(records)
        async with self.engine.begin() as conn:
            # During a rebalance the old and the new owner of a partition may overlap for one batch;
            # this lock makes their transactions take turns, and the version check does the rest.
            lock_space = func.hashtext(func.current_schema())
            await conn.execute(select(func.pg_advisory_xact_lock(lock_space, partition)))
            applied = await self._apply(conn, partition, candidates)
            applied.ignored = len(records) - len(applied.records)
            await _save_offset(conn, topic, partition, next_offset)
        return applied

    async def _apply(
        self, conn: AsyncConnection, partition: int, candidates: list[SnapshotRecord]
    ) -> AppliedBatch:
        applied = AppliedBatch()
        if not candidates:
            return applied
        t = dossier_snapshot.c
        rows = await conn.execute(
            select(t.dossier_code, t.version, t.agency_code, t.counted)
            .where(t.dossier_code.in_([r.dossier_code for r in candidates]))
            .with_for_update()
        )
        stored = {row.dossier_code: row for row in rows}
        deltas: dict[str, Counts] = defaultdict(lambda: ZERO)
        for record in candidates:
            old = stored.get(record.dossier_code)
            if old is not None and old.version >= record.version:
                continue  # an older or repeated version: the stored one is newer
            if old is not None:
                deltas[old.agency_code] = sub(deltas[old.agency_code], tuple(old.counted))
            deltas[record.agency_code] = add(deltas[record.agency_code], record.counted)
            applied.records.append(record)
        if applied.records:
            await _upsert_snapshots(conn, applied.records)
        applied.deltas = {agency: d for agency, d in deltas.items() if any(d)}
        if applied.deltas:
            await _add_counters(conn, partition, applied.deltas)
        return applied

    async def stored_offsets(self, topic: str, partitions: Iterable[int]) -> dict[int, int]:
        c = consumed_offset.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(c.partition, c.next_offset).where(c.topic == topic, c.partition.in_(list(partitions)))
            )
            return {row.partition: row.next_offset for row in rows}

    async def load_partition(self, partition: int) -> PartitionState:
        """Counters, open dossiers and newest change of one partition, to rebuild the live index."""
        s, a = dossier_snapshot.c, agency_counter.c
        async with self.engine.connect() as conn:
            counter_rows = await conn.execute(
                select(a.agency_code, *(a[name] for name in COUNTER_COLUMNS)).where(a.partition == partition)
            )
            counters = {row[0]: tuple(int(v) for v in row[1:]) for row in counter_rows}
            open_rows = await conn.execute(
                select(s.payload).where(
                    s.partition == partition,
                    s.received_at.is_not(None),
                    or_(s.ended_at.is_(None), s.ended_at > func.now()),
                )
            )
            payloads = [row.payload for row in open_rows]
            last = await conn.scalar(select(func.max(s.changed_at)).where(s.partition == partition))
        return PartitionState(counters, payloads, last)

    async def counter_totals(self) -> dict[str, Counts]:
        """Counters per agency over every partition (what a rebuild is compared on)."""
        a = agency_counter.c
        async with self.engine.connect() as conn:
            sums = (func.sum(a[name]) for name in COUNTER_COLUMNS)
            rows = await conn.execute(select(a.agency_code, *sums).group_by(a.agency_code))
            return {row[0]: tuple(int(v) for v in row[1:]) for row in rows}

    async def counted_agencies(self) -> set[str]:
        """Every agency that has counters: a superset of the agencies with a received dossier."""
        a = agency_counter.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(a.agency_code).distinct())
            return {row[0] for row in rows}

    async def snapshot_versions(self) -> dict[str, int]:
        s = dossier_snapshot.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(s.dossier_code, s.version))
            return {row.dossier_code: row.version for row in rows}

    async def snapshots_for_period(
        self, start: datetime, end: datetime, agencies: Sequence[str] | None, chunk: int = 2000
    ) -> AsyncIterator[tuple[str, bytes]]:
        """(field, payload) of every dossier that can contribute to a period [start, end): received
        before its end and not ended before its start. The domain decides what each contributes."""
        s = dossier_snapshot.c
        query = select(s.field, s.payload).where(
            s.received_at.is_not(None), s.received_at < end, or_(s.ended_at.is_(None), s.ended_at >= start)
        )
        if agencies is not None:
            query = query.where(s.agency_code.in_(list(agencies)))
        async with self.engine.connect() as conn:
            result = await conn.stream(query.execution_options(yield_per=chunk))
            async for row in result:
                yield row.field, row.payload


async def _upsert_snapshots(conn: AsyncConnection, records: list[SnapshotRecord]) -> None:
    stmt = insert(dossier_snapshot)
    names = [column.name for column in dossier_snapshot.c if column.name != "dossier_code"]
    updated = {name: stmt.excluded[name] for name in names}
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[dossier_snapshot.c.dossier_code],
            set_=updated,
            where=dossier_snapshot.c.version < stmt.excluded.version,
        ),
        [
            {
                "dossier_code": r.dossier_code,
                "partition": r.partition,
                "version": r.version,
                "agency_code": r.agency_code,
                "procedure_code": r.procedure_code,
                "field": r.field,
                "received_at": r.received_at,
                "ended_at": r.ended_at,
                "changed_at": r.changed_at,
                "counted": list(r.counted),
                "payload": r.payload,
            }
            for r in records
        ],
    )


async def _add_counters(conn: AsyncConnection, partition: int, deltas: dict[str, Counts]) -> None:
    stmt = insert(agency_counter)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[agency_counter.c.partition, agency_counter.c.agency_code],
            set_={name: agency_counter.c[name] + stmt.excluded[name] for name in COUNTER_COLUMNS},
        ),
        [
            {"partition": partition, "agency_code": agency, **dict(zip(COUNTER_COLUMNS, d, strict=True))}
            for agency, d in sorted(deltas.items())
        ],
    )


async def _save_offset(conn: AsyncConnection, topic: str, partition: int, next_offset: int) -> None:
    stmt = insert(consumed_offset).values(topic=topic, partition=partition, next_offset=next_offset)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[consumed_offset.c.topic, consumed_offset.c.partition],
            set_={"next_offset": stmt.excluded.next_offset},
        )
    )


__all__ = ["AppliedBatch", "PartitionState", "ProjectionStore", "SnapshotRecord"]
