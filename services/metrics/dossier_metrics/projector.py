"""Turns consumed `DossierStatusChanged` messages into stored snapshots and counter deltas (one
transaction per batch, with the offsets), then brings the live index in step."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from dossier_contracts.event_codec import from_timestamp
from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.calendar import WorkingCalendar
from dossier_core.dossier import Dossier
from dossier_metrics.counters import counted
from dossier_metrics.index import LiveIndex
from dossier_metrics.store import ProjectionStore, SnapshotRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Consumed:
    """The part of a Kafka record the projection needs."""

    offset: int
    value: bytes | None


def to_record(raw: bytes, partition: int, calendar: WorkingCalendar) -> tuple[SnapshotRecord, Dossier]:
    """Decode one snapshot; raises `ValueError` for a message that is not a usable snapshot."""
    msg = decode_snapshot(raw)
    dossier = snapshot_to_dossier(msg)
    record = SnapshotRecord(
        dossier_code=msg.dossier_code,
        partition=partition,
        version=msg.version,
        agency_code=msg.agency_code,
        procedure_code=msg.procedure_code,
        field=msg.field,
        received_at=dossier.received_at,
        ended_at=dossier.ended_at,
        changed_at=from_timestamp(msg.changed_at),
        counted=counted(dossier, calendar),
        payload=raw,
    )
    return record, dossier


class Projector:
    def __init__(self, store: ProjectionStore, index: LiveIndex, calendar: WorkingCalendar) -> None:
        self.store = store
        self.index = index
        self.calendar = calendar
        self.applied = 0
        self.skipped = 0

    async def apply(self, topic: str, partition: int, messages: Sequence[Consumed]) -> None:
        if not messages:
            return
        records: list[SnapshotRecord] = []
        dossiers: dict[tuple[str, int], Dossier] = {}
        for message in messages:
            if message.value is None:
                continue
            try:
                record, dossier = to_record(message.value, partition, self.calendar)
            except Exception as exc:  # a bad message must not stop the projection
                self.skipped += 1
                log.warning(
                    "skipped a message that is not a usable snapshot",
                    extra={
                        "topic": topic,
                        "partition": partition,
                        "offset": message.offset,
                        "error": str(exc),
                    },
                )
                continue
            records.append(record)
            dossiers[(record.dossier_code, record.version)] = dossier
        next_offset = messages[-1].offset + 1
        applied = await self.store.apply_batch(topic, partition, records, next_offset)
        self.applied += len(applied.records)
        last = max((r.changed_at.timestamp() for r in applied.records), default=None)
        self.index.apply(
            partition, [dossiers[(r.dossier_code, r.version)] for r in applied.records], applied.deltas, last
        )

    async def load_partition(self, partition: int) -> None:
        """Bring one partition's counters and open dossiers from the store into the live index."""
        state = await self.store.load_partition(partition)
        dossiers = [snapshot_to_dossier(decode_snapshot(raw)) for raw in state.open_payloads]
        last = state.last_changed_at.timestamp() if state.last_changed_at else None
        self.index.load_partition(partition, state.counters, dossiers, last)
