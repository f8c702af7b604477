"""Each worker in a process of its own (`PROCESSING_RUN_CONSUMER`, `_RUN_RELAY`, `_RUN_PORTAL`): every
process starts and is ready checking only what it runs, and together they do the whole job — events in,
dossiers stored, snapshots out once each, every latest version delivered to the portal."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import httpx
import pytest
from processing_factory import interleave, stream
from processing_harness import db, events_stored, process_env, produce, read_topic, scalar, wait_until
from test_portal_sync import FakePortal, serve

from dossier_processing.settings import ProcessingSettings
from tests.support import ServiceProcess, free_port

pytestmark = pytest.mark.integration


def _environment(s: ProcessingSettings, **only: str) -> dict[str, str]:
    return process_env(
        s,
        PROCESSING_POLL_TIMEOUT_MS="100",
        PROCESSING_PORTAL_IDLE_S="0.1",
        PROCESSING_LOG_LEVEL="INFO",
        **{f"PROCESSING_{name.upper()}": value for name, value in only.items()},
    )


def _metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


async def test_consumer_relay_and_push_worker_alone_do_the_whole_job_together(
    processing_settings: ProcessingSettings, tmp_path: Path
) -> None:
    s = processing_settings
    histories = list(stream(300, seed=31))
    events = interleave(histories, random.Random(31))
    portal = FakePortal(fail_every=10**9)  # accepts every batch
    async with serve(portal.app) as url:
        only = {
            "consumer": {"run_relay": "false"},
            "outbox-relay": {"run_consumer": "false"},
            "portal-push": {
                "run_consumer": "false",
                "run_relay": "false",
                "portal_url": url + "/api/DongBoHoSoMC",
            },
        }
        processes = {}
        for worker, settings in only.items():
            port = free_port()
            env = _environment(s, port=str(port), **settings)
            processes[worker] = ServiceProcess("processing", port, env, tmp_path / f"{worker}.log")
        try:
            for process in processes.values():
                process.start(wait=False)
            for process in processes.values():  # each becomes ready on its own, with no event yet
                await asyncio.to_thread(process.wait_ready)
            async with httpx.AsyncClient() as client:
                checks = {
                    worker: (await client.get(p.url + "/readyz")).json()["checks"]
                    for worker, p in processes.items()
                }
                assert checks == {
                    "consumer": {"database": True, "kafka": True, "workers": True, "consumer": True},
                    "outbox-relay": {"database": True, "kafka": True, "workers": True},
                    "portal-push": {"database": True, "workers": True},
                }
                await produce(s, events)
                await wait_until(lambda: events_stored(s, len(events)), what="every event applied")
                await wait_until(lambda: _outbox_drained(s), what="every snapshot published")
                await wait_until(lambda: _portal_has_every_latest_version(s, portal), what="portal synced")
                metrics = {w: (await client.get(p.url + "/metrics")).text for w, p in processes.items()}
        finally:
            for process in processes.values():
                await asyncio.to_thread(process.stop)

    # each process did its own share only
    applied = "processing_events_applied_total"
    published = "processing_outbox_published_total"
    pushed = 'processing_portal_records_total{result="accepted"}'
    assert _metric(metrics["consumer"], applied) == len(events)
    assert _metric(metrics["outbox-relay"], applied) == _metric(metrics["portal-push"], applied) == 0
    assert _metric(metrics["consumer"], published) == _metric(metrics["portal-push"], published) == 0
    assert _metric(metrics["consumer"], pushed) == _metric(metrics["outbox-relay"], pushed) == 0
    assert _metric(metrics["portal-push"], pushed) >= len(histories)

    # and together the whole job: every dossier folded, each version published once, in a gap-free run
    async with db(s) as conn:
        rows = await conn.fetch("select dossier_code, event_count, version from dossiers")
        outbox = await conn.fetch("select dossier_code, version from outbox")
    counts = {r["dossier_code"]: r["event_count"] for r in rows}
    assert counts == {h[0].dossier_code: len(h) for h in histories}
    versions = {r["dossier_code"]: r["version"] for r in rows}
    on_topic = Counter(
        (m.key.decode(), int(dict(m.headers)["version"]))
        for m in await read_topic(s.kafka_bootstrap_servers, s.status_topic)
    )
    assert on_topic == Counter((r["dossier_code"], r["version"]) for r in outbox)
    assert set(on_topic) == {(code, v) for code, n in versions.items() for v in range(1, n + 1)}
    assert portal.accepted == versions


async def _outbox_drained(s: ProcessingSettings) -> bool:
    return (await scalar(s, "select count(*) from outbox where sent_at is null")) == 0


async def _portal_has_every_latest_version(s: ProcessingSettings, portal: FakePortal) -> bool:
    async with db(s) as conn:
        rows = await conn.fetch("select dossier_code, version from dossiers")
    return bool(rows) and portal.accepted == {r["dossier_code"]: r["version"] for r in rows}
