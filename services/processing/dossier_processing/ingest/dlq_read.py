"""Reading the dead-letter topic: `DeadLetter` records (with the headers `dlq.py` wrote), a `Selection` by
reason and time window, and `scan`, which reads the topic from its start (or from `since`, found with the
broker's time index) up to the end offsets it finds when it starts. Used by `dlq_cli.py`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dossier_core.calendar import VN_TZ
from dossier_processing.ingest.dlq import (
    ERROR_HEADER,
    EVENT_ID_HEADER,
    REASON_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_PARTITION_HEADER,
    TRUNCATED_HEADER,
)
from dossier_runtime.kafka import KafkaConnection, client_options


@dataclass(frozen=True)
class DeadLetter:
    """One record of the dead-letter topic."""

    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]

    def header(self, name: str) -> str:
        return self.headers.get(name, b"").decode(errors="replace")

    @property
    def reason(self) -> str:
        return self.header(REASON_HEADER) or "unknown"

    @property
    def truncated(self) -> bool:
        return TRUNCATED_HEADER in self.headers

    def line(self) -> str:
        """One line for a person: when, why, where it was and which event."""
        key = (self.key or b"").decode(errors="replace")[:60] or "-"
        source = f"{self.header(SOURCE_PARTITION_HEADER) or '?'}@{self.header(SOURCE_OFFSET_HEADER) or '?'}"
        return "  ".join(
            [
                self.timestamp.isoformat(timespec="seconds"),
                self.reason,
                f"dlq {self.partition}@{self.offset}",
                f"from {source}",
                f"key {key}",
                f"event {self.header(EVENT_ID_HEADER) or '-'}",
                self.header(ERROR_HEADER)[:200],
            ]
        )


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command works on: reasons (empty = all) and a time window."""

    reasons: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, letter: DeadLetter) -> bool:
        if self.reasons and letter.reason not in self.reasons:
            return False
        if self.since is not None and letter.timestamp < self.since:
            return False
        return self.until is None or letter.timestamp <= self.until

    def describe(self) -> str:
        reasons = ", ".join(sorted(self.reasons)) if self.reasons else "any reason"
        since = self.since.isoformat(timespec="seconds") if self.since else "the start"
        until = self.until.isoformat(timespec="seconds") if self.until else "now"
        return f"{reasons}, from {since} to {until}"


Progress = Callable[[int, int, int], None]


async def scan(
    connection: KafkaConnection | str, topic: str, selection: Selection, progress: Progress | None = None
) -> AsyncIterator[DeadLetter]:
    """The dead letters of `topic` that `selection` matches, partition by partition, from the start (or
    `since`) to the end offsets found when the scan starts. `progress(scanned, total, selected)`."""
    partitions = await _partitions(connection, topic)
    if not partitions:
        return
    reader = AIOKafkaConsumer(**client_options(connection), enable_auto_commit=False, group_id=None)
    await reader.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        ends = await reader.end_offsets(tps)
        starts = await reader.beginning_offsets(tps)
        if selection.since is not None:
            stamp = int(selection.since.timestamp() * 1000)
            found = await reader.offsets_for_times({tp: stamp for tp in tps})
            starts = {tp: found[tp].offset if found[tp] is not None else ends[tp] for tp in tps}
        pending = [tp for tp in tps if starts[tp] < ends[tp]]
        total = sum(ends[tp] - starts[tp] for tp in pending)
        if not pending:
            return
        reader.assign(pending)
        for tp in pending:
            reader.seek(tp, starts[tp])
        scanned = selected = 0
        while pending:
            batch = await reader.getmany(*pending, timeout_ms=1000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset >= ends[tp]:
                        continue
                    scanned += 1
                    letter = DeadLetter(
                        r.partition,
                        r.offset,
                        datetime.fromtimestamp(r.timestamp / 1000, VN_TZ),
                        r.key,
                        r.value or b"",
                        {k: bytes(v) for k, v in r.headers},
                    )
                    if selection.matches(letter):
                        selected += 1
                        yield letter
            pending = [tp for tp in pending if await reader.position(tp) < ends[tp]]
            if progress is not None:
                progress(scanned, total, selected)
    finally:
        await reader.stop()


async def _partitions(connection: KafkaConnection | str, topic: str) -> list[int]:
    """The partitions of `topic` (none if it does not exist: nothing was dead-lettered yet)."""
    admin = AIOKafkaAdminClient(**client_options(connection))
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for p in described.get("partitions", ()))
