"""The pieces of the concurrent-publishers test: processing instances as real processes (each start
with a portal token of its own), a portal that notes who sent what and can hold a taken batch, and a
paced event stream that waits at gates for the test's faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import Request
from fastapi.responses import JSONResponse
from processing_factory import Sent
from processing_harness import process_env, wait_until
from publication_faults import Posted
from test_portal_pushers import CheckingPortal

from dossier_processing.settings import ProcessingSettings
from dossier_runtime.kafka import ensure_topics
from tests.support import ServiceProcess, free_port


class WitnessPortal(CheckingPortal):
    """The two-pusher test's portal (slow, refuses some batches without taking anything) that also
    notes which push worker sent each request (its bearer token) and what it took from which. Armed
    with `hold_next_from(token)`, it takes that worker's next batch it accepts but keeps the answer
    until `release()`: the worker can then be killed after the portal took a batch it never recorded."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.senders: list[str] = []  # request number → the sender's token
        self.sent: list[Posted] = []  # every record, in the order requests arrived
        self.taken: list[Posted] = []  # every record accepted, in the order the portal took them
        self.records: dict[tuple[str, int], dict[str, Any]] = {}  # (dossier, version) → record taken
        self._hold_for: str | None = None
        self._holding = asyncio.Event()
        self._released = asyncio.Event()

    async def receive(self, request: Request) -> JSONResponse:
        body = await request.json()
        if body["service"] != "DongBoHoSoMC":  # progress steps: taken, not witnessed
            return await super().receive(request)
        number = len(self.senders)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.senders.append(token)
        records = body["data"]
        self.sent.extend(Posted(r["MaHoSo"], r["PhienBan"], number) for r in records)
        response = await super().receive(request)
        if json.loads(response.body).get("error_code") == 0:
            for r in records:
                self.taken.append(Posted(r["MaHoSo"], r["PhienBan"], number))
                self.records[r["MaHoSo"], r["PhienBan"]] = r
            if token == self._hold_for:
                self._hold_for = None
                self._holding.set()
                await self._released.wait()
        return response

    def hold_next_from(self, token: str) -> None:
        self._hold_for = token
        self._holding.clear()
        self._released.clear()

    async def holding(self) -> bool:
        return self._holding.is_set()

    def release(self) -> None:
        self._hold_for = None
        self._released.set()

    def last_request_of(self, token: str) -> int | None:
        return max((n for n, t in enumerate(self.senders) if t == token), default=None)


@dataclass
class EventStream:
    """The events sent to the events topic at a steady pace in the background. At each gate it waits
    for the test's go, so a fault started before the gate always has events sent before it and
    events still to come."""

    settings: ProcessingSettings
    events: list[Sent]
    gates: list[int]
    chunk: int = 50
    pause_s: float = 0.1
    sent: int = 0
    go: list[asyncio.Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.go = [asyncio.Event() for _ in self.gates]

    @property
    def running(self) -> bool:
        return self.sent < len(self.events)

    async def run(self) -> None:
        s = self.settings
        await ensure_topics(s.kafka_bootstrap_servers, {s.events_topic: s.topic_partitions})
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap_servers, acks="all", linger_ms=5)
        await producer.start()
        try:
            while self.running:
                for gate, go in zip(self.gates, self.go, strict=True):
                    if self.sent >= gate:
                        await go.wait()
                chunk = self.events[self.sent : self.sent + self.chunk]
                futures = [
                    await producer.send(s.events_topic, value=e.raw, key=e.dossier_code.encode())
                    for e in chunk
                ]
                await asyncio.gather(*futures)
                self.sent += len(chunk)
                await asyncio.sleep(self.pause_s)
        finally:
            await producer.stop()

    async def reached(self, n: int) -> None:
        async def sent_enough() -> bool:
            return self.sent >= n

        await wait_until(sent_enough, what=f"{n} events sent")


@dataclass
class Instance:
    """One `python -m dossier_processing` running the consumer, the relay and the push worker. Each
    start gets a portal token of its own, so the portal tells one life of the process from the next."""

    name: str
    process: ServiceProcess
    lives: int = 0

    @property
    def token(self) -> str:
        return f"{self.name}-{self.lives}"

    async def start(self) -> None:
        self.lives += 1
        self.process.env["PROCESSING_PORTAL_TOKEN"] = self.token
        await asyncio.to_thread(self.process.start)

    async def kill(self) -> str:
        """kill -9; returns the token of the life it ended."""
        await asyncio.to_thread(self.process.kill)
        return self.token

    async def stop(self) -> None:
        await asyncio.to_thread(self.process.stop)

    async def published(self) -> float:
        """Snapshots this life's relay published (0 while it stands by)."""
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{self.process.url}/metrics", timeout=10)).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("processing_outbox_published_total")
        )


def instances(s: ProcessingSettings, portal_url: str, logs: Path, names: str = "ab") -> Iterator[Instance]:
    """Instances on `s`' schema, topics and group, each running every worker, with small batches (so
    dossiers go through several versions) and short waits."""
    for name in names:
        port = free_port()
        env = process_env(
            s,
            PROCESSING_PORT=str(port),
            PROCESSING_API_KEYS_FILE=str(s.api_keys_file),
            PROCESSING_RUN_CONSUMER="true",
            PROCESSING_RUN_RELAY="true",
            PROCESSING_RUN_PORTAL="true",
            PROCESSING_PORTAL_URL=portal_url,
            PROCESSING_BATCH_SIZE="100",
            PROCESSING_POLL_TIMEOUT_MS="100",
            PROCESSING_RELAY_IDLE_S="0.05",
            PROCESSING_RELAY_BATCH_SIZE="200",
            PROCESSING_PORTAL_BATCH_SIZE="20",
            PROCESSING_PORTAL_TIMEOUT_S="10",
            PROCESSING_PORTAL_IDLE_S="0.05",
            PROCESSING_PORTAL_BACKOFF_BASE_S="0.05",
            PROCESSING_PORTAL_BACKOFF_MAX_S="0.5",
            PROCESSING_RETRY_MAX_BACKOFF_S="1",
        )
        yield Instance(name, ServiceProcess("processing", port, env, logs / f"processing-{name}.log"))
