"""Turns consumed `DossierStatusChanged` messages into stored snapshots and counter deltas (one
transaction per batch, with the offsets), then brings the live index in step.

A message that cannot be used never stops the projection and never costs its neighbours: it is
skipped, logged and counted by reason (`SKIP_REASONS`), and its offset advances with the batch.
When PostgreSQL refuses a batch because of its data (a deterministic error, e.g. a NUL character in
a code), the batch is applied again one snapshot per transaction so that only the refused snapshot
is skipped. Any other database error (connection lost, server restarting, …) is transient: it is
raised to the consumer, which reads the same records again after a pause.

The store keeps only each dossier's newest version for the live figures, so within a batch that
version is converted through the domain first (`snapshot_to_dossier`, its report facts and counters,
most of a snapshot's cost); an older version of the same dossier in the same batch is converted for
the report history only (`FactVersion`: what the system knew from when intake accepted its newest
event, for `as_of` reports), and for the live figures only if every newer one turns out unusable."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

from google.protobuf.message import DecodeError

from dossier_contracts.event_codec import from_timestamp
from dossier_contracts.gen.dossier.v1 import status_pb2
from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.calendar import WorkingCalendar
from dossier_core.dossier import Dossier
from dossier_core.report_facts import ReportFacts, facts_of
from dossier_metrics.batch_store import FactVersion
from dossier_metrics.counters import counted_from
from dossier_metrics.db import is_deterministic
from dossier_metrics.freshness import Freshness
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


class Consumed(NamedTuple):
    """The part of a Kafka record the projection needs."""

    offset: int
    value: bytes | None


class Candidate(NamedTuple):
    """A message that parsed as a snapshot with usable codes, not yet converted."""

    offset: int
    raw: bytes
    msg: status_pb2.DossierStatusChanged


def parse(raw: bytes) -> status_pb2.DossierStatusChanged:
    """The snapshot in `raw`, checked for what the store needs of its codes; raises `SkippedMessage`."""
    try:
        msg = decode_snapshot(raw)
    except (DecodeError, ValueError, TypeError) as exc:
        raise SkippedMessage("undecodable", f"{type(exc).__name__}: {exc}") from exc
    if not msg.dossier_code or not msg.agency_code:
        raise SkippedMessage("invalid", "ValueError: a snapshot needs dossier_code and agency_code")
    if "\x00" in "".join((msg.dossier_code, msg.agency_code, msg.procedure_code, msg.field)):
        raise SkippedMessage("invalid", "ValueError: a code or field holds a NUL character")
    return msg


def to_record(
    msg: status_pb2.DossierStatusChanged, raw: bytes, partition: int, calendar: WorkingCalendar
) -> tuple[SnapshotRecord, Dossier]:
    """What the store and the index need of a parsed snapshot; raises `SkippedMessage` when the
    domain cannot use it."""
    try:
        dossier = snapshot_to_dossier(msg)
        facts = facts_of(dossier, calendar)
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
            counted=counted_from(facts),
            payload=raw,
            facts=facts,
        )
    except Exception as exc:
        raise SkippedMessage("invalid", f"{type(exc).__name__}: {exc}") from exc
    return record, dossier


def fact_version(msg: status_pb2.DossierStatusChanged, raw: bytes, facts: ReportFacts) -> FactVersion:
    """The history entry of a converted version, known from when intake accepted its newest event
    (when processing committed it, for a version that applies no new event)."""
    known = msg.accepted_at if msg.HasField("accepted_at") else msg.changed_at
    return FactVersion(
        dossier_code=msg.dossier_code,
        version=msg.version,
        known_from=from_timestamp(known),
        last_event_id=msg.last_event_id,
        agency_code=msg.agency_code,
        procedure_code=msg.procedure_code,
        field=msg.field,
        facts=facts,
        payload=raw if facts.pauses_from is not None else None,
    )


def _history_of(candidate: Candidate, calendar: WorkingCalendar) -> FactVersion | None:
    try:
        facts = facts_of(snapshot_to_dossier(candidate.msg), calendar)
        return fact_version(candidate.msg, candidate.raw, facts)
    except Exception:  # an unusable older version leaves no trace in the history, as in the store
        return None


class Decoded(NamedTuple):
    """A dossier's newest usable snapshot in a batch, converted."""

    offset: int
    record: SnapshotRecord
    dossier: Dossier


def _version(candidate: Candidate) -> int:
    return candidate.msg.version


