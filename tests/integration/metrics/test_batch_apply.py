"""The batch statements against PostgreSQL: a stream applied in batches of any size — several versions
of a dossier in one batch, versions out of order, stale re-sends, a batch delivered twice — leaves
the schema (snapshots, counters, offsets) and the live index exactly as applying it one message per
transaction does, and the counters equal the domain's count of each dossier's newest version."""

from __future__ import annotations

import asyncio
import random
import string
import subprocess
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from dossier_contracts.gen.dossier.v1 import status_pb2
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_metrics.db import create_engine
from dossier_metrics.index import LiveIndex
from dossier_metrics.migrations import upgrade
from dossier_metrics.projector import Consumed, Projector
from dossier_metrics.store import ProjectionStore
from tests.support import unique

pytestmark = pytest.mark.integration

NOW = datetime(2021, 5, 3, 10, tzinfo=VN_TZ)
TOPIC = "dossier.status.v1.batch-test"


@pytest.fixture
async def projectors(database_url: str, db_schema: str, catalog: Catalog) -> AsyncIterator[Callable[[], Any]]:
    """Projectors over fresh schemas (the first is `db_schema`), dropped afterwards."""
    schemas: list[str] = []
    engines = []

    async def make() -> Projector:
        schema = db_schema if not schemas else unique("t")
        schemas.append(schema)
        engine = create_engine(database_url, schema)
        engines.append(engine)
        await upgrade(engine, schema)
        calendar = catalog.calendar()
        return Projector(ProjectionStore(engine), LiveIndex(calendar, lambda: NOW), calendar)

    yield make
    for engine in engines:
        await engine.dispose()
    for schema in schemas[1:]:
        await asyncio.to_thread(
            subprocess.run,
            ["psql", database_url, "-qc", f"drop schema if exists {schema} cascade"],
            check=False,
        )


async def _apply(projector: Projector, messages: list[bytes | None], sizes: list[int]) -> None:
    """Partition 0 gets the messages in order, in batches of the given sizes (the last repeated)."""
    consumed = [Consumed(offset, value) for offset, value in enumerate(messages)]
    start, k = 0, 0
    while start < len(consumed):
        size = sizes[min(k, len(sizes) - 1)]
        await projector.apply(TOPIC, 0, consumed[start : start + size])
        start, k = start + size, k + 1


async def _tables(projector: Projector) -> dict[str, list[tuple[Any, ...]]]:
    async with projector.store.engine.connect() as conn:
        return {
            "dossier_snapshot": [
                tuple(row)
                for row in await conn.execute(text("select * from dossier_snapshot order by dossier_code"))
            ],
            "agency_counter": [
                tuple(row)
                for row in await conn.execute(
                    text("select * from agency_counter order by partition, agency_code")
                )
                if any(row[2:])
            ],
            "consumed_offset": [
                tuple(row) for row in await conn.execute(text("select * from consumed_offset"))
            ],
        }


def _live(projector: Projector) -> tuple[Any, ...]:
    """The live figures with agencies in code order (positions depend on the order of first sight)."""
    figures = projector.index.figures()
    order = sorted(range(len(figures.codes)), key=figures.codes.__getitem__)

    def by_code(columns: list[list[int]]) -> list[list[int]]:
        return [[column[i] for i in order] for column in columns]

    return sorted(figures.codes), by_code(figures.counters), by_code(figures.gauges), figures.last_event_ts


@pytest.mark.parametrize("seed", [1, 2])
async def test_batches_of_any_size_equal_one_message_per_transaction(
    catalog: Catalog, stream_builder: Callable[..., Any], projectors: Callable[..., Any], seed: int
) -> None:
    stream = stream_builder(catalog, dossiers=40, seed=seed, stale=15)
    rng = random.Random(seed)
    messages: list[bytes | None] = [payload for _, payload in stream.messages]
    # some versions out of order (a dossier's versions swapped), a tombstone and garbage among them
    for _ in range(10):
        i = rng.randrange(len(messages) - 3)
        messages[i], messages[i + 2] = messages[i + 2], messages[i]
    messages[rng.randrange(len(messages))] = None
    messages.insert(rng.randrange(len(messages)), b"\xff\x00 not a snapshot")

    one_by_one = await projectors()
    await _apply(one_by_one, messages, [1])
    expected = await _tables(one_by_one)
    assert {row[1]: row[2:] for row in expected["agency_counter"]} == stream.expected_counters(catalog)

    batched = await projectors()
    await _apply(batched, messages, [rng.randint(2, 40) for _ in range(8)] + [len(messages)])
    assert await _tables(batched) == expected
    assert _live(batched) == _live(one_by_one)
    assert batched.skipped == one_by_one.skipped

    # the whole stream delivered again (e.g. two owners of the partition during a rebalance)
    await _apply(batched, messages, [97])
    assert await _tables(batched) == expected
    assert _live(batched) == _live(one_by_one)


async def test_a_batch_the_database_refuses_is_applied_one_snapshot_at_a_time(
    catalog: Catalog, stream_builder: Callable[..., Any], projectors: Callable[..., Any]
) -> None:
    """A code too long for the primary key's index fails the one write of the batch; every other
    snapshot of it is still stored, with the same counters as without the refused one."""
    stream = stream_builder(catalog, dossiers=6, stale=0)
    messages: list[bytes | None] = [payload for _, payload in stream.messages]
    huge = status_pb2.DossierStatusChanged()
    huge.ParseFromString(stream.messages[0][1])
    rng = random.Random(3)
    huge.dossier_code = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(12_000))
    with_huge = [*messages[:5], huge.SerializeToString(), *messages[5:]]

    plain = await projectors()
    await _apply(plain, messages, [len(messages)])
    refused = await projectors()
    await _apply(refused, with_huge, [len(with_huge)])
    assert refused.skipped["unappliable"] == 1
    tables, expected = await _tables(refused), await _tables(plain)
    assert tables["dossier_snapshot"] == expected["dossier_snapshot"]
    assert tables["agency_counter"] == expected["agency_counter"]
    assert tables["consumed_offset"] == [(TOPIC, 0, len(with_huge))]
    assert _live(refused) == _live(plain)
