"""Crashes and outages: kill -9 mid-stream, PostgreSQL restarted, poison messages."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from processing_factory import event, interleave, stream
from processing_harness import db, produce, read_topic, running_app, scalar, wait_until

from dossier_processing.settings import ProcessingSettings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spawn(s: ProcessingSettings) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        DATABASE_URL=s.database_url,
        KAFKA_BOOTSTRAP_SERVERS=s.kafka_bootstrap_servers,
        PROCESSING_PORT=str(_free_port()),
        PROCESSING_DB_SCHEMA=s.db_schema,
        PROCESSING_EVENTS_TOPIC=s.events_topic,
        PROCESSING_STATUS_TOPIC=s.status_topic,
        PROCESSING_DLQ_TOPIC=s.dlq_topic,
        PROCESSING_CONSUMER_GROUP=s.consumer_group,
        PROCESSING_TOPIC_PARTITIONS=str(s.topic_partitions),
        PROCESSING_BATCH_SIZE="2000",
        PROCESSING_LOG_LEVEL="WARNING",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "dossier_processing", "serve"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
    )


async def _stored(s: ProcessingSettings) -> int:
    return int(await scalar(s, "select count(*) from events") or 0)


async def _check_exact(s: ProcessingSettings, histories: list, expected_events: int) -> None:
    """Every event once, every dossier folded from all its events, outbox versions gap-free and
    each published exactly once on the status topic."""
    per_dossier = {h[0].dossier_code: len(h) for h in histories}
    async with db(s) as conn:
        assert await conn.fetchval("select count(*) from events") == expected_events
        rows = await conn.fetch("select dossier_code, event_count, version from dossiers")
        assert {r["dossier_code"]: r["event_count"] for r in rows} == per_dossier
        versions = {r["dossier_code"]: r["version"] for r in rows}
        outbox = await conn.fetch("select dossier_code, version, sent_at from outbox")
    by_code: dict[str, list[int]] = {}
    for r in outbox:
        assert r["sent_at"] is not None
        by_code.setdefault(r["dossier_code"], []).append(r["version"])
    assert {c: sorted(v) for c, v in by_code.items()} == {
        c: list(range(1, n + 1)) for c, n in versions.items()
    }
    published = Counter(
        (m.key.decode(), int(dict(m.headers)["version"]))
        for m in await read_topic(s.kafka_bootstrap_servers, s.status_topic)
    )
    assert published == Counter((r["dossier_code"], r["version"]) for r in outbox)


async def test_kill_9_mid_stream_then_restart_gives_the_exact_state(
    processing_settings: ProcessingSettings,
) -> None:
    s = processing_settings
    histories = list(stream(12_800, seed=3))
    events = interleave(histories, __import__("random").Random(3))
    assert len(events) >= 50_000
    await produce(s, events)
    first = _spawn(s)
    try:
        await wait_until(lambda: _progress(s, len(events) // 3), timeout_s=120, what="a third applied")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    killed_at = await _stored(s)
    assert killed_at < len(events), "killed too late to prove anything"
    second = _spawn(s)
    try:
        await wait_until(lambda: _progress(s, len(events)), timeout_s=180, what="all applied after restart")
        await wait_until(lambda: _outbox_drained(s), timeout_s=60, what="outbox drained")
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.wait, 30)
    assert second.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after a clean shutdown
    await _check_exact(s, histories, len(events))


async def _progress(s: ProcessingSettings, n: int) -> bool:
    return await _stored(s) >= n


async def _outbox_drained(s: ProcessingSettings) -> bool:
    return (await scalar(s, "select count(*) from outbox where sent_at is null")) == 0


async def test_postgres_restarted_during_consumption_loses_nothing(
    processing_settings: ProcessingSettings, private_postgres
) -> None:
    s = processing_settings.model_copy(
        update={"database_url": private_postgres.url, "batch_size": 500, "stalled_unready_after_s": 0.5}
    )
    histories = list(stream(2_000, seed=4))
    events = interleave(histories, __import__("random").Random(4))
    half = len(events) // 2
    await produce(s, events[:half])
    async with running_app(s) as client:
        await wait_until(lambda: _progress(s, 1), what="consumption started")
        await asyncio.to_thread(private_postgres.stop)
        await produce(s, events[half:])
        # the consumer retries the batch it holds, and says so: unready, stalled, no dead letter
        await wait_until(lambda: _unready_for(client, "consumer"), what="/readyz names the stalled consumer")
        metrics = (await client.get("/metrics")).text
        assert _gauge(metrics, "processing_consumer_stalled_seconds") > 0
        await asyncio.to_thread(private_postgres.start)
        await wait_until(
            lambda: _progress(s, len(events)), timeout_s=120, what="all applied after the restart"
        )
        await wait_until(lambda: _outbox_drained(s), timeout_s=60, what="outbox drained")
        await wait_until(lambda: _ready(client), what="ready again")
        metrics = (await client.get("/metrics")).text
        assert _gauge(metrics, "processing_consumer_stalled_seconds") == 0
        assert _gauge(metrics, "processing_batch_retries_total") > 0
    await _check_exact(s, histories, len(events))
    assert await read_topic(s.kafka_bootstrap_servers, s.dlq_topic) == []


async def _unready_for(client: httpx.AsyncClient, check: str) -> bool:
    answer = await client.get("/readyz")
    return answer.status_code == 503 and check in answer.json()["detail"]


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


def _gauge(metrics: str, name: str) -> float:
    (line,) = [line for line in metrics.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


async def test_poison_messages_go_to_the_dlq_and_the_stream_continues(
    processing_settings: ProcessingSettings,
) -> None:
    s = processing_settings
    code = "000.00.18.H49-250303-0001"
    good = [
        event(
            "received",
            code,
            __import__("processing_factory").START,
            procedure_code="1.004194",
            channel="direct",
        ),
    ]
    poison = [(code.encode(), b"\xff\x00 not protobuf"), (code.encode(), b"")]
    after = [event("processing", code, __import__("processing_factory").START.replace(hour=10))]
    await produce(s, [*good, *poison, *after])
    async with running_app(s) as client:
        await wait_until(lambda: _progress(s, 2), what="good events applied")
        await wait_until(lambda: _dlq_count(s, 2), what="dead letters")
        metrics = (await client.get("/metrics")).text
        assert 'processing_dlq_messages_total{reason="undecodable"} 2.0' in metrics
    letters = await read_topic(s.kafka_bootstrap_servers, s.dlq_topic)
    assert sorted(m.value for m in letters) == sorted(v for _, v in poison)
    headers = dict(letters[0].headers)
    assert headers["dlq-reason"] == b"undecodable" and headers["dlq-error"]
    assert headers["dlq-source-topic"] == s.events_topic.encode()
    assert await scalar(s, "select status_code from dossiers where dossier_code = $1", code) == 4


async def _dlq_count(s: ProcessingSettings, n: int) -> bool:
    return len(await read_topic(s.kafka_bootstrap_servers, s.dlq_topic)) >= n
