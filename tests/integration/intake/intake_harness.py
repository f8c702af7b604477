"""Helpers to run intake in tests: in-process (httpx over ASGI with the real lifespan) or as a
process, always against the real Kafka, each test with its own topics and keys file."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from dossier_contracts.event_codec import decode_event
from dossier_contracts.gen.dossier.v1 import events_pb2
from dossier_intake.app import create_app, system_clock
from dossier_intake.settings import IntakeSettings

ROOT = Path(__file__).resolve().parents[3]
QN_AGENCY = "000.00.10.H49"  # Công an tỉnh Quảng Ninh, in the sample catalog
PROCEDURE = "1.004194"
REASON_REQUIRED = (
    "dossier.not_accepted",
    "dossier.supplement_requested",
    "dossier.suspended",
    "dossier.refused",
)


@dataclass
class Keys:
    path: Path
    qn: str  # may write *.H49 (Quảng Ninh)
    other: str  # may write *.H22 only

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.qn}"}


def make_settings(bootstrap: str, suffix: str, keys: Keys, **overrides: Any) -> IntakeSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "events_topic": "intake.events" + suffix,
        "dlq_topic": "intake.dlq" + suffix,
        "topic_partitions": 4,
        "api_keys_file": keys.path,
        "rate_limit_per_s": 0,
        "kafka_send_timeout_s": 3.0,
        "kafka_startup_timeout_s": 20.0,
        **overrides,
    }
    return IntakeSettings(**values)


@dataclass
class Intake:
    client: httpx.AsyncClient
    settings: IntakeSettings
    keys: Keys

    async def post(self, event: Any, key: str | None = None) -> httpx.Response:
        return await self.client.post("/v1/events", json=event, headers=self.keys.auth(key))

    async def batch(self, events: list[Any], key: str | None = None) -> httpx.Response:
        return await self.client.post(
            "/v1/events:batch", json={"events": events}, headers=self.keys.auth(key)
        )


@contextlib.asynccontextmanager
async def running(
    settings: IntakeSettings, clock: Callable[[], datetime] = system_clock
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan started, and a client talking to it in-process."""
    app = create_app(settings, clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake", timeout=30) as client:
            yield client


def event(
    event_type: str = "dossier.received",
    *,
    dossier: str | None = None,
    agency: str = QN_AGENCY,
    occurred_at: str = "2025-04-05T09:15:00+07:00",
    event_id: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    if event_type in ("dossier.received", "dossier.submitted"):
        data = {"procedure_code": PROCEDURE, "channel": "direct", **data}
    elif event_type in (
        "dossier.not_accepted",
        "dossier.supplement_requested",
        "dossier.suspended",
        "dossier.refused",
    ):
        data = {"reason": "Thiếu giấy tờ", **data}
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "dossier_code": dossier or f"{agency}-250405-{uuid.uuid4().int % 10000:04d}",
        "agency_code": agency,
        "occurred_at": occurred_at,
        "data": data,
    }


@dataclass
class Written:
    """What is on a topic: (partition, offset, key, decoded event) in partition order."""

    messages: list[tuple[int, int, bytes, events_pb2.DossierEvent]] = field(default_factory=list)

    @property
    def event_ids(self) -> list[str]:
        return [m[3].event_id for m in self.messages]


async def read_topic(bootstrap: str, topic: str, partitions_count: int = 4) -> Written:
    """Every message currently on the topic (up to the end offsets known now), without a group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(partitions_count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        out = Written()
        remaining = {tp for tp in partitions if end[tp] > 0}
        deadline = time.monotonic() + 20
        while remaining and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                for r in records:
                    assert r.key is not None and r.value is not None
                    out.messages.append((tp.partition, r.offset, r.key, decode_event(r.value)))
                if (await consumer.position(tp)) >= end[tp]:
                    remaining.discard(tp)
        assert not remaining, f"could not read {topic} to its end"
        out.messages.sort(key=lambda m: (m[0], m[1]))
        return out
    finally:
        await consumer.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    settings: IntakeSettings

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _env(settings: IntakeSettings, port: int) -> dict[str, str]:
    return dict(
        os.environ,
        KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        INTAKE_PORT=str(port),
        INTAKE_API_KEYS_FILE=str(settings.api_keys_file),
        INTAKE_EVENTS_TOPIC=settings.events_topic,
        INTAKE_DLQ_TOPIC=settings.dlq_topic,
        INTAKE_TOPIC_PARTITIONS=str(settings.topic_partitions),
        INTAKE_RATE_LIMIT_PER_S=str(settings.rate_limit_per_s),
        INTAKE_KAFKA_SEND_TIMEOUT_S=str(settings.kafka_send_timeout_s),
        INTAKE_MAX_BODY_BYTES=str(settings.max_body_bytes),
        INTAKE_DRAIN_MAX_BYTES=str(settings.drain_max_bytes),
        INTAKE_DRAIN_MAX_S=str(settings.drain_max_s),
        INTAKE_APPLICANT_PUBLIC_KEY=settings.applicant_public_key or "",
    )


@contextlib.contextmanager
def serving(settings: IntakeSettings, log_path: Path) -> Iterator[Server]:
    """`python -m dossier_intake` as a real process; stopped with SIGTERM at the end."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dossier_intake"],
            env=_env(settings, port),
            stdout=log,
            stderr=log,
            cwd=ROOT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path, settings)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"intake exited early:\n{server.log()}"
            try:
                if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"intake did not start:\n{server.log()}"
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
