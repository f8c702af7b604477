"""Schemathesis with every check against the running metrics service (a real process on the real
Kafka and PostgreSQL, with a reader key and a projection holding data): every answer is one the
OpenAPI document declares, with the declared media type, headers and schema; what the schema calls
valid is accepted and what it calls invalid is refused; the key is enforced."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from dossier_core.catalog import Catalog
from tests.support import ROOT, ServiceProcess

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
        subprocess.run,
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{metrics_process.url}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {metrics_key}",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            "20261201",
            "--workers",
            "2",
            "--request-timeout",
            "30",
            "--suppress-health-check",
            "all",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path / "schemathesis"),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.integration.metrics.schemathesis_hooks",
            "PYTHONPATH": str(ROOT),
            "NO_COLOR": "1",
        },
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert "Traceback" not in metrics_process.tail(400)
