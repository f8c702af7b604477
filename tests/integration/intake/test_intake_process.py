"""`python -m dossier_intake` as a process: probes, docs, JSON logs, SIGHUP reload, SIGTERM flush."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import orjson
import pytest
from intake_harness import Keys, Server, event, read_topic

from dossier_runtime.api_keys import create_key

pytestmark = pytest.mark.integration


def test_probes_docs_and_metrics(server: Server) -> None:
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server.url + "/readyz").json() == {"status": "ready"}
    assert "swagger" in httpx.get(server.url + "/docs").text.lower()
    doc = httpx.get(server.url + "/openapi.json").json()
    assert {"/v1/events", "/v1/events:batch", "/healthz", "/readyz", "/metrics"} <= set(doc["paths"])
    examples = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert len(examples) == 15
    metrics = httpx.get(server.url + "/metrics")
    assert metrics.status_code == 200 and "intake_http_requests_total" in metrics.text


def test_logs_are_json_with_event_ids_and_never_the_key(server: Server) -> None:
    key = create_key(server.settings.api_keys_file, "late-key", "*.H49")  # a key of this test only
    server.process.send_signal(signal.SIGHUP)
    accepted, rejected = event("dossier.received"), event("dossier.received", channel="fax")
    auth = {"Authorization": f"Bearer {key}"}
    deadline = time.monotonic() + 10
    while (r := httpx.post(server.url + "/v1/events", json=accepted, headers=auth)).status_code == 401:
        assert time.monotonic() < deadline, "SIGHUP did not reload the keys file"
        time.sleep(0.1)
    assert r.status_code == 202
    assert httpx.post(server.url + "/v1/events", json=rejected, headers=auth).status_code == 422

    lines = [orjson.loads(line) for line in server.log().splitlines() if line.strip()]
    assert all(entry["service"] == "intake" for entry in lines)
    assert any(e["msg"] == "API keys reloaded" for e in lines)
    assert any(e["msg"] == "events accepted" and accepted["event_id"] in e["event_ids"] for e in lines)
    assert any(e["msg"] == "event rejected" and e["event_id"] == rejected["event_id"] for e in lines)
    assert key not in server.log()
    assert all(entry.get("key_name") in (None, "late-key") for entry in lines)


def test_a_broken_keys_file_on_sighup_keeps_the_old_keys(server: Server, keys: Keys) -> None:
    server.settings.api_keys_file.write_text("this is not,a keys file\n")
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "not reloaded" not in server.log():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    response = httpx.post(server.url + "/v1/events", json=event(), headers=keys.auth())
    assert response.status_code == 202
    metrics = httpx.get(server.url + "/metrics").text
    assert 'intake_api_keys_reloads_total{outcome="error"} 1.0' in metrics
    assert "intake_api_keys 2.0" in metrics


async def test_sigterm_answers_in_flight_requests_and_flushes(server: Server, keys: Keys) -> None:
    events = [event("dossier.processing") for _ in range(500)]
    async with httpx.AsyncClient(base_url=server.url, headers=keys.auth()) as client:
        pending = [
            asyncio.create_task(client.post("/v1/events:batch", json={"events": events[i : i + 100]}))
            for i in range(0, 500, 100)
        ]
        await asyncio.sleep(0.05)
        server.process.send_signal(signal.SIGTERM)
        responses = await asyncio.gather(*pending, return_exceptions=True)
    # uvicorn re-raises the SIGTERM it handled once shutdown is complete
    assert server.process.wait(timeout=20) in (0, -signal.SIGTERM)
    accepted = {
        r["event_id"]
        for resp in responses
        if isinstance(resp, httpx.Response) and resp.status_code == 200
        for r in resp.json()["results"]
        if r["status"] == "accepted"
    }
    written = await read_topic(server.settings.kafka_bootstrap_servers, server.settings.events_topic)
    assert accepted <= set(written.event_ids)  # every acknowledged answer is on the topic
    assert "producer flushed" in server.log()
