"""Hypothesis against the real consumer: random adversarial streams produced straight to a Kafka topic and
consumed by `dossier-processing serve` running as a process, one process and schema for all examples.

Each stream mixes valid "control" dossiers with hostile input: ids reused with other content (another
dossier, type or time), resends and Kafka-level replays, dossiers over the event limit, impossible
transitions, late and far-past events, unicode in text and in codes, instants outside the contract, text
too long and undecodable bytes. A model walks the stream in order and says what each message must get.

Properties, after each stream is consumed (the group's committed offset reaches the end):
- the consumer never stops: it commits past every message and stays ready;
- every control dossier is applied exactly: its events stored, its state the fold of its events;
- every hostile message is applied, a duplicate, or on the dead-letter topic with the model's reason:
  the dead letters, stored events, dossiers, flags and counters match the model exactly.
The topic has one partition so that the stream order is the consumption order the model assumes.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from adversarial_streams import (
    AGENCY,
    APPLIED,
    DUPLICATE,
    EVERY_KIND,
    EVERY_REFERENCE,
    LIMIT,
    Msg,
    Record,
    build,
    expected,
    references,
    specs,
)
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from processing_factory import Sent
from processing_harness import db, read_topic, wait_until

from dossier_core.catalog import default_catalog_dir, load_catalog
from dossier_core.lifecycle import fold
from dossier_processing.ingest.decode import decode_messages
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.kafka import ensure_topics

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
CATALOG = load_catalog(default_catalog_dir())


class Consumer:
    """`dossier-processing serve` as a process, on its own topic, group and schema."""

    def __init__(self, s: ProcessingSettings) -> None:
        self.s = s
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        env = dict(
            os.environ,
            DATABASE_URL=s.database_url,
            KAFKA_BOOTSTRAP_SERVERS=s.kafka_bootstrap_servers,
            PROCESSING_PORT=str(self.port),
            PROCESSING_DB_SCHEMA=s.db_schema,
            PROCESSING_EVENTS_TOPIC=s.events_topic,
            PROCESSING_STATUS_TOPIC=s.status_topic,
            PROCESSING_DLQ_TOPIC=s.dlq_topic,
            PROCESSING_CONSUMER_GROUP=s.consumer_group,
            PROCESSING_TOPIC_PARTITIONS="1",
            PROCESSING_BATCH_SIZE="16",
            PROCESSING_POLL_TIMEOUT_MS="50",
            PROCESSING_DOSSIER_EVENT_LIMIT=str(LIMIT),
            PROCESSING_LOG_LEVEL="ERROR",
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dossier_processing", "serve"],
            env=env,
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    async def ready(self) -> bool:
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(self.url + "/readyz", timeout=5)).status_code == 200
        except httpx.HTTPError:
            return False

    async def counters(self) -> Counter[str]:
        async with httpx.AsyncClient() as client:
            text = (await client.get(self.url + "/metrics", timeout=5)).text
        out: Counter[str] = Counter()
        for line in text.splitlines():
            if line.startswith("processing_dlq_messages_total{"):
                out[line.split('"')[1]] += int(float(line.split()[-1]))
            elif line.startswith("processing_events_duplicate_total "):
                out[DUPLICATE] += int(float(line.split()[-1]))
            elif line.startswith("processing_events_applied_total{"):
                out[APPLIED] += int(float(line.split()[-1]))
        return out

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def produce_and_consume(s: ProcessingSettings, stream: list[Msg]) -> None:
    """Produce the stream, then wait until the consumer group has committed past its last message."""
    producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap_servers, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(s.events_topic, value=m.value, key=m.key) for m in stream]
        end = max(r.offset for r in await asyncio.gather(*futures)) + 1
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap_servers)
    await admin.start()
    try:

        async def committed() -> bool:
            offsets = await admin.list_consumer_group_offsets(s.consumer_group)
            position = offsets.get(TopicPartition(s.events_topic, 0))
            return position is not None and position.offset >= end

        await wait_until(committed, timeout_s=60, what="the consumer committed past the stream")
    finally:
        await admin.close()


async def check_example(
    s: ProcessingSettings,
    consumer: Consumer,
    stream: list[Msg],
    controls: dict[str, list[Sent]],
    run: int,
    seen: set[tuple[int, int]],
) -> None:
    before = await consumer.counters()
    await produce_and_consume(s, stream)
    outcomes, count, flagged = expected(stream)

    assert consumer.process.poll() is None and await consumer.ready(), "the consumer stopped"
    letters = [
        m
        for m in await read_topic(s.kafka_bootstrap_servers, s.dlq_topic)
        if (m.partition, m.offset) not in seen
    ]
    seen.update((m.partition, m.offset) for m in letters)
    got = Counter((dict(m.headers)["dlq-reason"].decode(), m.value) for m in letters)
    want = Counter(
        (o, m.value) for o, m in zip(outcomes, stream, strict=True) if o not in (APPLIED, DUPLICATE)
    )
    assert got == want, "dead letters differ from the model"

    prefix = f"{AGENCY}-250303-{run:04d}%"
    async with db(s) as conn:
        events = {
            r["event_id"]: r["dossier_code"]
            for r in await conn.fetch(
                "select event_id, dossier_code from events where dossier_code like $1", prefix
            )
        }
        rows = {
            r["dossier_code"]: r
            for r in await conn.fetch(
                "select dossier_code, event_count, status_code, anomalies from dossiers"
                " where dossier_code like $1",
                prefix,
            )
        }
    applied = {m.event_id: m.code for o, m in zip(outcomes, stream, strict=True) if o == APPLIED}
    assert events == applied, "stored events differ from the model"
    assert {c: r["event_count"] for c, r in rows.items()} == dict(count)
    assert {c for c, r in rows.items() if "event_limit_reached" in orjson.loads(r["anomalies"])} == flagged
    for c, sents in controls.items():  # every control dossier applied exactly
        (items, _) = decode_messages([Record(e.raw) for e in sents])
        dossier = fold([i.event for i in items], CATALOG)
        assert rows[c]["event_count"] == len(sents) and rows[c]["status_code"] == int(dossier.status)
        assert orjson.loads(rows[c]["anomalies"]) == list(dossier.anomalies)

    after = await consumer.counters()
    assert after - before == Counter(o for o in outcomes), "counters differ from the model"


async def test_random_adversarial_streams_never_stop_the_consumer(
    processing_settings: ProcessingSettings,
) -> None:
    s = processing_settings.model_copy(update={"topic_partitions": 1})
    await ensure_topics(s.kafka_bootstrap_servers, {s.events_topic: 1, s.dlq_topic: 1})
    consumer = Consumer(s)
    runs = itertools.count(1)
    seen: set[tuple[int, int]] = set()
    summary: Counter[str] = Counter()
    try:
        await wait_until(consumer.ready, timeout_s=60, what="processing ready")

        @settings(
            max_examples=10,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            # no shrinking: each example costs a second of real consumption; a failure prints its plan
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        )
        @given(plan=specs, refs=references, controls_n=st.integers(1, 3), seed=st.integers(0, 2**32))
        @example(plan=EVERY_KIND, refs=EVERY_REFERENCE, controls_n=2, seed=1)
        def streams(
            plan: list[tuple[Any, ...]], refs: list[tuple[Any, ...]], controls_n: int, seed: int
        ) -> None:
            run = next(runs)
            stream, controls = build([*plan, *refs], controls_n, random.Random(seed), run)
            summary.update(expected(stream)[0])
            asyncio.run(check_example(s, consumer, stream, controls, run, seen))

        await asyncio.to_thread(streams)
    finally:
        consumer.stop()
    # every outcome was met (by the explicit example at least), so each property above was exercised
    assert set(summary) >= {
        APPLIED,
        DUPLICATE,
        "undecodable",
        "out_of_bounds",
        "event_id_conflict",
        "dossier_event_limit",
    }, summary
