"""The metrics service as a process: it listens on `METRICS_HOST` (127.0.0.1 by default), reloads
its readers' keys on SIGHUP, and without a keys file refuses every read while `/metrics`,
`/healthz` and `/readyz` stay open."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import psutil
import pytest

from dossier_runtime.api_keys import create_key
from tests.support import ServiceProcess

pytestmark = pytest.mark.integration

READS = ("/v1/reports/dossiers?period=2021-Q2", "/v1/stats/live")


def listening_hosts(service: ServiceProcess) -> set[str]:
    assert service.process is not None
    connections = psutil.Process(service.process.pid).net_connections(kind="tcp")
    return {
        c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN and c.laddr.port == service.port
    }


async def test_keys_are_reloaded_on_sighup_and_the_service_listens_on_its_host(
    metrics_process: ServiceProcess, metrics_key: str, keys_file: Path
) -> None:
    await asyncio.to_thread(metrics_process.start)
    assert listening_hosts(metrics_process) == {"127.0.0.1"}
    async with httpx.AsyncClient(base_url=metrics_process.url, timeout=10) as client:
        newcomer = create_key(keys_file, "newcomer", "*.31.H49")
        auth = {"Authorization": f"Bearer {newcomer}"}
        assert (await client.get(READS[1], headers=auth)).status_code == 401  # not loaded yet
        assert metrics_process.process is not None
        metrics_process.process.send_signal(signal.SIGHUP)
        for _ in range(100):
            live = await client.get(READS[1], headers=auth)
            if live.status_code != 401:
                break
            await asyncio.sleep(0.1)
        assert live.status_code == 200
        agencies = [a["agency"] for a in live.json()["agencies"]]
        assert agencies and all(code.endswith(".31.H49") for code in agencies)
        # a broken file keeps the keys in force
        await asyncio.to_thread(keys_file.write_text, "not,a,keys file\n")
        metrics_process.process.send_signal(signal.SIGHUP)
        for _ in range(100):
            if "API keys not reloaded" in metrics_process.tail(50):
                break
            await asyncio.sleep(0.1)
        assert "API keys not reloaded" in metrics_process.tail(50)
        for key in (metrics_key, newcomer):
            response = await client.get(READS[0], headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200


async def test_without_a_keys_file_every_read_is_refused(metrics_process: ServiceProcess) -> None:
    del metrics_process.env["METRICS_API_KEYS_FILE"]
    metrics_process.env["METRICS_HOST"] = "0.0.0.0"
    await asyncio.to_thread(metrics_process.start)
    assert listening_hosts(metrics_process) == {"0.0.0.0"}
    async with httpx.AsyncClient(base_url=metrics_process.url, timeout=10) as client:
        for path in READS:
            response = await client.get(path, headers={"Authorization": "Bearer dk_anything"})
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"].startswith("Bearer")
        for path in ("/metrics", "/healthz", "/readyz"):
            assert (await client.get(path)).status_code == 200, path
    assert "METRICS_API_KEYS_FILE is not set" in metrics_process.tail(200)
