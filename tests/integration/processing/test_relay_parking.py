"""The outbox relay never blocks: a snapshot the status topic refuses for good is parked and the
other dossiers' snapshots keep flowing (real Kafka, real PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from processing_factory import START, event, interleave, stream
from processing_harness import db, produce, read_topic, running_app, scalar, wait_until

from dossier_processing.settings import ProcessingSettings

pytestmark = pytest.mark.integration

BIG = "000.00.18.H49-250303-9001"


def _published(records: list[Any]) -> dict[str, list[int]]:
    """Dossier code → versions in topic order (from the `version` header)."""
    out: dict[str, list[int]] = defaultdict(list)
    for m in records:
        out[m.key.decode()].append(int(dict(m.headers)["version"]))
    return out


async def _settled(s: ProcessingSettings) -> bool:
    """Every outbox row is either sent or parked."""
    return bool(
        await scalar(
            s, "select count(*) > 0 and bool_and(sent_at is not null or parked_at is not null) from outbox"
        )
    )


async def test_a_snapshot_larger_than_the_producer_allows_is_parked_and_others_flow(
    processing_settings: ProcessingSettings,
) -> None:
    s = processing_settings.model_copy(update={"relay_max_request_size": 2048})
    # One dossier rescheduled 300 times: its snapshot carries 300 timestamps, well over 2 KiB.
    big = [event("received", BIG, START, procedure_code="1.004194", channel="direct")] + [
        event(
            "rescheduled",
            BIG,
            START + timedelta(minutes=i + 1),
            new_appointment_at=(START + timedelta(days=5, minutes=i)).isoformat(),
            reason="hẹn lại",
        )
        for i in range(300)
    ]
    histories = list(stream(40, seed=3))
    await produce(s, big)  # first: its snapshots are at the head of the relay's queue
    async with running_app(s) as client:
        await wait_until(
            lambda: _count(s, "select count(*) from events", len(big)), what="big dossier stored"
        )
        await produce(s, interleave(histories, random.Random(3)))
        total = len(big) + sum(map(len, histories))
        await wait_until(lambda: _count(s, "select count(*) from events", total), what="all events stored")
        await wait_until(lambda: _settled(s), what="every snapshot sent or parked")
        metrics = (await client.get("/metrics")).text
    async with db(s) as conn:
        parked = await conn.fetch(
            "select dossier_code, version, length(payload) as size, park_reason from outbox"
            " where parked_at is not null order by id"
        )
        sent = await conn.fetch(
            "select dossier_code, version, length(payload) as size from outbox where sent_at is not null"
        )
        latest = {
            r["dossier_code"]: r["version"]
            for r in await conn.fetch("select dossier_code, version from dossiers")
        }
    assert parked, "the oversized snapshot was not parked"
    assert {r["dossier_code"] for r in parked} == {BIG}
    assert all(r["size"] > 2048 for r in parked) and all(r["size"] <= 2048 for r in sent)
    assert all(r["park_reason"].startswith("too_large: MessageSizeTooLargeError") for r in parked)
    on_topic = _published(await read_topic(s.kafka_bootstrap_servers, s.status_topic))
    for h in histories:  # every other dossier reached its latest version, each version once, in order
        code = h[0].dossier_code
        assert on_topic[code] == list(range(1, latest[code] + 1)), code
    assert f"processing_outbox_parked_snapshots {float(len(parked))}" in metrics
    assert f'processing_outbox_parked_total{{reason="too_large"}} {float(len(parked))}' in metrics
    assert "processing_outbox_backlog 0.0" in metrics


async def test_a_record_the_broker_refuses_is_parked_alone_and_later_versions_still_flow(
    processing_settings: ProcessingSettings,
) -> None:
    """The broker (topic `max.message.bytes` 4096) refuses one record of a batch: the records sent
    with it or queued behind it on the same partition fail too, are re-sent one by one, and only the
    refused one is parked; the same dossier's next version is still published, after its previous."""
    s = processing_settings.model_copy(update={"run_consumer": False, "topic_partitions": 1})
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(s.status_topic, 1, 1, topic_configs={"max.message.bytes": "4096"})]
        )
    finally:
        await admin.close()
    codes = [f"000.00.31.H49-250303-{n:04d}" for n in range(1, 31)]
    rows: list[tuple[str, int, bytes]] = []
    for version in (1, 2, 3):
        for code in codes:
            rows.append((code, version, f"snapshot {code} v{version}".encode()))
    victim = codes[7]
    rows = [(c, v, b"x" * 10_000 if (c, v) == (victim, 2) else p) for c, v, p in rows]
    async with running_app(s):
        async with db(s) as conn:
            await conn.executemany(
                "insert into outbox (dossier_code, version, payload) values ($1, $2, $3)", rows
            )
        await wait_until(lambda: _settled(s), what="every row sent or parked")
    async with db(s) as conn:
        parked = await conn.fetch(
            "select dossier_code, version, park_reason from outbox where parked_at is not null"
        )
    assert [(r["dossier_code"], r["version"]) for r in parked] == [(victim, 2)]
    assert parked[0]["park_reason"].startswith("too_large: MessageSizeTooLargeError")
    on_topic = _published(await read_topic(s.kafka_bootstrap_servers, s.status_topic))
    assert on_topic[victim] == [1, 3]
    for code in codes:
        if code != victim:
            assert on_topic[code] == [1, 2, 3], code


async def test_a_broker_outage_is_waited_out_and_nothing_is_parked(
    processing_settings: ProcessingSettings, private_kafka: Any
) -> None:
    s = processing_settings.model_copy(
        update={"kafka_bootstrap_servers": private_kafka.bootstrap, "run_consumer": False}
    )
    codes = [f"000.00.51.H49-250303-{n:04d}" for n in range(1, 21)]
    async with running_app(s):
        await asyncio.to_thread(private_kafka.stop)
        async with db(s) as conn:
            await conn.executemany(
                "insert into outbox (dossier_code, version, payload) values ($1, 1, $2)",
                [(c, f"snapshot {c}".encode()) for c in codes],
            )
        await asyncio.sleep(2)  # the relay tries meanwhile
        assert await scalar(s, "select count(*) from outbox where parked_at is not null") == 0
        assert await scalar(s, "select count(*) from outbox where sent_at is not null") == 0
        await asyncio.to_thread(private_kafka.start)
        await wait_until(lambda: _settled(s), what="rows published after the outage")
    assert await scalar(s, "select count(*) from outbox where parked_at is not null") == 0
    on_topic = _published(await read_topic(s.kafka_bootstrap_servers, s.status_topic))
    assert {c: on_topic[c] for c in codes} == {c: [1] for c in codes}


async def _count(s: ProcessingSettings, sql: str, n: int) -> bool:
    return bool(await scalar(s, sql) == n)
