"""kill -9 of a Kafka node in the middle of a stream: the three services over SASL_SSL on the 3-node
cluster (RF 3, min ISR 2), events posted to intake while the node leading the most partitions of the
events topic is killed and started again. Every acknowledged event is counted exactly once, and every
refusal meanwhile is a 503 problem; the longest time intake refused writes is printed."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dossier_sim.sender import IntakeSender, SendReport
from tests.cluster.conftest import KafkaCluster, Say
from tests.e2e.traffic import Traffic, live_series
from tests.support import System, running_system

pytestmark = pytest.mark.cluster

#: Seconds over which the stream is paced: it goes on while the node is down and after it is back.
STREAM_S = 40


@dataclass(frozen=True)
class Answer:
    sent_at: float  # time.monotonic()
    answered_at: float
    status: int
    content_type: str
    accepted: tuple[str, ...]  # the event ids a 200 says were accepted


class RecordingSender(IntakeSender):
    """The simulator's sender (retries 503 with the same event ids), keeping every answer of intake."""

    def __init__(self, url: str, key: str, rate: float) -> None:
        super().__init__(url, key, concurrency=2, rate=rate, max_retries=120)
        self.answers: list[Answer] = []

    async def _post(self, client: httpx.AsyncClient, batch: list[dict[str, Any]], report: SendReport) -> None:
        if self._record not in client.event_hooks["response"]:
            client.event_hooks = {**client.event_hooks, "response": [self._record]}
        await super()._post(client, batch, report)

    async def _record(self, response: httpx.Response) -> None:
        await response.aread()
        now = time.monotonic()
        accepted: tuple[str, ...] = ()
        if response.status_code == 200:
            results = response.json()["results"]
            accepted = tuple(r["event_id"] for r in results if r["status"] == "accepted")
        self.answers.append(
            Answer(
                now - response.elapsed.total_seconds(),
                now,
                response.status_code,
                response.headers.get("content-type", ""),
                accepted,
            )
        )


def refusal_windows(answers: Sequence[Answer]) -> list[float]:
    """Each stretch during which intake accepted nothing: from the sending of the first refused request
    to the answer of the next accepted one (or the last refusal's answer), in seconds."""
    windows: list[float] = []
    opened: float | None = None
    last_refusal = 0.0
    for answer in sorted(answers, key=lambda a: a.answered_at):
        if answer.status != 200:
            opened = answer.sent_at if opened is None else min(opened, answer.sent_at)
            last_refusal = answer.answered_at
        elif opened is not None:
            windows.append(answer.answered_at - opened)
            opened = None
    if opened is not None:
        windows.append(last_refusal - opened)
    return windows


@pytest.fixture
def system_on_cluster(tmp_path: Path, kafka_cluster: KafkaCluster, database_url: str) -> Iterator[System]:
    """The three services, each with its own cluster user, on the session's topics and groups."""
    c = kafka_cluster
    with running_system(
        tmp_path,
        c.bootstrap,
        database_url,
        service_env={name: c.env(name) for name in ("intake", "processing", "metrics")},
        INTAKE_EVENTS_TOPIC=c.events_topic,
        PROCESSING_EVENTS_TOPIC=c.events_topic,
        INTAKE_DLQ_TOPIC=c.dlq_topic,
        PROCESSING_DLQ_TOPIC=c.dlq_topic,
        PROCESSING_STATUS_TOPIC=c.status_topic,
        METRICS_STATUS_TOPIC=c.status_topic,
        PROCESSING_CONSUMER_GROUP=f"dossier-processing{c.suffix}",
        METRICS_CONSUMER_GROUP=f"dossier-metrics{c.suffix}",
        INTAKE_FEEDBACK_TOPIC=f"feedback.events.v1{c.suffix}",
        PROCESSING_FEEDBACK_EVENTS_TOPIC=f"feedback.events.v1{c.suffix}",
        PROCESSING_FEEDBACK_STATUS_TOPIC=f"feedback.status.v1{c.suffix}",
        METRICS_FEEDBACK_STATUS_TOPIC=f"feedback.status.v1{c.suffix}",
        PROCESSING_FEEDBACK_CONSUMER_GROUP=f"dossier-processing-feedback{c.suffix}",
        METRICS_FEEDBACK_CONSUMER_GROUP=f"dossier-metrics-feedback{c.suffix}",
        PROCESSING_PORTAL_SYNC_TOPIC=f"portal.sync.v1{c.suffix}",
        METRICS_PORTAL_SYNC_TOPIC=f"portal.sync.v1{c.suffix}",
        METRICS_PORTAL_SYNC_CONSUMER_GROUP=f"dossier-metrics-portal-sync{c.suffix}",
        # Retry soon after a refusal, so the refusal window is measured to about a second.
        INTAKE_RETRY_AFTER_S="1",
    ) as started:
        yield started


