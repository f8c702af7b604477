"""The projection's reads and its batch transaction (whose statements are in `batch_store`). One
Kafka batch of one partition is applied in one transaction that also records the next offset to read,
so a restart resumes exactly where the database stands."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_metrics.batch_store import (
    LOCK_PARTITION,
    WRITE_BATCH,
    AppliedBatch,
    FactVersion,
    SnapshotRecord,
    latest_per_dossier,
    newer,
    write_arguments,
)
from dossier_metrics.counters import COUNTER_COLUMNS, Counts
from dossier_metrics.db import is_deterministic
from dossier_metrics.models import agency_counter, consumed_offset, dossier_snapshot


@dataclass
class PartitionState:
    counters: dict[str, Counts]
    open_payloads: list[bytes]
    last_changed_at: datetime | None


class ProjectionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def apply_batch(
        self,
        topic: str,
        partition: int,
        records: Sequence[SnapshotRecord],
        next_offset: int,
        history: Sequence[FactVersion] = (),
    ) -> AppliedBatch:
        """Store what is newer than the stored snapshots with their report facts, add the counter
        deltas, keep every version's facts in the history and record `next_offset`, in one
        transaction of three statements whatever the batch's size."""
        candidates = latest_per_dossier(records)
        async with self.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection  # asyncpg's
            try:
                async with driver.transaction():
                    # During a rebalance the old and the new owner of a partition may overlap for one
                    # batch; this lock makes their transactions take turns, the version check does the rest.
                    await driver.execute(LOCK_PARTITION, partition)
                    applied = await newer(driver, candidates)
                    applied.ignored = len(records) - len(applied.records)
                    await driver.execute(
                        WRITE_BATCH, *write_arguments(topic, partition, applied, next_offset, history)
                    )
            except Exception as exc:
                if not is_deterministic(exc):
                    await conn.invalidate()  # the pool cannot see what became of it: never reuse it
                raise
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


__all__ = ["AppliedBatch", "PartitionState", "ProjectionStore", "SnapshotRecord"]
