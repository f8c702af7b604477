"""Two push workers against one portal: per dossier, versions arrive in order and each once."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from processing_factory import interleave, stream
from processing_harness import all_synced, db, events_stored, produce, running_app, wait_until
from test_portal_sync import serve

from dossier_core.catalog import load_catalog
from dossier_processing.bootstrap import create_engine
from dossier_processing.observability import Metrics
from dossier_processing.portal.pusher import PortalPusher
from dossier_processing.settings import ProcessingSettings

pytestmark = pytest.mark.integration


class CheckingPortal:
    """Takes DongBoHoSoMC batches slowly (so that two pushers overlap), refuses some of them without
    taking anything, and records what a correct sender must never do."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.accepted: dict[str, list[int]] = defaultdict(list)  # in the order the portal took them
        self.attempted: dict[str, list[int]] = defaultdict(list)
        self.in_flight: set[str] = set()
        self.overlaps: list[str] = []
        self.requests_by: dict[str, int] = defaultdict(int)
        self.app = FastAPI()
        self.app.post("/api/DongBoHoSoMC")(self.receive)

    async def receive(self, request: Request) -> JSONResponse:
        body = await request.json()
        if body["service"] == "CapNhatTienDoHoSoMC":  # progress: taken (tests/fake_portal.py checks it)
            return JSONResponse({"error_code": 0, "message": "ok"})
        self.requests_by[request.headers.get("x-pusher", "?")] += 1
        records = body["data"]
        codes = [r["MaHoSo"] for r in records]
        self.overlaps.extend(c for c in codes if c in self.in_flight)
        self.in_flight.update(codes)
        try:
            for r in records:
                self.attempted[r["MaHoSo"]].append(r["PhienBan"])
            await asyncio.sleep(self.rng.uniform(0.0, 0.03))
            roll = self.rng.random()
            if roll < 0.1:
                return JSONResponse({"error": "overloaded"}, status_code=500)
            if roll < 0.2:
                return JSONResponse({"error_code": 1, "message": "từ chối"})
            for r in records:
                self.accepted[r["MaHoSo"]].append(r["PhienBan"])
            return JSONResponse({"error_code": 0, "message": "ok"})
        finally:
            self.in_flight.difference_update(codes)


def _pusher(s: ProcessingSettings, name: str) -> PortalPusher:
    client = httpx.AsyncClient(timeout=s.portal_timeout_s, headers={"X-Pusher": name})
    engine = create_engine(s, pool_size=2)
    return PortalPusher(s, engine, load_catalog(s.catalog_dir), Metrics(), client=client)


async def test_two_pushers_deliver_each_version_once_and_in_order(
    processing_settings: ProcessingSettings,
) -> None:
    portal = CheckingPortal(seed=11)
    histories = list(stream(150, seed=11))
    events = interleave(histories, random.Random(11))
    quarter = len(events) // 4 + 1
    waves = [events[i : i + quarter] for i in range(0, len(events), quarter)]  # several versions each
    async with serve(portal.app) as url:
        s = processing_settings.model_copy(
            update={"portal_url": url + "/api/DongBoHoSoMC", "portal_batch_size": 20, "portal_timeout_s": 5.0}
        )
        app_settings = s.model_copy(update={"portal_url": None})  # the app consumes; the two below push
        pushers = [_pusher(s, "a"), _pusher(s, "b")]
        async with running_app(app_settings):
            tasks = [asyncio.create_task(p.run()) for p in pushers]
            try:
                for wave in waves:
                    await produce(s, wave)
                    await asyncio.sleep(0.5)
                await wait_until(lambda: events_stored(s, len(events)), what="all events applied")
                await wait_until(
                    lambda: all_synced(s), timeout_s=90, what="portal holds every latest version"
                )
            finally:
                for p in pushers:
                    p.stop()
                await asyncio.gather(*tasks)
                for p in pushers:
                    await p.engine.dispose()
        async with db(s) as conn:
            latest = {r["dossier_code"]: r["version"] for r in await conn.fetch("select * from dossiers")}
    assert portal.overlaps == [], "a dossier was in two requests at once"
    assert len(latest) == 150
    for code, version in latest.items():
        took = portal.accepted[code]
        assert took == sorted(set(took)), f"{code}: versions taken {took}"  # increasing, none twice
        assert took[-1] == version, code  # the latest version arrived
        tried = portal.attempted[code]
        assert tried == sorted(tried), f"{code}: versions sent {tried}"  # a refusal is retried, never older
    assert max(map(len, portal.accepted.values())) > 1  # dossiers did go through several versions
    assert portal.requests_by["a"] > 0 and portal.requests_by["b"] > 0  # both pushers worked
