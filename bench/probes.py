"""What the end-to-end benchmark watches: each service's CPU time and peak memory while it works, and
the POST → `/metrics` latency probe (new dossiers posted at a fixed rate, `/metrics` polled at 10 Hz
so that the probe itself does not load the service it measures)."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import psutil

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import default_catalog_dir, load_catalog
from tests.support import System

CATALOG = load_catalog(default_catalog_dir())


@dataclass
class Usage:
    cpu_s: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)


class Watcher:
    """Samples the RSS of each service process; reads CPU time at start and stop. A service run as
    several processes (instances) is reported as their sum: CPU summed, peak RSS of the sum."""

    def __init__(self, system: System) -> None:
        self.procs = {
            (s.name, s.instance): psutil.Process(s.process.pid)  # type: ignore[union-attr]
            for s in system.services
        }
        self.names = sorted({name for name, _ in self.procs}, key=["intake", "processing", "metrics"].index)
        self.peak = dict.fromkeys(self.names, 0.0)
        self.cpu0 = {k: sum(p.cpu_times()[:2]) for k, p in self.procs.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            rss = dict.fromkeys(self.names, 0.0)
            for (name, _), p in self.procs.items():
                with contextlib.suppress(psutil.Error):  # the process may be restarting
                    rss[name] += p.memory_info().rss / 2**20
            for name, mb in rss.items():
                self.peak[name] = max(self.peak[name], mb)

    def stop(self) -> Usage:
        self._stop.set()
        self._thread.join()
        cpu = dict.fromkeys(self.names, 0.0)
        for key, p in self.procs.items():
            cpu[key[0]] += sum(p.cpu_times()[:2]) - self.cpu0[key]
        return Usage(cpu, dict(self.peak))


def metric_total(system: System) -> int:
    text = httpx.get(f"{system.metrics.url}/metrics", timeout=10).text
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("dossier_received_total{")
        )
    )


POLL_S = 0.1
#: how the latency is observed, as the table says it
LATENCY_METHOD = f"/metrics scraped every {POLL_S * 1000:.0f} ms"


def latency_at(system: System, rate: int, seconds: float) -> tuple[float, float, int]:
    """Posts `dossier.received` events of new dossiers at `rate` events/s (a batch every 50 ms) and
    records when /metrics first counts each (scraped every `POLL_S`, so figures carry that
    resolution); returns p50 and p99 in ms."""
    agency, procedure = "000.00.18.H49", next(iter(CATALOG.procedures))
    per_tick = max(1, rate // 20)
    base = metric_total(system)
    sent_at: list[float] = []
    seen_at: list[float] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set() or len(seen_at) < len(sent_at):
            now = time.monotonic()
            count = metric_total(system) - base
            while len(seen_at) < min(count, len(sent_at)):
                seen_at.append(now)
            if done.is_set() and time.monotonic() > deadline_poll:
                return
            # 10 scrapes a second: finer polling would itself load the metrics service (every scrape
            # evaluates each open dossier against the clock) and distort what it measures.
            time.sleep(POLL_S)

    deadline_poll = time.monotonic() + seconds + 60
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    headers = {"Authorization": f"Bearer {system.intake_key}"}
    now_vn = datetime.now(VN_TZ)
    with httpx.Client(timeout=30, headers=headers) as client:
        t0 = time.monotonic()
        tick = 0
        while time.monotonic() - t0 < seconds:
            events = []
            for i in range(per_tick):
                code = f"{agency}-{now_vn:%y%m%d}-{rate // 500 % 10}{tick:06d}{i:03d}"
                events.append(
                    {
                        "event_id": str(uuid.uuid4()),
                        "type": "dossier.received",
                        "dossier_code": code,
                        "agency_code": agency,
                        "occurred_at": (now_vn - timedelta(minutes=1)).isoformat(),
                        "data": {"procedure_code": procedure, "channel": "online"},
                    }
                )
            posted = time.monotonic()
            r = client.post(f"{system.intake.url}/v1/events:batch", json={"events": events})
            r.raise_for_status()
            refused = [x for x in r.json()["results"] if x["status"] != "accepted"]
            if refused:
                raise RuntimeError(f"intake refused latency events: {refused[:2]}")
            sent_at.extend([posted] * per_tick)
            tick += 1
            sleep = t0 + tick * 0.05 - time.monotonic()
            if sleep > 0:
                time.sleep(sleep)
    done.set()
    poller.join()
    lat = sorted((s - p) * 1000 for s, p in zip(seen_at, sent_at, strict=False))
    if len(lat) < len(sent_at):
        raise RuntimeError(f"only {len(lat)} of {len(sent_at)} events became visible")
    achieved = len(sent_at) / seconds
    return statistics.median(lat), lat[int(0.99 * (len(lat) - 1))], int(achieved)
