"""Each agency's sync state towards the national portal (`portal/state.py`): `GET /v1/sync/state`
scoped to the key's agencies, and the push worker's `/metrics` series, on real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from processing_factory import START, event
from processing_harness import db, events_stored, produce, read_topic, running_app, wait_until
from prometheus_client.parser import text_string_to_metric_families

from dossier_contracts.portal_sync import decode_sync_record
from dossier_processing.bootstrap import create_engine
from dossier_processing.observability import PortalSync
from dossier_processing.portal.state import sync_by_agency
from dossier_processing.portal.state_publisher import SyncStatePublisher
from dossier_processing.settings import ProcessingSettings
from dossier_runtime.api_keys import create_key
from dossier_runtime.kafka import ensure_topics

pytestmark = pytest.mark.integration

A, B = "000.00.18.H49", "000.00.31.H49"


def _code(agency: str, n: int) -> str:
    return f"{agency}-250303-{n:04d}"


#: dossier → its sync_state row (None: no row, i.e. never noted by a push worker); `synced` marks the
#: dossier's latest version as accepted; `parked` (error_code, versions before the latest) parks it
PARKED = "DongBoHoSoMC: error_code 12: MaTTHC không tồn tại"
STATES: dict[str, dict[str, Any] | None] = {
    _code(A, 1): {"synced": True},
    _code(A, 2): {"synced": True},
    _code(A, 3): {"last_error": "ReadTimeout: timed out"},
    _code(A, 4): {"last_error": 'HTTP 503: {"error_code": 99, "message": "bảo trì"}'},
    _code(A, 5): {"last_error": "DongBoHoSoMC: error_code 7: hệ thống bận"},
    _code(A, 6): None,
    _code(A, 7): {},
    _code(A, 8): {"last_error": PARKED, "parked": ("12", 0)},
    # parked at its first version, changed since: due again, failed until the next attempt
    _code(A, 9): {"last_error": PARKED, "parked": ("12", 1)},
    _code(B, 1): {"last_error": "ConnectError: [Errno 111] Connection refused"},
    _code(B, 2): {"synced": True},
    # the record taken, its progress rejected for good
    _code(B, 3): {"synced": True, "last_error": "CapNhatTienDoHoSoMC: error_code 11: x", "parked": ("11", 0)},
    _code(B, 4): {"last_error": "DongBoHoSoMC: error_code 1x: ?", "parked": ("1x", 0)},
}


async def _given_states(s: ProcessingSettings) -> dict[str, datetime]:
    """Dossiers received (one with a second version) and their sync state as `STATES` says; returns
    each dossier's `updated_at`."""
    received = [
        event("received", code, START, procedure_code="1.004194", channel="direct") for code in STATES
    ]
    await produce(s, received)
    await wait_until(lambda: events_stored(s, len(received)), what="receipts applied")
    # a second version of two dossiers, applied in a batch of its own
    later = [event("processing", _code(A, n), START + timedelta(hours=1)) for n in (3, 9)]
    await produce(s, later)
    await wait_until(lambda: events_stored(s, len(received) + len(later)), what="changes applied")
    async with db(s) as conn:
        versions = {r[0]: r[1] for r in await conn.fetch("select dossier_code, version from dossiers")}
        assert versions[_code(A, 3)] == versions[_code(A, 9)] == 2
        for code, st in STATES.items():
            if st is None:
                continue
            synced = versions[code] if st.get("synced") else 0
            error_code, behind = st.get("parked", (None, 0))
            await conn.execute(
                "insert into sync_state (dossier_code, wanted_version, synced_version, attempts, last_error,"
                " error_code, parked_at, parked_version, park_reason)"
                " values ($1, $2, $3, $4, $5, $6, case when $6::text is null then null else now() end,"
                " $7, $8)",
                code,
                versions[code],
                synced,
                1 if st.get("last_error") else 0,
                st.get("last_error"),
                error_code,
                versions[code] - behind if error_code else None,
                st.get("last_error") if error_code else None,
            )
        return {r[0]: r[1] for r in await conn.fetch("select dossier_code, updated_at from dossiers")}


