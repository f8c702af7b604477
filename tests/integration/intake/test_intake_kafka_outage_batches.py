"""Kafka stopped → a batch whose partitions go out as record batches of their own (`send_batch`)
gets 503 with nothing reported accepted, as one sent record by record does; Kafka back → accepted."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from intake_harness import QN_AGENCY, Keys, event, make_settings, read_topic, running

from dossier_intake.publisher import OWN_BATCH_MIN

pytestmark = pytest.mark.integration


def one_dossier(n: int, number: int) -> list[dict[str, Any]]:
    """`n` events of one dossier: one partition, so a group of `n` records."""
    return [event("dossier.processing", dossier=f"{QN_AGENCY}-250405-{number:06d}") for _ in range(n)]


async def test_own_batches_during_an_outage_are_503_then_accepted(
    private_kafka: Any, topic_suffix: str, keys: Keys
) -> None:
    settings = make_settings(private_kafka.bootstrap, topic_suffix, keys, kafka_send_timeout_s=2.0)
    async with running(settings) as client:
        auth = keys.auth()
        assert (
            await client.post("/v1/events", json=event("dossier.received"), headers=auth)
        ).status_code == 202

        await asyncio.to_thread(private_kafka.stop)
        during = one_dossier(2 * OWN_BATCH_MIN, 1)
        response = await client.post("/v1/events:batch", json={"events": during}, headers=auth)
        assert response.status_code == 503
        assert response.headers["retry-after"] == str(settings.retry_after_s)
        assert "results" not in response.json()

        await asyncio.to_thread(private_kafka.start)
        after = one_dossier(2 * OWN_BATCH_MIN, 2)
        deadline = time.monotonic() + 60
        while (
            response := await client.post("/v1/events:batch", json={"events": after}, headers=auth)
        ).status_code != 200:
            assert response.status_code == 503, response.text
            assert time.monotonic() < deadline, "intake did not recover after Kafka came back"
            await asyncio.sleep(0.5)
        assert {r["status"] for r in response.json()["results"]} == {"accepted"}

    written = await read_topic(private_kafka.bootstrap, settings.events_topic)
    assert {e["event_id"] for e in after} <= set(written.event_ids)