def _stored_event_counts(database_url: str, schema: str) -> dict[str, int]:
    """Processing's count of applied events per dossier."""
    out = subprocess.run(
        [
            "psql",
            database_url,
            "-AtF",
            "\t",
            "-c",
            f"select dossier_code, event_count from {schema}.dossiers",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {code: int(count) for code, count in (line.split("\t") for line in out.splitlines() if line)}


def test_leader_killed_mid_stream(
    system_on_cluster: System, kafka_cluster: KafkaCluster, database_url: str, say: Say
) -> None:
    system = system_on_cluster
    traffic = Traffic.generate(600, seed=45)
    total = traffic.event_count
    sender = RecordingSender(system.intake.url, system.intake_key, rate=total / STREAM_S)
    sent: list[SendReport] = []

    def advance(n: int) -> None:
        traffic.progress += n

    thread = threading.Thread(
        target=lambda: sent.append(asyncio.run(sender.send(traffic.plan(size=50), advance))), daemon=True
    )
    say(f"posting {total} events of {len(traffic.dossiers)} dossiers to intake over ~{STREAM_S} s")
    thread.start()
    traffic.wait_progress(total // 5)

    leaders = kafka_cluster.leaders(kafka_cluster.events_topic)
    victim, led = Counter(leaders.values()).most_common(1)[0]
    say(f"kill -9 node {victim} (leads {led} of {len(leaders)} partitions) after {traffic.progress} events")
    kafka_cluster.kill(victim)
    time.sleep(5)  # the stream goes on against two nodes
    restarted = time.monotonic()
    kafka_cluster.start()
    say(
        f"node {victim} restarted and serving after {time.monotonic() - restarted:.1f} s; "
        f"{total - traffic.progress} events still to post"
    )
    moved = kafka_cluster.leaders(kafka_cluster.events_topic)
    say(f"leaders now: {dict(sorted(Counter(moved.values()).items()))} (node: partitions led)")

    thread.join(timeout=300)
    assert not thread.is_alive(), "the sender did not finish"
    (report,) = sent
    statuses = Counter(a.status for a in sender.answers)
    windows = refusal_windows(sender.answers)
    slowest = max(a.answered_at - a.sent_at for a in sender.answers if a.status == 200)
    say(
        f"intake answers {dict(statuses)}; slowest accepted request {slowest:.1f} s; refusal windows "
        f"{[round(w, 1) for w in windows]} s; longest refusal window: {max(windows, default=0.0):.1f} s"
    )

    # Refusals were 503 problems with Retry-After, and nothing else (no 500, no dropped connection).
    assert set(statuses) <= {200, 503}, statuses
    refused = [a for a in sender.answers if a.status == 503]
    assert all(a.content_type.startswith("application/problem+json") for a in refused)
    assert report.retries == len(refused), "a request failed without an answer from intake"
    assert report.errors == [] and report.rejected == 0

    # Every event was acknowledged once in the end, and is counted exactly once downstream.
    acknowledged = Counter(event_id for a in sender.answers for event_id in a.accepted)
    expected = {e["event_id"] for d in traffic.dossiers for e in d.events}
    assert set(acknowledged) == expected and all(n == 1 for n in acknowledged.values())
    assert traffic.report_differences(system.metrics.url, system.metrics_key, timeout=240) == []
    assert live_series(system.metrics.url) == traffic.expected_live()
    per_dossier = {d.code: len(d.events) for d in traffic.dossiers}
    assert _stored_event_counts(database_url, system.env["PROCESSING_DB_SCHEMA"]) == per_dossier
    say(f"all {total} acknowledged events counted exactly once (processing and the metrics report)")