async def test_sync_state_per_agency_scoped_to_the_key(
    processing_settings: ProcessingSettings, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.csv"
    only_a = create_key(keys, "a", A)
    only_b = create_key(keys, "b", B)
    everyone = create_key(keys, "all", "*.H49")
    s = processing_settings.model_copy(update={"api_keys_file": keys, "run_relay": False})
    async with running_app(s) as client:
        updated = await _given_states(s)

        async def get(key: str | None, **params: str) -> Any:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            return await client.get("/v1/sync/state", params=params, headers=headers)

        a_view = (await get(only_a)).json()
        b_view = (await get(only_b)).json()
        both = (await get(everyone)).json()
        asked = (await get(everyone, agency=B)).json()
        forbidden = await get(only_a, agency=B)
        unknown = await get("nope")
        missing = await get(None)
        bad = await get(only_a, agency="")

    # a key sees its own agencies only, in rows and in the total
    assert [r["agency_code"] for r in a_view["agencies"]] == [A]
    assert [r["agency_code"] for r in b_view["agencies"]] == [B]
    assert B not in str(a_view) and A not in str(b_view)
    assert [r["agency_code"] for r in both["agencies"]] == [A, B]
    assert [r["agency_code"] for r in asked["agencies"]] == [B]
    age = "oldest_unsynced_seconds"  # judged at each request's time
    assert {**asked["total"], age: None} == {**b_view["total"], age: None}

    row_a = a_view["agencies"][0]
    counts = ("received", "synced", "pending", "failed", "parked")
    assert [row_a[c] for c in counts] == [9, 2, 2, 4, 1]
    assert row_a["failed_by_reason"] == {"timeout": 1, "http_error": 1, "rejected": 2}
    assert row_a["parked_by_error_code"] == {"12": 1}
    assert row_a["sync_ratio"] == pytest.approx(2 / 9)
    unsynced_a = [c for c in STATES if c.startswith(A) and not (STATES[c] or {}).get("synced")]
    assert datetime.fromisoformat(row_a["oldest_unsynced_at"]) == min(updated[c] for c in unsynced_a)
    assert row_a["oldest_unsynced_seconds"] >= 0
    assert row_a["agency_name"] and a_view["total"]["received"] == 9

    row_b = b_view["agencies"][0]
    assert [row_b[c] for c in counts] == [4, 1, 0, 1, 2]
    assert row_b["failed_by_reason"] == {"unreachable": 1}
    assert row_b["parked_by_error_code"] == {"11": 1, "other": 1}
    unsynced_b = [_code(B, n) for n in (1, 3, 4)]
    assert datetime.fromisoformat(row_b["oldest_unsynced_at"]) == min(updated[c] for c in unsynced_b)

    total = both["total"]
    assert [total[c] for c in counts] == [13, 3, 2, 5, 3]
    assert total["failed_by_reason"] == {"timeout": 1, "http_error": 1, "rejected": 2, "unreachable": 1}
    assert total["parked_by_error_code"] == {"11": 1, "12": 1, "other": 1}
    assert total["oldest_unsynced_at"] == min(
        (r["oldest_unsynced_at"] for r in both["agencies"]), key=datetime.fromisoformat
    )

    # errors are problem details and never name the agency outside the key
    assert forbidden.status_code == 403 and forbidden.headers["content-type"] == "application/problem+json"
    assert B not in forbidden.text
    assert unknown.status_code == 401 and missing.status_code == 401
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.agency"


async def test_a_fully_synced_agency_has_no_oldest_unsynced(
    processing_settings: ProcessingSettings, processing_key: str
) -> None:
    s = processing_settings.model_copy(update={"run_relay": False})
    code = _code(B, 9)
    await produce(s, [event("received", code, START, procedure_code="1.004194", channel="online")])
    async with running_app(s) as client:
        await wait_until(lambda: events_stored(s, 1), what="event applied")
        async with db(s) as conn:
            await conn.execute(
                "insert into sync_state (dossier_code, wanted_version, synced_version) values ($1, 1, 1)",
                code,
            )
        view = (
            await client.get("/v1/sync/state", headers={"Authorization": f"Bearer {processing_key}"})
        ).json()
    (row,) = view["agencies"]
    assert row["synced"] == row["received"] == 1 and row["sync_ratio"] == 1
    assert row["oldest_unsynced_at"] is None and row["oldest_unsynced_seconds"] is None
    assert row["failed_by_reason"] == {}


@asynccontextmanager
async def refusing_portal() -> AsyncIterator[str]:
    """A national portal that answers every call with HTTP 503, as a real HTTP server; yields its URL."""
    app = FastAPI()

    @app.post("/api/DongBoHoSoMC")
    async def refuse() -> JSONResponse:
        return JSONResponse({"error_code": 99, "message": "bảo trì"}, status_code=503)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/api/DongBoHoSoMC"
    finally:
        server.should_exit = True
        await task


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


async def test_push_worker_exposes_failures_by_reason_and_the_oldest_unsynced(
    processing_settings: ProcessingSettings,
) -> None:
    """A portal that refuses every call with HTTP 503: the agency's dossier is failed as `http_error`
    and its oldest unsynced change has an age; the other agency's series do not exist."""
    code = _code(A, 1)
    async with refusing_portal() as url:
        s = processing_settings.model_copy(
            update={"portal_url": url, "portal_timeout_s": 0.5, "run_relay": False}
        )
        await produce(s, [event("received", code, START, procedure_code="1.004194", channel="direct")])
        async with running_app(s) as client:

            async def failed_as_http_error() -> bool:
                text = (await client.get("/metrics")).text
                failed = _samples(text, "processing_portal_failed")
                return failed == {(("agency_code", A), ("reason", "http_error")): 1.0}

            await wait_until(failed_as_http_error, timeout_s=60, what="the dossier failed as http_error")
            text = (await client.get("/metrics")).text
    dossiers = _samples(text, "processing_portal_dossiers")
    assert dossiers == {
        (("agency_code", A), ("state", "failed")): 1.0,
        (("agency_code", A), ("state", "pending")): 0.0,
        (("agency_code", A), ("state", "synced")): 0.0,
        (("agency_code", A), ("state", "parked")): 0.0,
    }
    assert _samples(text, "processing_portal_parked") == {}
    oldest = _samples(text, "processing_portal_oldest_unsynced_seconds")
    assert list(oldest) == [(("agency_code", A),)] and oldest[(("agency_code", A),)] > 0


async def test_the_sync_state_is_published_per_agency_when_it_changes(
    processing_settings: ProcessingSettings, processing_key: str
) -> None:
    """`portal.sync.v1` (compacted, keyed by agency) carries the figures `GET /v1/sync/state` gives, as
    the push worker last read them; a round sends only the agencies whose figures changed."""
    s = processing_settings.model_copy(update={"run_relay": False})
    async with running_app(s) as client:
        await _given_states(s)
        view = (
            await client.get("/v1/sync/state", headers={"Authorization": f"Bearer {processing_key}"})
        ).json()
    engine = create_engine(s, pool_size=2)
    producer = AIOKafkaProducer(
        bootstrap_servers=s.kafka_bootstrap_servers, enable_idempotence=True, acks="all"
    )
    await ensure_topics(s.kafka_bootstrap_servers, {s.portal_sync_topic: 1})
    await producer.start()
    try:
        source = PortalSync()  # what the push worker read last, as its `_ratio` refreshes it
        publisher = SyncStatePublisher(s, engine, source)
        assert await publisher.publish_once(producer) == 0  # nothing read yet

        async def read() -> None:
            async with engine.connect() as conn:
                source.observe(await sync_by_agency(conn))

        await read()
        assert await publisher.publish_once(producer) == 2  # both agencies, first time
        await read()
        assert await publisher.publish_once(producer) == 0  # nothing changed
        async with db(s) as conn:  # the portal takes one of B's dossiers
            await conn.execute(
                "update sync_state set synced_version = wanted_version, last_error = null"
                " where dossier_code = $1",
                _code(B, 1),
            )
        await read()
        assert await publisher.publish_once(producer) == 1
    finally:
        await producer.stop()
        await engine.dispose()
    records = [
        (r.key.decode(), decode_sync_record(r.value))
        for r in await read_topic(s.kafka_bootstrap_servers, s.portal_sync_topic)
    ]
    assert [key for key, _ in records] == [A, B, B]
    assert all(key == record.agency_code for key, record in records)
    counts = ("received", "synced", "pending", "failed", "parked")
    for (_, record), row in zip(records[:2], view["agencies"], strict=True):
        assert [getattr(record, c) for c in counts] == [row[c] for c in counts]
        assert record.oldest_unsynced_at == datetime.fromisoformat(row["oldest_unsynced_at"])
    first_b, later_b = records[1][1], records[2][1]
    assert (later_b.synced, later_b.failed) == (first_b.synced + 1, first_b.failed - 1)
    assert later_b.as_of >= first_b.as_of


async def test_the_unsynced_dossiers_to_act_on_scoped_to_the_key(
    processing_settings: ProcessingSettings, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.csv"
    only_a = create_key(keys, "a", A)
    everyone = create_key(keys, "all", "*.H49")
    s = processing_settings.model_copy(update={"api_keys_file": keys, "run_relay": False})
    async with running_app(s) as client:
        await _given_states(s)

        async def get(key: str, **params: Any) -> Any:
            return await client.get(
                "/v1/sync/dossiers", params=params, headers={"Authorization": f"Bearer {key}"}
            )

        mine = (await get(only_a)).json()
        parked = (await get(everyone, state="parked")).json()
        http = (await get(everyone, reason="http_error")).json()
        paged, cursor = [], None
        for _ in range(10):
            page = (await get(only_a, limit=2, **({"cursor": cursor} if cursor else {}))).json()
            paged += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        forbidden = await get(only_a, agency=B)
        bad = await get(only_a, state="synced")

    by_code = {d["dossier_code"]: d for d in mine["items"]}
    assert list(by_code) == [_code(A, n) for n in range(3, 10)] and mine["next_cursor"] is None
    assert {c: (d["state"], d["reason"]) for c, d in by_code.items()} == {
        _code(A, 3): ("failed", "timeout"),
        _code(A, 4): ("failed", "http_error"),
        _code(A, 5): ("failed", "rejected"),
        _code(A, 6): ("pending", None),
        _code(A, 7): ("pending", None),
        _code(A, 8): ("parked", "12"),
        _code(A, 9): ("failed", "rejected"),
    }
    assert by_code[_code(A, 8)]["parked_at"] and by_code[_code(A, 8)]["next_attempt_at"] is None
    assert by_code[_code(A, 3)]["version"] == 2 and by_code[_code(A, 6)]["synced_version"] == 0
    assert "bận" not in str(mine) and "MaTTHC" not in str(mine)  # the portal's messages are not shown
    assert [d["dossier_code"] for d in paged] == list(by_code)
    assert [(d["dossier_code"], d["reason"]) for d in parked["items"]] == [
        (_code(A, 8), "12"),
        (_code(B, 3), "11"),
        (_code(B, 4), "other"),
    ]
    assert [d["dossier_code"] for d in http["items"]] == [_code(A, 4)]
    assert forbidden.status_code == 403 and B not in forbidden.text
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.state"
