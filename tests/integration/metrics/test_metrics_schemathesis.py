"""Schemathesis with every check against the running metrics service (a real process on the real
Kafka and PostgreSQL, with a reader key and a projection holding data): every answer is one the
OpenAPI document declares, with the declared media type, headers and schema; what the schema calls
valid is accepted and what it calls invalid is refused; the key is enforced."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from dossier_core.catalog import Catalog
from tests.support import ServiceProcess, run_schemathesis

pytestmark = pytest.mark.integration

Produce = Callable[[list[tuple[str, bytes]]], Awaitable[None]]
EXAMPLES_PER_OPERATION = 40


async def test_schemathesis_finds_nothing(
    catalog: Catalog,
    produce: Produce,
    stream_builder: Callable[..., Any],
    metrics_process: ServiceProcess,
    metrics_key: str,
    tmp_path: Path,
) -> None:
    stream = stream_builder(catalog, dossiers=40)
    await produce(stream.messages)
    await asyncio.to_thread(metrics_process.start)
    auth = {"Authorization": f"Bearer {metrics_key}"}
    async with httpx.AsyncClient(base_url=metrics_process.url, headers=auth, timeout=10) as client:
        for _ in range(300):
            live = (await client.get("/v1/stats/live")).json()
            if sum(a["received"]["total"] for a in live["agencies"]) == len(stream.final):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the projection never caught up")

    run = await asyncio.to_thread(
        run_schemathesis,
        metrics_process.url,
        metrics_key,
        tmp_path,
        examples=EXAMPLES_PER_OPERATION,
        phases="examples,coverage,fuzzing",
        hooks="tests.integration.metrics.schemathesis_hooks",
    )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert "Traceback" not in metrics_process.tail(400)
