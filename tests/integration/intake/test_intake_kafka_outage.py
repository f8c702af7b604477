"""Kafka stopped → 503 with Retry-After and nothing reported accepted; Kafka back → accepted again."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from intake_harness import Keys, event, make_settings, read_topic, running

pytestmark = pytest.mark.integration


async def test_broker_down_means_503_and_back_means_accepted(
    private_kafka: Any, topic_suffix: str, keys: Keys
) -> None:
    settings = make_settings(private_kafka.bootstrap, topic_suffix, keys, kafka_send_timeout_s=2.0)
    async with running(settings) as client:
        auth = keys.auth()
        before = event("dossier.received")
        assert (await client.post("/v1/events", json=before, headers=auth)).status_code == 202

        await asyncio.to_thread(private_kafka.stop)
        during = [event("dossier.processing") for _ in range(3)]
        single = await client.post("/v1/events", json=during[0], headers=auth)
        assert single.status_code == 503
        assert single.headers["retry-after"] == str(settings.retry_after_s)
        assert single.headers["content-type"] == "application/problem+json"
        batch = await client.post("/v1/events:batch", json={"events": during[1:]}, headers=auth)
        assert batch.status_code == 503
        assert "results" not in batch.json()  # nothing reported as accepted
        assert (await client.get("/readyz")).status_code == 503
        metrics = (await client.get("/metrics")).text
        assert "intake_kafka_send_failures_total 2.0" in metrics

        await asyncio.to_thread(private_kafka.start)
        after = event("dossier.resolved")
        deadline = time.monotonic() + 60
        while (response := await client.post("/v1/events", json=after, headers=auth)).status_code != 202:
            assert response.status_code == 503, response.text
            assert time.monotonic() < deadline, "intake did not recover after Kafka came back"
            await asyncio.sleep(0.5)
        assert (await client.get("/readyz")).status_code == 200

    written = await read_topic(private_kafka.bootstrap, settings.events_topic)
    ids = written.event_ids
    assert ids.count(before["event_id"]) == 1
    assert after["event_id"] in ids
    # Events answered 503 may still reach the topic once Kafka is back (the producer kept them);
    # the sender retries them with the same event_id and processing deduplicates.
    assert set(ids) <= {before["event_id"], after["event_id"], *(e["event_id"] for e in during)}
