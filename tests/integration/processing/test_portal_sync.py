"""The national-portal change feed and the push worker against a real (fake) portal HTTP server."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from processing_factory import START, event, interleave, stream
from processing_harness import all_synced, db, events_stored, produce, running_app, scalar, wait_until

from dossier_processing.settings import ProcessingSettings
from dossier_runtime.api_keys import create_key

pytestmark = pytest.mark.integration


class FakePortal:
    """Accepts DongBoHoSoMC batches, except that it fails every `fail_every`-th request in turn as
    HTTP 500, as a 200 with error_code 1, and by hanging past the client's timeout."""

    def __init__(self, fail_every: int = 3, *, always_fail: bool = False) -> None:
        self.always_fail = always_fail
        self.accepted: dict[str, int] = {}
        self.requests = 0
        self.fail_every = fail_every
        self.app = FastAPI()
        self.app.post("/api/DongBoHoSoMC")(self.receive)

    async def receive(self, request: Request) -> JSONResponse:
        body = await request.json()
        if body["service"] == "CapNhatTienDoHoSoMC":  # progress: taken (tests/fake_portal.py checks it)
            return JSONResponse({"error_code": 0, "message": "ok"})
        self.requests += 1
        assert body["service"] == "DongBoHoSoMC"
        if self.always_fail:
            return JSONResponse({"error_code": 99, "message": "bảo trì"}, status_code=503)
        if self.requests % self.fail_every == 0:
            kind = (self.requests // self.fail_every) % 3
            if kind == 0:
                return JSONResponse({"error": "overloaded"}, status_code=500)
            if kind == 1:
                return JSONResponse({"error_code": 1, "message": "từ chối"})
            await asyncio.sleep(2)  # longer than the pusher's timeout
        for record in body["data"]:
            code = record["MaHoSo"]
            self.accepted[code] = max(self.accepted.get(code, 0), record["PhienBan"])
        return JSONResponse({"error_code": 0, "message": "ok"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_push_worker_delivers_latest_versions_through_failures(
    processing_settings: ProcessingSettings,
) -> None:
    portal = FakePortal()
    histories = list(stream(400, seed=21))
    events = interleave(histories, random.Random(21))
    async with serve(portal.app) as url:
        s = processing_settings.model_copy(
            update={"portal_url": url + "/api/DongBoHoSoMC", "portal_batch_size": 50, "portal_timeout_s": 0.5}
        )
        await produce(s, events[: len(events) // 2])
        async with running_app(s) as client:
            await asyncio.sleep(1)
            await produce(s, events[len(events) // 2 :])
            await wait_until(lambda: events_stored(s, len(events)), what="all events applied")
            await wait_until(lambda: all_synced(s), timeout_s=90, what="portal holds every latest version")
            metrics = (await client.get("/metrics")).text
            received = await _received_by_agency(s)
            await wait_until(
                lambda: _gauges_say(client, {(a, "synced"): n for a, n in received.items()}),
                timeout_s=30,
                what="every agency's received dossiers counted as synced",
            )
        async with db(s) as conn:
            versions = {r["dossier_code"]: r["version"] for r in await conn.fetch("select * from dossiers")}
            states = await conn.fetch("select * from sync_state")
    assert portal.accepted == versions
    assert any(st["attempts"] == 0 and st["synced_at"] for st in states)
    for st in states:  # never marked synced beyond what the portal accepted
        assert st["synced_version"] <= portal.accepted.get(st["dossier_code"], 0)
    assert portal.requests > 3 and 'processing_portal_requests_total{outcome="failed"}' in metrics
    assert "processing_portal_sync_ratio" in metrics and len(received) > 1


async def _received_by_agency(s: ProcessingSettings) -> dict[str, int]:
    async with db(s) as conn:
        rows = await conn.fetch(
            "select agency_code, count(*) from dossiers where received_at is not null group by 1"
        )
    return {r[0]: r[1] for r in rows}


async def _gauges_say(client: Any, expected: dict[tuple[str, str], int]) -> bool:
    """Whether `processing_portal_dossiers` holds these values (agency, state) → count, and 0 for
    the other states of those agencies."""
    metrics = (await client.get("/metrics")).text
    for agency in {a for a, _ in expected}:
        for state in ("synced", "failed", "pending"):
            line = f'processing_portal_dossiers{{agency_code="{agency}",state="{state}"}} '
            if f"{line}{float(expected.get((agency, state), 0))}" not in metrics:
                return False
    return True


async def test_failed_batches_are_recorded_and_never_marked_synced(
    processing_settings: ProcessingSettings,
) -> None:
    portal = FakePortal(always_fail=True)
    code = "000.00.18.H49-250303-0001"
    async with serve(portal.app) as url:
        s = processing_settings.model_copy(
            update={"portal_url": url + "/api/DongBoHoSoMC", "portal_timeout_s": 0.5}
        )
        await produce(s, [event("received", code, START, procedure_code="1.004194", channel="direct")])
        async with running_app(s) as client:
            await wait_until(lambda: _attempted(s, 3), timeout_s=30, what="three failed attempts")
            await wait_until(
                lambda: _gauges_say(client, {("000.00.18.H49", "failed"): 1}),
                timeout_s=30,
                what="the dossier counted as failed",
            )
    async with db(s) as conn:
        st = await conn.fetchrow("select * from sync_state where dossier_code = $1", code)
    assert st["synced_version"] == 0 and st["wanted_version"] == 1 and st["last_error"]
    assert portal.accepted == {}


async def _attempted(s: ProcessingSettings, n: int) -> bool:
    return bool(await scalar(s, "select max(attempts) >= $1 from sync_state", n))


async def test_sync_feed_needs_a_key_and_shows_only_its_agencies(
    processing_settings: ProcessingSettings, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.csv"
    h18 = create_key(keys, "portal-18", "000.00.18.H49")
    everyone = create_key(keys, "portal-all", "*.H49")
    s = processing_settings.model_copy(update={"api_keys_file": keys, "run_relay": False})
    histories = list(stream(60, seed=5))
    await produce(s, [e for h in histories for e in h])
    async with running_app(s) as client:
        await wait_until(lambda: events_stored(s, sum(map(len, histories))), what="events applied")
        assert (await client.get("/v1/sync/changes")).status_code == 401
        bad = await client.get("/v1/sync/changes", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"
        all_records = await _drain(client, everyone)
        only_18 = await _drain(client, h18)
    assert len(all_records) == 60
    assert {r["MaHoSo"] for r in only_18} == {
        h[0].dossier_code for h in histories if ".18." in h[0].dossier_code
    }
    record = all_records[0]
    assert {
        "MaHoSo",
        "MaTTHC",
        "KenhThucHien",
        "NgayTiepNhan",
        "NgayHenTra",
        "TrangThaiHoSo",
        "DonViXuLy",
    } <= set(record)
    assert record["KenhThucHien"] in (1, 2, 3) and len(record["NgayTiepNhan"]) == 14
    assert record["NgayTiepNhan"].startswith("2025")


async def _drain(client: Any, key: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get("/v1/sync/changes", params=params, headers={"Authorization": f"Bearer {key}"})
        ).json()
        records.extend(page["data"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    return records


async def test_list_filters_and_pending_state_against_the_clock(
    processing_settings: ProcessingSettings, processing_key: str
) -> None:
    s = processing_settings.model_copy(update={"run_relay": False})
    auth = {"Authorization": f"Bearer {processing_key}"}
    a = "000.00.18.H49"
    codes = [f"{a}-250303-000{i}" for i in range(1, 6)]
    far = datetime(2099, 12, 1, 8, 0, tzinfo=START.tzinfo).isoformat()  # the latest instant SPEC allows
    events = [
        event("received", codes[0], START, procedure_code="1.004194", channel="direct"),  # overdue long ago
        event(
            "received", codes[1], START, procedure_code="1.004194", channel="online", due_at=far
        ),  # in time
        event("received", codes[2], START, procedure_code="1.004194", channel="direct", due_at=far),
        event("supplement_requested", codes[2], START + timedelta(hours=1), reason="thiếu"),  # paused
        event("received", codes[3], START, procedure_code="1.004194", channel="direct"),
        event("resolved", codes[3], START + timedelta(hours=2)),  # finished: not pending
        event("received", "000.00.31.H49-250303-0001", START, procedure_code="1.004194", channel="direct"),
    ]
    await produce(s, events)
    async with running_app(s) as client:
        await wait_until(lambda: events_stored(s, len(events)), what="events applied")

        async def codes_of(**params: Any) -> list[str]:
            page = await client.get("/v1/dossiers", params=params, headers=auth)
            return [d["dossier_code"] for d in page.json()["items"]]

        assert await codes_of(agency=a, pending_state="overdue") == [codes[0]]
        assert await codes_of(agency=a, pending_state="in_time") == [codes[1], codes[2]]
        assert await codes_of(pending_state="paused") == [codes[2]]
        assert await codes_of(agency=a, status=9) == [codes[3]]
        page = (await client.get("/v1/dossiers", params={"limit": 2}, headers=auth)).json()
        assert len(page["items"]) == 2 and page["next_cursor"]
        params = {"limit": 10, "cursor": page["next_cursor"]}
        rest = (await client.get("/v1/dossiers", params=params, headers=auth)).json()
        assert len(rest["items"]) == 3 and rest["next_cursor"] is None
        for bad in ({"cursor": "a b"}, {"pending_state": "soon"}, {"agency": ""}, {"limit": 0}):
            refused = await client.get("/v1/dossiers", params=bad, headers=auth)
            assert refused.status_code == 422, bad
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["errors"][0]["field"] == f"query.{next(iter(bad))}"
        assert (await client.get("/v1/dossiers")).status_code == 401
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["database"] is True
        assert (await client.get("/healthz")).json() == {"status": "ok"}