def _offset(decoded: Decoded) -> int:
    return decoded.offset


class Projector:
    def __init__(self, store: ProjectionStore, index: LiveIndex, calendar: WorkingCalendar) -> None:
        self.store = store
        self.index = index
        self.calendar = calendar
        self.applied = 0
        self.freshness = Freshness()
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
        decoded, history, accepted_at = self._newest(topic, partition, messages)
        next_offset = messages[-1].offset + 1
        try:
            applied = await self.store.apply_batch(
                topic, partition, [d.record for d in decoded], next_offset, history
            )
        except Exception as exc:
            if not is_deterministic(exc):
                raise
            log.warning(
                "the database refused a batch; applying it one snapshot at a time",
                extra={"topic": topic, "partition": partition, "error": str(exc)},
            )
            await self._one_by_one(topic, partition, decoded, history, next_offset)
        else:
            self._follow(partition, applied, decoded)
        self.freshness.observe_visible(accepted_at)

    def _newest(
        self, topic: str, partition: int, messages: Sequence[Consumed]
    ) -> tuple[list[Decoded], list[FactVersion], list[float]]:
        """Each dossier's newest usable snapshot in the batch, in offset order, and when intake accepted
        the events of every parsed version (seconds since the epoch, for the freshness histogram).
        Every message is parsed; only the newest version of a dossier is converted through the domain
        (an older one only when the newer ones cannot be used), since the store would keep no other."""
        versions: dict[str, list[Candidate]] = {}
        accepted_at: list[float] = []
        for offset, value in messages:
            if value is None:
                self._skip("empty", topic, partition, offset, "no value")
                continue
            try:
                msg = parse(value)
            except SkippedMessage as exc:
                self._skip(exc.reason, topic, partition, offset, str(exc))
                continue
            versions.setdefault(msg.dossier_code, []).append(Candidate(offset, value, msg))
            if msg.HasField("accepted_at"):
                accepted_at.append(msg.accepted_at.seconds + msg.accepted_at.nanos / 1e9)
        decoded: list[Decoded] = []
        history: list[FactVersion] = []
        for candidates in versions.values():
            if len(candidates) > 1:
                candidates.sort(key=_version, reverse=True)  # stable: the first of equal versions leads
            newest = None
            for candidate in candidates:
                if newest is not None:
                    older = _history_of(candidate, self.calendar)
                    if older is not None:
                        history.append(older)
                    continue
                try:
                    record, dossier = to_record(candidate.msg, candidate.raw, partition, self.calendar)
                except SkippedMessage as exc:
                    self._skip(exc.reason, topic, partition, candidate.offset, str(exc))
                    continue
                newest = Decoded(candidate.offset, record, dossier)
                decoded.append(newest)
                history.append(fact_version(candidate.msg, candidate.raw, record.facts))
        decoded.sort(key=_offset)
        return decoded, history, accepted_at

    async def _one_by_one(
        self,
        topic: str,
        partition: int,
        decoded: list[Decoded],
        history: list[FactVersion],
        next_offset: int,
    ) -> None:
        versions: dict[str, list[FactVersion]] = {}
        for version in history:
            versions.setdefault(version.dossier_code, []).append(version)
        for one in decoded:
            own = versions.get(one.record.dossier_code, [])
            try:
                applied = await self.store.apply_batch(topic, partition, [one.record], one.offset + 1, own)
            except Exception as exc:
                if not is_deterministic(exc):
                    raise
                self._skip("unappliable", topic, partition, one.offset, f"{type(exc).__name__}: {exc}")
                continue
            self._follow(partition, applied, [one])
        await self.store.apply_batch(topic, partition, [], next_offset)

    def _follow(self, partition: int, applied: AppliedBatch, decoded: list[Decoded]) -> None:
        self.applied += len(applied.records)
        last = max((r.changed_at.timestamp() for r in applied.records), default=None)
        dossiers = {d.record.dossier_code: d.dossier for d in decoded}
        self.index.apply(partition, [dossiers[r.dossier_code] for r in applied.records], applied.deltas, last)

    async def load_partition(self, partition: int) -> None:
        """Bring one partition's counters and open dossiers from the store into the live index."""
        state = await self.store.load_partition(partition)
        dossiers = [snapshot_to_dossier(decode_snapshot(raw)) for raw in state.open_payloads]
        last = state.last_changed_at.timestamp() if state.last_changed_at else None
        self.index.load_partition(partition, state.counters, dossiers, last)
