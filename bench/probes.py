"""What the end-to-end benchmark watches: each service's CPU time and peak memory while it works, and
the POST → `/metrics` latency probe (new dossiers posted at a fixed rate; the delays are the metrics
service's own `metrics_event_visible_seconds` histogram, read before and after the window, so the
probe does not load the service it measures)."""

from __future__ import annotations

import contextlib
import itertools
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


#: how the latency is observed, as the table says it
LATENCY_METHOD = "from metrics' own histogram metrics_event_visible_seconds (2 scrapes a window)"
HISTOGRAM = "metrics_event_visible_seconds"
_WINDOWS = itertools.count()


def visible_histogram(system: System) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of the freshness histogram, +Inf last."""
    buckets = []
    for line in httpx.get(f"{system.metrics.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(HISTOGRAM + "_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(bound), float(line.rsplit(" ", 1)[1])))
    return sorted(buckets)


def quantile(q: float, before: list[tuple[float, float]], after: list[tuple[float, float]]) -> float:
    """The q-quantile (seconds) of the observations between two readings, interpolated linearly within
    its bucket as Prometheus' histogram_quantile does."""
    counts = [(bound, a - b) for (bound, a), (_, b) in zip(after, before, strict=True)]
    total = counts[-1][1]
    if total <= 0:
        raise RuntimeError("no version became visible in the window")
    rank, lower, below = q * total, 0.0, 0.0
    for bound, cumulative in counts:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(cumulative - below, 1e-9)
        lower, below = bound, cumulative
    return lower


def latency_at(system: System, rate: int, seconds: float) -> tuple[float, float, int]:
    """Posts `dossier.received` events of new dossiers at `rate` events/s (a batch every 50 ms) and
    returns p50 and p99 (ms) of POST → counted in /metrics, and the rate achieved.

    The metrics service measures each version's delay itself as it counts it (from intake's acceptance,
    the event's Kafka timestamp); this probe reads its histogram once before and once after the window,
    and polls `/metrics` once a second only to know when every probe event is in."""
    agency, procedure = "000.00.18.H49", next(iter(CATALOG.procedures))
    window = next(_WINDOWS)  # every window posts dossiers of its own
    per_tick = max(1, rate // 20)
    base, before = metric_total(system), visible_histogram(system)
    headers = {"Authorization": f"Bearer {system.intake_key}"}
    now_vn = datetime.now(VN_TZ)
    sent = 0
    with httpx.Client(timeout=30, headers=headers) as client:
        t0 = time.monotonic()
        tick = 0
        while time.monotonic() - t0 < seconds:
            events = []
            for i in range(per_tick):
                code = f"{agency}-{now_vn:%y%m%d}-{window % 10}{tick:06d}{i:03d}"
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
            r = client.post(f"{system.intake.url}/v1/events:batch", json={"events": events})
            r.raise_for_status()
            refused = [x for x in r.json()["results"] if x["status"] != "accepted"]
            if refused:
                raise RuntimeError(f"intake refused latency events: {refused[:2]}")
            sent += per_tick
            tick += 1
            pause = t0 + tick * 0.05 - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        elapsed = time.monotonic() - t0
    deadline = time.monotonic() + 120
    while metric_total(system) - base < sent:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {metric_total(system) - base} of {sent} events became visible")
        time.sleep(1.0)
    after = visible_histogram(system)
    return quantile(0.5, before, after) * 1000, quantile(0.99, before, after) * 1000, int(sent / elapsed)
