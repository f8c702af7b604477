"""Every read of the processing API needs a key and shows only the agencies the key allows (SPEC §6),
against the real consumer, PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from processing_factory import START, event
from processing_harness import events_stored, produce, running_app, wait_until

from dossier_processing.settings import ProcessingSettings
from dossier_runtime.api_keys import create_key

pytestmark = pytest.mark.integration

A18, A31, B31 = "000.00.18.H49", "000.00.31.H49", "000.01.31.H49"
CODES = {a: [f"{a}-250303-{n:04d}" for n in range(1, 8)] for a in (A18, A31, B31)}
ENDPOINTS = ("/v1/dossiers", f"/v1/dossiers/{CODES[A18][0]}", "/v1/sync/changes")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _all_pages(client: httpx.AsyncClient, key: str, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a listing, following `next_cursor` with small pages."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=query, headers=_auth(key))
        assert response.status_code == 200, response.text
        page = response.json()
        if path == "/v1/sync/changes":
            out.extend(page["data"])
            cursor = page["next_cursor"] if page["has_more"] else None
        else:
            out.extend(page["items"])
            cursor = page["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("the listing never ended")


async def test_reads_need_a_key_and_see_only_its_agencies(
    processing_settings: ProcessingSettings, processing_keys: Path, processing_key: str
) -> None:
    s = processing_settings.model_copy(update={"run_relay": False})
    only_18 = create_key(processing_keys, "centre-18", A18)
    both_31 = create_key(processing_keys, "district-31", "000.0?.31.H49")  # narrowed in SQL with LIKE
    set_18 = create_key(processing_keys, "centre-18-set", "000.00.[1]8.H49")  # checked row by row only
    events = [
        event("received", code, START, procedure_code="1.004194", channel="direct")
        for codes in CODES.values()
        for code in codes
    ]
    await produce(s, events)
    async with running_app(s) as client:
        await wait_until(lambda: events_stored(s, len(events)), what="events applied")

        for path in ENDPOINTS:  # no key, an unknown key, another scheme: 401 with a challenge
            for headers in ({}, _auth("dk_unknown"), {"Authorization": f"Basic {processing_key}"}):
                refused = await client.get(path, headers=headers)
                assert refused.status_code == 401, (path, headers)
                assert refused.headers["www-authenticate"].startswith("Bearer")
                assert refused.headers["content-type"] == "application/problem+json"
        for path in ("/healthz", "/readyz", "/metrics"):  # operations stay open
            assert (await client.get(path)).status_code == 200, path

        # a dossier of another agency is answered exactly like a missing one
        own = await client.get(f"/v1/dossiers/{CODES[A18][0]}", headers=_auth(only_18))
        assert own.status_code == 200 and own.json()["agency_code"] == A18
        other = await client.get(f"/v1/dossiers/{CODES[A31][0]}", headers=_auth(only_18))
        missing_code = f"{A31}-250303-9999"
        missing = await client.get(f"/v1/dossiers/{missing_code}", headers=_auth(only_18))
        assert other.status_code == missing.status_code == 404
        assert other.headers["content-type"] == missing.headers["content-type"] == "application/problem+json"
        assert other.text.replace(CODES[A31][0], "X") == missing.text.replace(missing_code, "X")

        # lists and the change feed, page by page, hold exactly the key's agencies
        expected = {
            only_18: set(CODES[A18]),
            set_18: set(CODES[A18]),
            both_31: set(CODES[A31]) | set(CODES[B31]),
            processing_key: {c for codes in CODES.values() for c in codes},
        }
        for key, codes in expected.items():
            listed = await _all_pages(client, key, "/v1/dossiers", limit=2)
            assert [d["dossier_code"] for d in listed] == sorted(codes)
            changed = await _all_pages(client, key, "/v1/sync/changes", limit=2)
            assert sorted(r["MaHoSo"] for r in changed) == sorted(codes)

        # agency= inside the scope filters; outside it is 403
        mine = await client.get("/v1/dossiers", params={"agency": B31}, headers=_auth(both_31))
        assert [d["dossier_code"] for d in mine.json()["items"]] == CODES[B31]
        forbidden = await client.get("/v1/dossiers", params={"agency": A18}, headers=_auth(both_31))
        assert forbidden.status_code == 403
        assert forbidden.headers["content-type"] == "application/problem+json"


async def test_an_unreachable_database_is_a_503_not_a_500(
    processing_settings: ProcessingSettings, processing_key: str, private_postgres: Any
) -> None:
    s = processing_settings.model_copy(
        update={"database_url": private_postgres.url, "run_consumer": False, "run_relay": False}
    )
    async with running_app(s) as client:
        assert (await client.get("/v1/dossiers", headers=_auth(processing_key))).status_code == 200
        await asyncio.to_thread(private_postgres.stop)
        try:
            for path in ENDPOINTS:
                down = await client.get(path, headers=_auth(processing_key))
                assert down.status_code == 503, (path, down.text)
                assert (
                    down.headers["retry-after"] and down.headers["content-type"] == "application/problem+json"
                )
        finally:
            await asyncio.to_thread(private_postgres.start)
        await wait_until(lambda: _answers(client, processing_key), what="reads again after the restart")


async def _answers(client: httpx.AsyncClient, key: str) -> bool:
    return (await client.get("/v1/dossiers", headers=_auth(key))).status_code == 200
