"""A batch is converted once per dossier (its newest usable version) and must leave the projection
exactly as applying its messages one by one would: same stored versions, counters and live index,
whatever the versions' order, the batch boundaries, redeliveries or unusable messages among them.
The store here is an in-memory stand-in with the store's semantics; tests/integration/metrics
checks the same against PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dossier_contracts.gen.dossier.v1 import status_pb2
from dossier_contracts.snapshot_codec import dossier_to_snapshot
from dossier_core.calendar import VN_TZ, WorkingCalendar
from dossier_core.catalog import Catalog, default_catalog_dir, load_catalog
from dossier_metrics.batch_store import AppliedBatch, FactVersion, SnapshotRecord, latest_per_dossier
from dossier_metrics.counters import WIDTH, Counts
from dossier_metrics.index import LiveIndex
from dossier_metrics.projector import Consumed, Projector
from tests.unit.metrics.conftest import Step, dossier_factory, vn

NOW = datetime(2021, 5, 3, 10, tzinfo=VN_TZ)
CATALOG: Catalog = load_catalog(default_catalog_dir())


class MemoryStore:
    """`ProjectionStore.apply_batch` over dictionaries: newest version per dossier wins, counters move
    by the difference, the offset is recorded."""

    def __init__(self) -> None:
        self.snapshots: dict[str, SnapshotRecord] = {}
        self.counters: dict[str, list[int]] = {}
        self.offset: int | None = None
        self.batches: list[list[SnapshotRecord]] = []
        self.history: dict[tuple[str, int], FactVersion] = {}

    async def apply_batch(
        self,
        topic: str,
        partition: int,
        records: Sequence[SnapshotRecord],
        next_offset: int,
        history: Sequence[FactVersion] = (),
    ) -> AppliedBatch:
        self.batches.append(list(records))
        for version in history:
            self.history.setdefault((version.dossier_code, version.version), version)
        applied = AppliedBatch()
        deltas: dict[str, list[int]] = {}
        for record in latest_per_dossier(records):
            old = self.snapshots.get(record.dossier_code)
            if old is not None and old.version >= record.version:
                continue
            for agency, counts, sign in ((record.agency_code, record.counted, 1),) + (
                ((old.agency_code, old.counted, -1),) if old else ()
            ):
                total = deltas.setdefault(agency, [0] * WIDTH)
                for k, value in enumerate(counts):
                    total[k] += sign * value
            self.snapshots[record.dossier_code] = record
            applied.records.append(record)
        applied.deltas = {a: tuple(d) for a, d in deltas.items() if any(d)}
        for agency, delta in applied.deltas.items():
            total = self.counters.setdefault(agency, [0] * WIDTH)
            for k, value in enumerate(delta):
                total[k] += value
        self.offset = next_offset
        return applied

    def state(self) -> tuple[dict[str, int], dict[str, Counts], int | None, dict[tuple[str, int], object]]:
        versions = {code: r.version for code, r in self.snapshots.items()}
        counters = {agency: tuple(c) for agency, c in self.counters.items() if any(c)}
        history = {key: (v.known_from, v.facts, v.payload is not None) for key, v in self.history.items()}
        return versions, counters, self.offset, history


def _versions() -> list[bytes]:
    """Every version of a few dossiers, as processing publishes them."""
    make = dossier_factory(CATALOG)
    calendar = CATALOG.calendar()
    scripts: list[list[Step]] = [
        [
            ("received", vn("2021-04-05 09:00")),
            ("processing", vn("2021-04-05 10:00")),
            ("resolved", vn("2021-04-08 10:00")),
        ],
        [
            ("received", vn("2021-04-06 09:00")),
            ("supplement_requested", vn("2021-04-06 15:00"), {"reason": "thiếu giấy tờ"}),
            ("supplement_received", vn("2021-04-12 09:00")),
            ("rescheduled", vn("2021-04-13 09:00"), {"new_appointment_at": "2021-04-20T09:00:00+07:00"}),
            ("returned", vn("2021-04-21 09:00")),
        ],
        [("received", vn("2021-04-07 09:00")), ("withdrawn", vn("2021-04-09 09:00"))],
        [("received", vn("2021-04-07 11:00")), ("fee_requested", vn("2021-04-07 12:00"))],
    ]
    out = []
    for n, script in enumerate(scripts):
        code = f"000.00.12.H49-210405-{n:04d}"
        channel = ("online", "direct", "postal")[n % 3]
        for k in range(1, len(script) + 1):
            dossier = make(*script[:k], code=code, channel=channel)
            at = script[k - 1][1] + timedelta(seconds=3)
            msg = dossier_to_snapshot(dossier, version=k, changed_at=at, field="f", calendar=calendar)
            out.append(msg.SerializeToString())
    return out


VERSIONS = _versions()


def _poisoned(good: bytes, **changes: object) -> bytes:
    msg = status_pb2.DossierStatusChanged()
    msg.ParseFromString(good)
    for name, value in changes.items():
        setattr(msg, name, value)
    return msg.SerializeToString()


# Unusable messages: no value, not a snapshot, codes the store cannot hold, a status the domain does
# not know (found only when converted) — the last two as the newest version of their dossier.
UNUSABLE: list[bytes | None] = [
    None,
    b"\xff\x00 not a snapshot",
    _poisoned(VERSIONS[0], agency_code="000.00.12.H49\x00", version=50),
    _poisoned(VERSIONS[3], status_code=99, version=60),
]


def _project(
    messages: list[bytes | None], cuts: list[int], calendar: WorkingCalendar
) -> tuple[Projector, MemoryStore]:
    store = MemoryStore()
    projector = Projector(store, LiveIndex(calendar, lambda: NOW), calendar)  # type: ignore[arg-type]
    consumed = [Consumed(offset, value) for offset, value in enumerate(messages)]
    bounds = [0, *sorted(set(cuts)), len(consumed)]

    async def run() -> None:
        for start, end in itertools.pairwise(bounds):
            await projector.apply("t", 0, consumed[start:end])

    asyncio.run(run())
    return projector, store


def _live(projector: Projector) -> tuple[list[str], list[list[int]], list[list[int]], float | None]:
    """The live figures with agencies in code order (positions depend on the order of first sight)."""
    figures = projector.index.figures()
    order = sorted(range(len(figures.codes)), key=figures.codes.__getitem__)

    def by_code(columns: list[list[int]]) -> list[list[int]]:
        return [[column[i] for i in order] for column in columns]

    return sorted(figures.codes), by_code(figures.counters), by_code(figures.gauges), figures.last_event_ts


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    cuts=st.lists(st.integers(min_value=1, max_value=30), max_size=6),
    redelivered=st.integers(min_value=0, max_value=8),
    unusable=st.lists(st.sampled_from(range(len(UNUSABLE))), max_size=4),
)
def test_any_batching_leaves_the_projection_as_one_by_one(
    calendar: WorkingCalendar, seed: int, cuts: list[int], redelivered: int, unusable: list[int]
) -> None:
    rng = random.Random(seed)
    messages: list[bytes | None] = [*VERSIONS, *(UNUSABLE[i] for i in unusable)]
    rng.shuffle(messages)  # versions out of order, as after a re-fold or a redelivery
    messages += messages[:redelivered]  # a batch read again
    one_by_one, expected = _project(messages, list(range(1, len(messages))), calendar)
    batched, store = _project(messages, [c for c in cuts if c < len(messages)], calendar)
    assert store.state() == expected.state()
    assert _live(batched) == _live(one_by_one)
    # every unusable message here is the newest version of its dossier, so each is looked at
    assert batched.skipped == one_by_one.skipped
    for batch in store.batches:  # one record per dossier
        codes = [r.dossier_code for r in batch]
        assert len(codes) == len(set(codes))


def test_only_the_newest_usable_version_of_a_dossier_is_converted(calendar: WorkingCalendar) -> None:
    first = VERSIONS[:3]  # one dossier's three versions
    messages: list[bytes | None] = [first[2], first[0], UNUSABLE[2], first[1], UNUSABLE[1]]
    projector, store = _project(messages, [], calendar)
    (batch,) = store.batches
    assert [(r.version, r.payload) for r in batch] == [(3, first[2])]
    # the poisoned version 50 is looked at (its codes are checked); the superseded ones are not
    assert dict(projector.skipped) == {"empty": 0, "undecodable": 1, "invalid": 1, "unappliable": 0}
    assert store.offset == len(messages)


def test_an_unusable_newest_version_leaves_the_next_one_applied(calendar: WorkingCalendar) -> None:
    versions = VERSIONS[3:8]  # the second dossier's five versions
    messages: list[bytes | None] = [versions[0], versions[1], UNUSABLE[3], versions[2]]
    projector, store = _project(messages, [], calendar)
    assert [r.version for r in store.batches[0]] == [3]
    assert projector.skipped["invalid"] == 1  # status 99 is found when the domain converts it
