"""Posts events to the intake batch endpoint with a few concurrent clients, retrying what intake
could not accept (503 / 429, honouring Retry-After) with the same event ids; citizen feedback events go
one by one to `POST /v1/feedback/events`, retried the same way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class SendReport:
    accepted: int = 0
    rejected: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


class IntakeSender:
    def __init__(
        self, url: str, key: str, *, concurrency: int = 4, rate: float | None = None, max_retries: int = 30
    ) -> None:
        self.url = url.rstrip("/") + "/v1/events:batch"
        self.feedback_url = url.rstrip("/") + "/v1/feedback/events"
        self.headers = {"Authorization": f"Bearer {key}"}
        self.concurrency, self.rate, self.max_retries = concurrency, rate, max_retries

    async def send(
        self, batches: Sequence[list[dict[str, Any]]], progress: Callable[[int], None]
    ) -> SendReport:
        report = SendReport()
        queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        for batch in batches:
            queue.put_nowait(batch)
        started = time.monotonic()
        sent = 0

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal sent
            while not queue.empty():
                batch = queue.get_nowait()
                if self.rate:
                    # pace the whole run at `rate` events per second
                    ahead = (sent + len(batch)) / self.rate - (time.monotonic() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                sent += len(batch)
                await self._post(client, batch, report)
                progress(len(batch))

        async with httpx.AsyncClient(timeout=60, headers=self.headers) as client:
            await asyncio.gather(*(worker(client) for _ in range(self.concurrency)))
        report.seconds = time.monotonic() - started
        return report

    async def _post(self, client: httpx.AsyncClient, batch: list[dict[str, Any]], report: SendReport) -> None:
        for attempt in range(self.max_retries + 1):
            try:
                response = await client.post(self.url, json={"events": batch})
            except httpx.TransportError as exc:
                report.retries += 1
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
                if attempt == self.max_retries:
                    report.errors.append(f"transport error after {attempt} retries: {exc}")
                continue
            if response.status_code in (429, 503):
                report.retries += 1
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            if response.status_code != 200:
                report.rejected += len(batch)
                report.errors.append(f"HTTP {response.status_code}: {response.text[:300]}")
                return
            for result in response.json()["results"]:
                if result["status"] == "accepted":
                    report.accepted += 1
                else:
                    report.rejected += 1
                    if len(report.errors) < 20:
                        report.errors.append(f"{result.get('event_id')}: {result.get('errors')}")
            return
        report.rejected += len(batch)
        report.errors.append(f"gave up on a batch of {len(batch)} after {self.max_retries} retries")

    async def send_feedback(
        self, events: Sequence[dict[str, Any]], progress: Callable[[int], None]
    ) -> SendReport:
        """Each feedback event in its own request, in the order given (a few at a time)."""
        report = SendReport()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for event in events:
            queue.put_nowait(event)
        started = time.monotonic()

        async def worker(client: httpx.AsyncClient) -> None:
            while not queue.empty():
                await self._post_feedback(client, queue.get_nowait(), report)
                progress(1)

        async with httpx.AsyncClient(timeout=60, headers=self.headers) as client:
            await asyncio.gather(*(worker(client) for _ in range(self.concurrency)))
        report.seconds = time.monotonic() - started
        return report

    async def _post_feedback(
        self, client: httpx.AsyncClient, event: dict[str, Any], report: SendReport
    ) -> None:
        for attempt in range(self.max_retries + 1):
            try:
                response = await client.post(self.feedback_url, json=event)
            except httpx.TransportError as exc:
                report.retries += 1
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
                if attempt == self.max_retries:
                    report.errors.append(f"transport error after {attempt} retries: {exc}")
                continue
            if response.status_code in (429, 503):
                report.retries += 1
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            if response.status_code in (200, 202):
                report.accepted += 1
            else:
                report.rejected += 1
                problem = f"HTTP {response.status_code}: {response.text[:300]}"
                report.errors.append(f"{event['event_id']}: {problem}")
            return
        report.rejected += 1
        report.errors.append(f"gave up on feedback event {event['event_id']} after {self.max_retries} tries")
