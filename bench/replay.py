"""A quarter replayed through HTTP, stage by stage: the streams (in order; fully shuffled with duplicates),
a sampler of each stage's progress once a second, and the chart of events/s over time per stage.

Stages: intake (events accepted, from the sender), processing (events applied plus duplicates
recognised, summed over its instances' `/metrics`) and metrics (dossiers counted in
`dossier_received_total`). The sampler reads the small processing exposition every second and the
metrics exposition every second: about 1 % of one core, the same in both replays.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.probes import metric_total
from dossier_sim.generator import SimulatedDossier
from tests.support import System

CHART = Path(__file__).resolve().parents[1] / "bench" / "quarter-replay.png"


def in_order(dossiers: list[SimulatedDossier], size: int) -> list[list[dict[str, Any]]]:
    """Each dossier's events in order, one dossier after another, in batches of `size`."""
    stream = [e for d in dossiers for e in d.events]
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def shuffled(
    dossiers: list[SimulatedDossier], size: int, *, duplicates: float, seed: int
) -> tuple[list[list[dict[str, Any]]], int]:
    """Every event of the quarter plus `duplicates` × as many resent copies, shuffled over the whole
    stream (a dossier's later events often come before its earlier ones); batches of `size` and how
    many copies are resent."""
    rng = random.Random(seed)
    stream = [e for d in dossiers for e in d.events]
    copies = rng.sample(stream, int(len(stream) * duplicates))
    stream += copies
    rng.shuffle(stream)
    return [stream[i : i + size] for i in range(0, len(stream), size)], len(copies)


def _processing_done(system: System) -> float:
    total = 0.0
    for service in (system.processing, *system.more_processing):
        with contextlib.suppress(httpx.HTTPError):
            for line in httpx.get(f"{service.url}/metrics", timeout=5).text.splitlines():
                if line.startswith(
                    ("processing_events_applied_total{", "processing_events_duplicate_total ")
                ):
                    total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass
class Stages:
    """Cumulative progress of each stage, sampled once a second from `started`."""

    system: System
    started: float = field(default_factory=time.monotonic)
    accepted: int = 0  # told by the sender
    samples: list[tuple[float, int, float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def add_accepted(self, n: int) -> None:
        self.accepted += n

    def start(self) -> Stages:
        """Start sampling (the system is fresh: every stage is at zero)."""
        self.started = time.monotonic()
        self.samples.append((0.0, 0, 0.0, 0))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            with contextlib.suppress(httpx.HTTPError, ValueError):
                processed = _processing_done(self.system)
                counted = metric_total(self.system)
                self.samples.append((time.monotonic() - self.started, self.accepted, processed, counted))

    def stop(self) -> list[tuple[float, int, float, int]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.samples


def _rates(samples: list[tuple[float, int, float, int]], column: int) -> tuple[list[float], list[float]]:
    times, rates = [], []
    for before, after in itertools.pairwise(samples):
        dt = after[0] - before[0]
        if dt > 0:
            times.append(after[0])
            rates.append((after[column] - before[column]) / dt)
    return times, rates


def chart(runs: dict[str, list[tuple[float, int, float, int]]], path: Path = CHART) -> Path:
    """One panel per replay: events/s accepted by intake and applied by processing, and dossiers/s
    counted by metrics, over seconds since the first POST."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(runs), 1, figsize=(10, 3.6 * len(runs)), sharex=True, squeeze=False)
    for ax, (title, samples) in zip(axes[:, 0], runs.items(), strict=True):
        for column, label in (
            (1, "intake: events accepted/s"),
            (2, "processing: events applied/s (duplicates included)"),
            (3, "metrics: dossiers counted/s"),
        ):
            ax.plot(*_rates(samples, column), label=label, linewidth=1.2)
        ax.set_title(title)
        ax.set_ylabel("per second")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("seconds since the first POST")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
