"""Simulated traffic for end-to-end tests: generate, send through intake, wait for the report."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import default_catalog_dir, load_catalog
from dossier_core.lifecycle import fold
from dossier_core.periods import Period, parse_period
from dossier_core.report import ReportRow
from dossier_sim.__main__ import batches
from dossier_sim.expect import differences, expected_rows
from dossier_sim.generator import ProvinceGenerator, SimulatedDossier, domain_event
from dossier_sim.mix import DEFAULT_MIX, OutcomeMix
from dossier_sim.sender import IntakeSender, SendReport

CATALOG = load_catalog(default_catalog_dir())
CALENDAR = CATALOG.calendar()
PERIOD = parse_period("2021-Q2")


@dataclass
class Traffic:
    dossiers: list[SimulatedDossier]
    expected: dict[str, ReportRow]
    period: Period = PERIOD
    sent: SendReport | None = None
    progress: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def generate(cls, count: int, seed: int = 1, mix: str = DEFAULT_MIX) -> Traffic:
        dossiers = list(ProvinceGenerator(CATALOG, PERIOD, OutcomeMix.parse(mix), seed=seed).dossiers(count))
        return cls(dossiers, expected_rows(dossiers, CATALOG, PERIOD))

    @property
    def event_count(self) -> int:
        return sum(len(d.events) for d in self.dossiers)

    def plan(
        self, *, size: int = 500, duplicate: bool = False, shuffle: bool = False
    ) -> list[list[dict[str, Any]]]:
        return batches(self.dossiers, size, duplicate=duplicate, shuffle=shuffle, seed=3)

    def send(
        self,
        url: str,
        key: str,
        plan: list[list[dict[str, Any]]],
        concurrency: int = 2,
        rate: float | None = None,
    ) -> SendReport:
        def advance(n: int) -> None:
            with self._lock:
                self.progress += n

        sender = IntakeSender(url, key, concurrency=concurrency, rate=rate)
        self.sent = asyncio.run(sender.send(plan, advance))
        return self.sent

    def send_in_background(
        self, url: str, key: str, plan: list[list[dict[str, Any]]], rate: float | None = None
    ) -> threading.Thread:
        """Send `plan` from a thread (`rate`: events per second over the whole run, else at once)."""
        thread = threading.Thread(target=self.send, args=(url, key, plan, 2, rate), daemon=True)
        thread.start()
        return thread

    def wait_progress(self, events: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while self.progress < events:
            assert time.monotonic() < deadline, f"only {self.progress} events sent after {timeout}s"
            time.sleep(0.05)

    def report_differences(self, metrics_url: str, key: str, timeout: float = 180.0) -> list[str]:
        """Polls the report API (with the reader `key`) until it equals the expected rows; returns
        what still differs."""
        deadline = time.monotonic() + timeout
        diffs = ["no answer"]
        while time.monotonic() < deadline:
            try:
                r = httpx.get(
                    f"{metrics_url}/v1/reports/dossiers",
                    params={"period": self.period.label, "group_by": "agency"},
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=30,
                )
                if r.status_code == 200:
                    diffs = differences(self.expected, r.json())
                    if not diffs:
                        return []
                else:
                    diffs = [f"HTTP {r.status_code}: {r.text[:200]}"]
            except httpx.HTTPError as exc:
                diffs = [f"report API: {exc}"]
            time.sleep(1.0)
        return diffs

    def expected_live(self, now: datetime | None = None) -> dict[str, Counter[str]]:
        """What the live Prometheus series must say, from the same fold: counters over all time and
        pending states at `now`."""
        now = now or datetime.now(VN_TZ)
        out: dict[str, Counter[str]] = {
            "received": Counter(),
            "resolved": Counter(),
            "withdrawn": Counter(),
            "refused": Counter(),
            "rescheduled": Counter(),
            "received_on_site": Counter(),
            "received_digitised": Counter(),
            "fee_paid": Counter(),
            "fee_paid_online": Counter(),
            "pending": Counter(),
        }
        for d in self.dossiers:
            dossier = fold((domain_event(e, i) for i, e in enumerate(d.events)), CATALOG)
            if not dossier.is_received:
                continue
            out["received"][f"{d.agency}|{dossier.channel}"] += 1
            timeliness = dossier.timeliness(CALENDAR)
            if timeliness is not None:
                out["resolved"][f"{d.agency}|{timeliness}"] += 1
            if dossier.end_kind is not None and dossier.end_kind.value in ("withdrawn", "refused"):
                out[dossier.end_kind.value][d.agency] += 1
            out["rescheduled"][d.agency] += len(dossier.reschedules)
            out["received_on_site"][d.agency] += int(dossier.on_site)
            out["received_digitised"][d.agency] += int(dossier.digitised)
            out["fee_paid"][d.agency] += int(dossier.payment_channel is not None)
            out["fee_paid_online"][d.agency] += int(dossier.payment_channel == "online")
            state = dossier.pending_state(now, CALENDAR)
            if state is not None:
                out["pending"][f"{d.agency}|{state}"] += 1
                if dossier.is_paused_at(now):
                    out["pending"][f"{d.agency}|paused"] += 1
        return out


def live_series(metrics_url: str) -> dict[str, Counter[str]]:
    """The SPEC §5 series of a running metrics service, in the shape of `Traffic.expected_live`
    (zero samples left out)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{metrics_url}/metrics", timeout=30).text
    out: dict[str, Counter[str]] = {
        k: Counter()
        for k in (
            "received",
            "resolved",
            "withdrawn",
            "refused",
            "rescheduled",
            "received_on_site",
            "received_digitised",
            "fee_paid",
            "fee_paid_online",
            "pending",
        )
    }
    second = {"dossier_received": "channel", "dossier_resolved": "timeliness", "dossier_pending": "state"}
    for family in text_string_to_metric_families(text):
        key = family.name.removeprefix("dossier_")
        if key not in out:
            continue
        for sample in family.samples:
            if sample.name.endswith("_created") or sample.value == 0:
                continue
            label = second.get(family.name)
            name = sample.labels["agency"] + (f"|{sample.labels[label]}" if label else "")
            out[key][name] += int(sample.value)
    return out
