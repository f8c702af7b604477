"""Turns consumed `DossierStatusChanged` messages into stored snapshots and counter deltas (one
transaction per batch, with the offsets), then brings the live index in step.

A message that cannot be used never stops the projection and never costs its neighbours: it is
skipped, logged and counted by reason (`SKIP_REASONS`), and its offset advances with the batch.
When PostgreSQL refuses a batch because of its data (a deterministic error, e.g. a NUL character in
a code), the batch is applied again one snapshot per transaction so that only the refused snapshot
is skipped. Any other database error (connection lost, server restarting, …) is transient: it is
raised to the consumer, which reads the same records again after a pause."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from dossier_contracts.event_codec import from_timestamp
from dossier_contracts.gen.dossier.v1 import status_pb2
from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.calendar import WorkingCalendar
from dossier_core.dossier import Dossier
from dossier_metrics.counters import counted
from dossier_metrics.db import is_deterministic
from dossier_metrics.index import LiveIndex
from dossier_metrics.store import AppliedBatch, ProjectionStore, SnapshotRecord

log = logging.getLogger(__name__)

#: Why a message was skipped: no value (a tombstone), not a snapshot, a snapshot the domain cannot
#: use, or a snapshot PostgreSQL refuses to store.
SKIP_REASONS = ("empty", "undecodable", "invalid", "unappliable")


class SkippedMessage(ValueError):
    def __init__(self, reason: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason


@dataclass(frozen=True)
class Consumed:
    """The part of a Kafka record the projection needs."""

    offset: int
    value: bytes | None


def _decode(raw: bytes) -> status_pb2.DossierStatusChanged:
    try:
        return decode_snapshot(raw)
    except (DecodeError, ValueError, TypeError) as exc:
        raise SkippedMessage("undecodable", f"{type(exc).__name__}: {exc}") from exc


def to_record(raw: bytes, partition: int, calendar: WorkingCalendar) -> tuple[SnapshotRecord, Dossier]:
    """Decode one snapshot; raises `SkippedMessage` for a message that is not a usable snapshot."""
    msg = _decode(raw)
    try:
        if not msg.dossier_code or not msg.agency_code:
            raise ValueError("a snapshot needs dossier_code and agency_code")
        texts = (msg.dossier_code, msg.agency_code, msg.procedure_code, msg.field)
        if any("\x00" in value for value in texts):
            raise ValueError("a code or field holds a NUL character")
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
    except Exception as exc:
        raise SkippedMessage("invalid", f"{type(exc).__name__}: {exc}") from exc
    return record, dossier


class Projector:
    def __init__(self, store: ProjectionStore, index: LiveIndex, calendar: WorkingCalendar) -> None:
        self.store = store
        self.index = index
        self.calendar = calendar
        self.applied = 0
        self.skipped: Counter[str] = Counter({reason: 0 for reason in SKIP_REASONS})

    def _skip(self, reason: str, topic: str, partition: int, offset: int, error: str) -> None:
        self.skipped[reason] += 1
        log.warning(
            "skipped a message that is not a usable snapshot",
            extra={
                "reason": reason,
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "error": error,
            },
        )

    async def apply(self, topic: str, partition: int, messages: Sequence[Consumed]) -> None:
        """Store a batch of one partition and bring the live index in step. Raises only for a
        transient database failure, with nothing of the batch committed."""
        if not messages:
            return
        decoded: list[tuple[int, SnapshotRecord, Dossier]] = []
        for message in messages:
            if message.value is None:
                self._skip("empty", topic, partition, message.offset, "no value")
                continue
            try:
                record, dossier = to_record(message.value, partition, self.calendar)
            except SkippedMessage as exc:
                self._skip(exc.reason, topic, partition, message.offset, str(exc))
                continue
            decoded.append((message.offset, record, dossier))
        next_offset = messages[-1].offset + 1
        try:
            applied = await self.store.apply_batch(topic, partition, [r for _, r, _ in decoded], next_offset)
        except Exception as exc:
            if not is_deterministic(exc):
                raise
            log.warning(
                "the database refused a batch; applying it one snapshot at a time",
                extra={"topic": topic, "partition": partition, "error": str(exc)},
            )
            await self._one_by_one(topic, partition, decoded, next_offset)
            return
        self._follow(partition, applied, {(r.dossier_code, r.version): d for _, r, d in decoded})

    async def _one_by_one(
        self, topic: str, partition: int, decoded: list[tuple[int, SnapshotRecord, Dossier]], next_offset: int
    ) -> None:
        for offset, record, dossier in decoded:
            try:
                applied = await self.store.apply_batch(topic, partition, [record], offset + 1)
            except Exception as exc:
                if not is_deterministic(exc):
                    raise
                self._skip("unappliable", topic, partition, offset, f"{type(exc).__name__}: {exc}")
                continue
            self._follow(partition, applied, {(record.dossier_code, record.version): dossier})
        await self.store.apply_batch(topic, partition, [], next_offset)

    def _follow(
        self, partition: int, applied: AppliedBatch, dossiers: dict[tuple[str, int], Dossier]
    ) -> None:
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
