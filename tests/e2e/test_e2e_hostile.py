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
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from dossier_runtime.api_keys import create_key
from dossier_sim.generator import SimulatedDossier
from tests.e2e.traffic import CATALOG, Traffic, live_series
from tests.support import System, running_system

pytestmark = pytest.mark.e2e

HOSTILE_AGENCY = "000.00.58.H49"  # valid from 2025-07-01: the normal 2021 traffic never touches it
NORMAL_AGENCIES = sorted(code for code in CATALOG.agencies if code != HOSTILE_AGENCY)
EVENT_LIMIT = 60
FLOOD_SECONDS = 20.0
PROCEDURE = next(iter(CATALOG.procedures))


@pytest.fixture
def system(tmp_path: Path, kafka_bootstrap: str, database_url: str) -> Iterator[System]:
    with running_system(
        tmp_path, kafka_bootstrap, database_url, PROCESSING_DOSSIER_EVENT_LIMIT=str(EVENT_LIMIT)
    ) as started:
        yield started


def _event(
    kind: str, code: str, when: str, data: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": f"dossier.{kind}",
        "dossier_code": code,
        "agency_code": code.rsplit("-", 2)[0],
        "occurred_at": when,
        "data": data or {},
        **extra,
    }


def _received(code: str, when: str = "2026-11-30T09:00:00+07:00") -> dict[str, Any]:
    return _event("received", code, when, {"procedure_code": PROCEDURE, "channel": "direct"})


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    refused: int = 0  # hostile events answered 4xx at the door
    dlq: Counter[str] = field(default_factory=Counter)  # hostile events that must reach the DLQ
    largest_error_body: int = 0
    problems: list[str] = field(default_factory=list)

    def saw(self, status: int, what: str) -> None:
        self.statuses[status] += 1
        if status >= 500:
            self.problems.append(f"{what}: HTTP {status}")


class HostileCounter:
    def __init__(self, system: System, key: str, raw_producer_bootstrap: str) -> None:
        self.system, self.key = system, key
        self.auth = {"Authorization": f"Bearer {key}"}
        self.bootstrap = raw_producer_bootstrap
        self.tally = Tally()
        self.sequence = 0

    def _code(self) -> str:
        self.sequence += 1
        return f"{HOSTILE_AGENCY}-261130-{self.sequence:05d}"

    def _post(self, client: httpx.Client, path: str, body: Any, what: str) -> httpx.Response:
        response = client.post(f"{self.system.intake.url}{path}", json=body, headers=self.auth)
        self.tally.saw(response.status_code, what)
        if response.status_code >= 400:
            self.tally.largest_error_body = max(self.tally.largest_error_body, len(response.content))
        return response

    def _refused(self, client: httpx.Client, event: dict[str, Any], what: str, field_name: str) -> None:
        response = self._post(client, "/v1/events", event, what)
        errors = response.json().get("errors", []) if response.status_code == 422 else []
        if response.status_code != 422 or not any(e.get("field") == field_name for e in errors):
            self.tally.problems.append(f"{what}: expected 422 naming {field_name}, got {response.text[:300]}")
        else:
            self.tally.refused += 1

    def round(self, client: httpx.Client) -> None:
        # 1. An event id already used by another dossier's event: accepted, then a conflict downstream.
        first = _received(self._code())
        self._post(client, "/v1/events", first, "conflict original")
        clash = dict(_received(self._code()), event_id=first["event_id"])
        if self._post(client, "/v1/events", clash, "conflict").status_code == 202:
            self.tally.dlq["event_id_conflict"] += 1
        # 2. Instants outside 2000–2099 or far ahead of the clock, full-width digits, bad text.
        code = self._code()
        self._refused(client, _received(code, "9999-12-31T23:59:59-05:00"), "year 9999", "occurred_at")
        self._refused(client, _received(code, "1900-01-01T00:00:00+07:00"), "year 1900", "occurred_at")
        self._refused(client, _received(code, "2099-06-01T00:00:00+07:00"), "far future", "occurred_at")
        wide = _received(f"{HOSTILE_AGENCY}-261130-０００１")
        self._refused(client, wide, "full-width digits", "dossier_code")
        for what, text in (("bidi", "refund \u202egnp.exe"), ("control", "a\x00b"), ("long", "x" * 2001)):
            event = _event("supplement_requested", code, "2026-11-30T10:00:00+07:00", {"reason": text})
            self._refused(client, event, what, "data.reason")
        many = _received(code) | {f"unknown_{i}": i for i in range(25)}
        response = self._post(client, "/v1/events", many, "25 errors")
        if response.status_code == 422 and len(response.json().get("errors", [])) <= 20:
            self.tally.refused += 1
        else:
            self.tally.problems.append(f"25 errors: {response.status_code} {response.text[:300]}")
        # 3. A 4 MiB body of unknown keys, and a 12 MiB body from a plain client without Expect.
        keys = {f"k{i}": 1 for i in range(200_000)}
        response = self._post(client, "/v1/events", _received(code) | keys, "unknown keys")
        if response.status_code in (413, 422):
            self.tally.refused += 1
        self._plain_client_413()
        # 4. A dossier far over its event limit, in one batch: the first EVENT_LIMIT are kept.
        big = self._code()
        steps = [_received(big)] + [
            _event("processing", big, f"2026-11-30T10:{i // 60:02d}:{i % 60:02d}+07:00", {"step": f"s{i}"})
            for i in range(EVENT_LIMIT + 40)
        ]
        results = self._post(client, "/v1/events:batch", {"events": steps}, "oversized").json()["results"]
        accepted = sum(1 for r in results if r["status"] == "accepted")
        self.tally.dlq["dossier_event_limit"] += max(0, accepted - EVENT_LIMIT)
        # 5. Impossible transitions: kept as anomalies on the dossier, never a crash.
        odd = self._code()
        for event in (
            _received(odd),
            _event("withdrawn", odd, "2026-11-30T10:00:00+07:00"),
            _event("resolved", odd, "2026-11-30T11:00:00+07:00"),
            _event("supplement_received", odd, "2026-11-30T11:30:00+07:00"),
        ):
            self._post(client, "/v1/events", event, "impossible transition")

    def _plain_client_413(self) -> None:
        request = urllib.request.Request(
            f"{self.system.intake.url}/v1/events",
            data=b"{" + b" " * (12 * 1024 * 1024) + b"}",
            headers={**self.auth, "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:
            self.tally.problems.append(f"12 MiB from urllib: {exc!r}")
            return
        self.tally.saw(status, "12 MiB")
        if status == 413:
            self.tally.refused += 1
        else:
            self.tally.problems.append(f"12 MiB from urllib: HTTP {status}")

    async def undecodable(self, topic: str, count: int) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(count):
                await producer.send_and_wait(topic, b"\xff\x00 not protobuf " + bytes([i]), key=b"hostile")
        finally:
            await producer.stop()
        self.tally.dlq["undecodable"] += count

    def flood(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with httpx.Client(timeout=120) as client:
            while time.monotonic() < deadline:
                self.round(client)


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
            event = _received(code)
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
    stop, waits, canary_events = threading.Event(), [], []
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
