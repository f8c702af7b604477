"""A hostile counter next to a normal one (issue: no input can stop the pipeline).

For a bounded time one key posts every kind of hostile input the contract names (conflicting event
ids, out-of-range instants, full-width digits, control and bidirectional characters, oversized text,
events with dozens of errors, huge bodies from a plain client, a dossier far over its event limit,
impossible transitions, undecodable bytes straight into the topic) while a second key posts a normal
quarter of traffic and a canary dossier every second. Afterwards the normal counter's report and live
series are exact, no canary waited long behind the hostile events, no response was a 5xx, and every
hostile event was either refused at the door or counted in the DLQ under its reason."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dossier_runtime.api_keys import create_key
from dossier_sim.generator import SimulatedDossier
from tests.e2e.hostile import (
    EVENT_LIMIT,
    FLOOD_SECONDS,
    HOSTILE_AGENCY,
    NORMAL_AGENCIES,
    HostileCounter,
    received,
)
from tests.e2e.traffic import Traffic, live_series
from tests.support import System, running_system

pytestmark = pytest.mark.e2e


@pytest.fixture
def system(tmp_path: Path, kafka_bootstrap: str, database_url: str) -> Iterator[System]:
    with running_system(
        tmp_path, kafka_bootstrap, database_url, PROCESSING_DOSSIER_EVENT_LIMIT=str(EVENT_LIMIT)
    ) as started:
        yield started


def _dlq_counts(processing_url: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    text = httpx.get(f"{processing_url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        if family.name == "processing_dlq_messages":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    counts[sample.labels["reason"]] += int(sample.value)
    return counts


def _visible(system: System, code: str) -> bool:
    headers = {"Authorization": f"Bearer {system.sync_key}"}
    return (
        httpx.get(f"{system.processing.url}/v1/dossiers/{code}", headers=headers, timeout=10).status_code
        == 200
    )


def _canaries(
    system: System, key: str, stop: threading.Event, waits: list[float], sent: list[dict[str, Any]]
) -> None:
    """A normal dossier every second; how long each took to appear in processing."""
    n = 0
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        while not stop.is_set():
            n += 1
            code = f"000.00.02.H49-261130-{9000 + n:05d}"
            event = received(code)
            posted = time.monotonic()
            assert client.post(f"{system.intake.url}/v1/events", json=event).status_code == 202
            sent.append(event)
            while not _visible(system, code):
                assert time.monotonic() - posted < 120, f"canary {code} never appeared"
                time.sleep(0.1)
            waits.append(time.monotonic() - posted)
            stop.wait(1.0)


def test_a_hostile_counter_cannot_stop_or_slow_a_normal_one(system: System, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    hostile_key = create_key(keys / "intake.csv", "hostile-counter", HOSTILE_AGENCY)
    normal_key = create_key(keys / "intake.csv", "normal-counter", ";".join(NORMAL_AGENCIES))
    reader_key = create_key(keys / "metrics.csv", "normal-reader", ";".join(NORMAL_AGENCIES))
    for service in (system.intake, system.metrics):
        service.process.send_signal(1)  # type: ignore[union-attr]  # SIGHUP: reload the keys files
    for url, key in ((system.intake.url + "/v1/events", normal_key),):
        for _ in range(100):
            r = httpx.post(url, json={}, headers={"Authorization": f"Bearer {key}"})
            if r.status_code != 401:
                break
            time.sleep(0.1)

    traffic = Traffic.generate(400, seed=41)
    hostile = HostileCounter(system, hostile_key, system.env["KAFKA_BOOTSTRAP_SERVERS"])
    stop = threading.Event()
    waits: list[float] = []
    canary_events: list[dict[str, Any]] = []
    canary = threading.Thread(
        target=_canaries, args=(system, normal_key, stop, waits, canary_events), daemon=True
    )
    flood = threading.Thread(target=hostile.flood, args=(FLOOD_SECONDS,), daemon=True)
    canary.start()
    flood.start()
    asyncio.run(hostile.undecodable(system.env["PROCESSING_EVENTS_TOPIC"], 25))
    sent = traffic.send(system.intake.url, normal_key, traffic.plan(size=200, shuffle=True))
    flood.join(timeout=FLOOD_SECONDS + 300)
    stop.set()
    canary.join(timeout=150)

    # The normal counter: everything accepted, the report and live series exact.
    assert sent.rejected == 0, sent.errors
    assert sent.accepted == traffic.event_count
    assert traffic.report_differences(system.metrics.url, key=reader_key, timeout=120) == []
    outcome = traffic.dossiers[0].outcome
    canaries = [SimulatedDossier(e["dossier_code"], e["agency_code"], outcome, [e]) for e in canary_events]
    expected = Traffic(traffic.dossiers + canaries, traffic.expected).expected_live()
    for name, counts in live_series(system.metrics.url).items():
        normal = Counter({k: v for k, v in counts.items() if not k.startswith(HOSTILE_AGENCY)})
        assert normal == expected[name], name
    # None of its events waited long behind the hostile ones.
    assert waits, "no canary got through"
    assert max(waits) < 20.0, waits

    # The hostile counter: no 5xx, small errors, every event refused or dead-lettered by reason.
    tally = hostile.tally
    assert tally.problems == []
    assert not [s for s in tally.statuses if s >= 500]
    assert tally.refused > 0 and tally.largest_error_body < 64 * 1024
    deadline = time.monotonic() + 60
    while _dlq_counts(system.processing.url) != tally.dlq and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _dlq_counts(system.processing.url) == tally.dlq

    # Reads are scoped: the normal reader never sees the hostile agency, anonymous reads are refused.
    auth = {"Authorization": f"Bearer {reader_key}"}
    live_json = httpx.get(f"{system.metrics.url}/v1/stats/live", headers=auth).json()
    assert HOSTILE_AGENCY not in str(live_json)
    forbidden = httpx.get(
        f"{system.metrics.url}/v1/reports/dossiers",
        params={"period": "2026-Q4", "agency": HOSTILE_AGENCY},
        headers=auth,
    )
    assert forbidden.status_code == 403
    for url in (
        f"{system.metrics.url}/v1/reports/dossiers?period=2021-Q2",
        f"{system.metrics.url}/v1/stats/live",
        f"{system.processing.url}/v1/dossiers",
        f"{system.processing.url}/v1/dossiers/{HOSTILE_AGENCY}-261130-00001",
    ):
        assert httpx.get(url).status_code == 401, url
    extreme = httpx.get(
        f"{system.metrics.url}/v1/reports/dossiers",
        params={"from": "0001-01-01", "to": "2025-01-01"},
        headers=auth,
    )
    assert extreme.status_code == 422
