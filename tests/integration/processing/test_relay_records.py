"""What the outbox relay puts on `dossier.status.v1`, record by record (real Kafka, real PostgreSQL):
every unsent row exactly once, keyed by its dossier code, its payload as the value, its `outbox-id`
and `version` headers, on the partition the producer's default partitioner gives the key, each
dossier's versions in order; a row too large for the producer parked; the topic's end offsets saved."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from aiokafka.partitioner import DefaultPartitioner
from processing_harness import db, read_topic
from sqlalchemy import text

from dossier_processing.bootstrap import create_engine
from dossier_processing.migrations import MIGRATIONS
from dossier_processing.observability import Metrics
from dossier_processing.relay.relay import OutboxRelay
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.kafka import ensure_topics

pytestmark = pytest.mark.integration

OVERSIZED = "000.00.18.H49-250303-0099"


def _outbox(rng: random.Random) -> list[tuple[str, int, bytes]]:
    """3,000 rows of 400 dossiers, versions interleaved, payloads of 50 B–3 KiB (several batches per
    partition and round), and one row larger than the producer's maximum request size."""
    codes = [f"000.00.{a:02d}.H49-250303-{n:04d}" for a in range(4) for n in range(100)]
    versions: dict[str, int] = defaultdict(int)
    rows = []
    for i in range(3000):
        code = rng.choice(codes)
        versions[code] += 1
        rows.append((code, versions[code], rng.randbytes(rng.randint(50, 3072))))
        if i == 1500:
            rows.append((OVERSIZED, 1, rng.randbytes(9000)))
    return rows


async def test_the_relay_publishes_each_row_once_as_its_record(
    processing_settings: ProcessingSettings,
) -> None:
    s = processing_settings.model_copy(update={"relay_max_request_size": 8192, "relay_batch_size": 700})
    rows = _outbox(random.Random(11))
    engine = create_engine(s)
    try:
        await MIGRATIONS.upgrade(engine, s.db_schema)
        await ensure_topics(s.kafka_bootstrap_servers, {s.status_topic: s.topic_partitions})
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "insert into outbox (dossier_code, version, payload) select * from"
                    " unnest(cast(:c as text[]), cast(:v as bigint[]), cast(:p as bytea[]))"
                ),
                {"c": [r[0] for r in rows], "v": [r[1] for r in rows], "p": [r[2] for r in rows]},
            )
        relay = OutboxRelay(s, engine, Metrics())
        await relay._start_producer()
        try:
            while await relay.publish_once():
                pass
        finally:
            await relay._stop_producer()
    finally:
        await engine.dispose()
    records = await read_topic(s.kafka_bootstrap_servers, s.status_topic)
    async with db(s) as conn:
        stored = {
            r["id"]: r
            for r in await conn.fetch(
                "select id, dossier_code, version, payload, sent_at, park_reason from outbox"
            )
        }
        positions = dict(await conn.fetch("select partition, next_offset from relay_positions"))
    assert relay.published == len(rows) - 1 and relay.parked == 1
    parked = [r for r in stored.values() if r["park_reason"] is not None]
    assert [(r["dossier_code"], r["park_reason"].split(":")[0]) for r in parked] == [(OVERSIZED, "too_large")]
    assert all(r["sent_at"] is not None for r in stored.values() if r["park_reason"] is None)

    partitions = sorted({m.partition for m in records})
    assert len(partitions) == s.topic_partitions
    seen: dict[str, list[int]] = defaultdict(list)
    ids = []
    for m in sorted(records, key=lambda m: (m.partition, m.offset)):
        headers = dict(m.headers)
        row = stored[int(headers["outbox-id"])]
        ids.append(row["id"])
        assert [name for name, _ in m.headers] == ["outbox-id", "version"]
        assert (m.key, m.value, int(headers["version"])) == (
            row["dossier_code"].encode(),
            row["payload"],
            row["version"],
        )
        assert m.partition == DefaultPartitioner()(m.key, partitions, partitions)
        seen[row["dossier_code"]].append(row["version"])
    assert sorted(ids) == sorted(i for i, r in stored.items() if r["park_reason"] is None)  # each once
    assert all(v == list(range(1, len(v) + 1)) for v in seen.values())  # every version, in order
    ends: dict[int, int] = defaultdict(int)
    for m in records:
        ends[m.partition] = max(ends[m.partition], m.offset + 1)
    assert positions == dict(ends)
