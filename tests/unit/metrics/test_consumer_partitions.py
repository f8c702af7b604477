"""What the live index holds across revocations and assignments: a partition leaves it only when the
next assignment gives it to another member, and one that comes back is replaced in one step, so its
counters never dip in between (Prometheus would read a counter reset). The Kafka consumer and the
store are stand-ins here; the real ones are exercised in tests/integration/metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiokafka import TopicPartition

from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_metrics.consumer import StatusConsumer
from dossier_metrics.counters import WIDTH
from dossier_metrics.index import LiveIndex
from dossier_metrics.projector import Projector
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.store import PartitionState
from dossier_runtime.retry import Backoff, Streak

AGENCY = "000.00.12.H49"
TOPIC = "dossier.status.v1.unit"


def counts(n: int) -> tuple[int, ...]:
    return (n,) + (0,) * (WIDTH - 1)


class Store:
    """Stored counters per partition (what `load_partition` reads) and stored offsets."""

    def __init__(self) -> None:
        self.counters: dict[int, int] = {}
        self.offsets: dict[int, int] = {}
        self.down = False

    async def stored_offsets(self, topic: str, partitions: list[int]) -> dict[int, int]:
        if self.down:
            raise ConnectionRefusedError("PostgreSQL is down")
        return {p: self.offsets[p] for p in partitions if p in self.offsets}

    async def load_partition(self, partition: int) -> PartitionState:
        if self.down:
            raise ConnectionRefusedError("PostgreSQL is down")
        return PartitionState({AGENCY: counts(self.counters.get(partition, 0))}, [], None)


class Kafka:
    """The calls the consumer makes on its Kafka consumer."""

    def __init__(self) -> None:
        self.paused: set[int] = set()
        self.positions: dict[int, int] = {}
        self.assigned: set[int] = set()

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, p) for p in self.assigned}

    def pause(self, *tps: Any) -> None:
        self.paused |= {tp.partition for tp in tps}

    def resume(self, *tps: Any) -> None:
        self.paused -= {tp.partition for tp in tps}

    def seek(self, tp: Any, offset: int) -> None:
        self.positions[tp.partition] = offset

    async def seek_to_beginning(self, tp: Any) -> None:
        self.positions[tp.partition] = 0


def consumer_with(store: Store, calendar: WorkingCalendar) -> StatusConsumer:
    index = LiveIndex(calendar, lambda: datetime(2026, 12, 1, 9, tzinfo=VN_TZ))
    projector = Projector(store, index, calendar)  # type: ignore[arg-type]
    return StatusConsumer(MetricsSettings(status_topic=TOPIC), projector)


def received(consumer: StatusConsumer) -> int:
    figures = consumer.projector.index.figures([AGENCY])
    return figures.counters_of(AGENCY)[0]


async def test_revoked_partitions_stay_until_the_next_assignment(calendar: WorkingCalendar) -> None:
    store, kafka = Store(), Kafka()
    store.counters, store.offsets = {0: 5, 1: 7, 2: 11}, {0: 50, 1: 70}
    consumer = consumer_with(store, calendar)
    kafka.assigned = {0, 1, 2}
    consumer._assigned(kafka, {0, 1, 2})  # type: ignore[arg-type]
    assert kafka.paused == {0, 1, 2} and not consumer.progressing  # nothing read before it is loaded
    await consumer._load_pending(kafka)  # type: ignore[arg-type]
    assert kafka.paused == set() and kafka.positions == {0: 50, 1: 70, 2: 0}
    assert consumer.owned == {0, 1, 2} and consumer.progressing
    assert received(consumer) == 23

    # A rebalance (or the consumer started again after a failure): nothing is dropped yet.
    consumer._revoked({0, 1, 2})
    assert not consumer.progressing and consumer.owned == set()
    assert received(consumer) == 23
    store.counters[1] = 8  # meanwhile, partition 1 moved on
    # The new assignment keeps 0 and 1; 2 went to another member and leaves the index now.
    kafka.assigned = {0, 1}
    consumer._assigned(kafka, {0, 1})  # type: ignore[arg-type]
    assert received(consumer) == 12 and sorted(consumer.projector.index.partitions) == [0, 1]
    await consumer._load_pending(kafka)  # type: ignore[arg-type]
    assert received(consumer) == 13 and consumer.progressing


async def test_a_load_that_fails_is_tried_again_and_keeps_what_the_index_holds(
    calendar: WorkingCalendar,
) -> None:
    store, kafka = Store(), Kafka()
    store.counters = {0: 5}
    kafka.assigned = {0}
    consumer = consumer_with(store, calendar)
    consumer._assigned(kafka, {0})  # type: ignore[arg-type]
    await consumer._load_pending(kafka)  # type: ignore[arg-type]
    consumer._revoked({0})
    consumer._assigned(kafka, {0})  # type: ignore[arg-type]
    store.down = True
    failures = Streak(Backoff(first_s=0.001, max_s=0.01))
    await consumer._step(kafka, failures)  # type: ignore[arg-type]
    assert consumer.failing is not None and not consumer.progressing and failures.failures == 1
    assert received(consumer) == 5 and kafka.paused == {0}
    store.down = False
    await consumer._load_pending(kafka)  # type: ignore[arg-type]
    assert consumer.owned == {0} and kafka.paused == set() and received(consumer) == 5


async def test_a_partition_whose_rebalance_has_begun_is_not_loaded(calendar: WorkingCalendar) -> None:
    store, kafka = Store(), Kafka()
    store.counters = {0: 5, 1: 7}
    consumer = consumer_with(store, calendar)
    kafka.assigned = {0, 1}
    consumer._assigned(kafka, {0, 1})  # type: ignore[arg-type]
    kafka.assigned = {0}  # the consumer already let partition 1 go; the revocation comes next
    await consumer._load_pending(kafka)  # type: ignore[arg-type]
    assert consumer.owned == {0} and consumer.pending == {1} and kafka.positions == {0: 0}
    consumer._revoked({0, 1})
    assert consumer.stale == {0, 1} and received(consumer) == 5
