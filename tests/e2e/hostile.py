"""The hostile counter of the end-to-end test `test_e2e_hostile`: every kind of input the contract
refuses or dead-letters, posted in rounds, with a tally of what each must become (refused at the door,
or a dead letter under its reason)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from tests.e2e.traffic import CATALOG
from tests.support import System

HOSTILE_AGENCY = "000.00.58.H49"  # valid from 2025-07-01: the normal 2021 traffic never touches it
NORMAL_AGENCIES = sorted(code for code in CATALOG.agencies if code != HOSTILE_AGENCY)
EVENT_LIMIT = 60
FLOOD_SECONDS = 20.0
PROCEDURE = next(iter(CATALOG.procedures))


def make_event(
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


def received(code: str, when: str = "2026-11-30T09:00:00+07:00") -> dict[str, Any]:
    return make_event("received", code, when, {"procedure_code": PROCEDURE, "channel": "direct"})


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
        first = received(self._code())
        self._post(client, "/v1/events", first, "conflict original")
        clash = dict(received(self._code()), event_id=first["event_id"])
        if self._post(client, "/v1/events", clash, "conflict").status_code == 202:
            self.tally.dlq["event_id_conflict"] += 1
        # 2. Instants outside 2000–2099 or far ahead of the clock, full-width digits, bad text.
        code = self._code()
        self._refused(client, received(code, "9999-12-31T23:59:59-05:00"), "year 9999", "occurred_at")
        self._refused(client, received(code, "1900-01-01T00:00:00+07:00"), "year 1900", "occurred_at")
        self._refused(client, received(code, "2099-06-01T00:00:00+07:00"), "far future", "occurred_at")
        wide = received(f"{HOSTILE_AGENCY}-261130-０００１")
        self._refused(client, wide, "full-width digits", "dossier_code")
        for what, text in (("bidi", "refund \u202egnp.exe"), ("control", "a\x00b"), ("long", "x" * 2001)):
            event = make_event("supplement_requested", code, "2026-11-30T10:00:00+07:00", {"reason": text})
            self._refused(client, event, what, "data.reason")
        many = received(code) | {f"unknown_{i}": i for i in range(25)}
        response = self._post(client, "/v1/events", many, "25 errors")
        if response.status_code == 422 and len(response.json().get("errors", [])) <= 20:
            self.tally.refused += 1
        else:
            self.tally.problems.append(f"25 errors: {response.status_code} {response.text[:300]}")
        # 3. A 4 MiB body of unknown keys, and a 12 MiB body from a plain client without Expect.
        keys = {f"k{i}": 1 for i in range(200_000)}
        response = self._post(client, "/v1/events", received(code) | keys, "unknown keys")
        if response.status_code in (413, 422):
            self.tally.refused += 1
        self._plain_client_413()
        # 4. A dossier far over its event limit, in one batch: the first EVENT_LIMIT are kept.
        big = self._code()
        steps = [received(big)] + [
            make_event(
                "processing", big, f"2026-11-30T10:{i // 60:02d}:{i % 60:02d}+07:00", {"step": f"s{i}"}
            )
            for i in range(EVENT_LIMIT + 40)
        ]
        results = self._post(client, "/v1/events:batch", {"events": steps}, "oversized").json()["results"]
        accepted = sum(1 for r in results if r["status"] == "accepted")
        self.tally.dlq["dossier_event_limit"] += max(0, accepted - EVENT_LIMIT)
        # 5. Impossible transitions: kept as anomalies on the dossier, never a crash.
        odd = self._code()
        for step in (
            received(odd),
            make_event("withdrawn", odd, "2026-11-30T10:00:00+07:00"),
            make_event("resolved", odd, "2026-11-30T11:00:00+07:00"),
            make_event("supplement_received", odd, "2026-11-30T11:30:00+07:00"),
        ):
            self._post(client, "/v1/events", step, "impossible transition")

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
