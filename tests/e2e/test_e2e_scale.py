"""Instances come and go mid-stream while a real Prometheus watches: processing goes 2 → 3 → 1 and metrics
2 → 1 (the counters' exporter killed -9) → 2. Prometheus finds every instance through `file_sd`, as it
would find pods. At the end the report is exact, the sums over the instances are exact, and `increase()`
of the recorded counters over the whole run counts exactly the dossiers sent."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.traffic import Traffic
from tests.support import ROOT, ServiceProcess, System, free_port, progress_printer, running_system

pytestmark = pytest.mark.e2e

RULES = ROOT / "deploy" / "prometheus" / "rules"
#: the counters (`dossier_<name>_total`, recorded as `dossier:<name>_total`) and their labels beside `agency`
COUNTERS = {
    "received": ("channel",),
    "resolved": ("timeliness",),
    "withdrawn": (),
    "refused": (),
    "rescheduled": (),
}


class Prometheus:
    """A real Prometheus scraping every second the targets listed in a `file_sd` file."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.targets_file = workdir / "targets.json"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.targets({})
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES / "recording.yml"), str(RULES / "alerts.yml")],
            "scrape_configs": [
                {
                    "job_name": "dossier",
                    "file_sd_configs": [{"files": [str(self.targets_file)], "refresh_interval": "1s"}],
                }
            ],
        }
        (self.workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "prometheus.log").open("wb"),
        )

    def targets(self, services: dict[str, list[ServiceProcess]]) -> None:
        """Write the target list (as a Kubernetes service discovery would, pod by pod); Prometheus
        reads it again within a second."""
        groups = [
            {"targets": [f"127.0.0.1:{p.port}" for p in processes], "labels": {"service": name}}
            for name, processes in services.items()
            if processes
        ]
        tmp = self.targets_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups))
        tmp.replace(self.targets_file)

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        body = httpx.get(f"{self.url}/api/v1/query", params=params, timeout=10).json()
        assert body["status"] == "success", (expr, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(15)


def _by_labels(result: list[dict[str, Any]], second: tuple[str, ...]) -> Counter[str]:
    """A query's samples keyed as `Traffic.expected_live` keys them (`agency` or `agency|label`),
    zeros left out."""
    out: Counter[str] = Counter()
    for sample in result:
        value = round(float(sample["value"][1]), 6)
        if value:
            labels = sample["metric"]
            out["|".join([labels["agency"], *(labels[k] for k in second)])] += int(value)
    return out


def _wait(what: str, condition: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


def _exporting(instance: ServiceProcess) -> bool:
    text = httpx.get(f"{instance.url}/metrics", timeout=10).text
    return "metrics_counter_exporter 1.0" in text


@pytest.fixture
def watched(tmp_path: Path, kafka_bootstrap: str, database_url: str) -> Iterator[tuple[System, Prometheus]]:
    # the exporter's standby asks for the lock every 0.2 s (default 1 s) so the run stays short
    with running_system(
        tmp_path,
        kafka_bootstrap,
        database_url,
        processing_instances=2,
        METRICS_COUNTER_EXPORTER_RETRY_S="0.2",
    ) as system:
        prometheus = Prometheus(tmp_path)
        prometheus.start()
        try:
            yield system, prometheus
        finally:
            prometheus.stop()


def test_instances_come_and_go_and_prometheus_counts_exactly(
    watched: tuple[System, Prometheus], pytestconfig: pytest.Config
) -> None:
    system, prometheus = watched
    say = progress_printer(pytestconfig, "scale")
    logs = system.metrics.log_path.parent

    def more(name: str, i: int) -> ServiceProcess:
        port = free_port()
        env = {**system.metrics.env} if name == "metrics" else {**system.processing.env}
        env[f"{name.upper()}_PORT"] = str(port)
        return ServiceProcess(name, port, env, logs / f"{name}-scale-{i}.log", instance=i)

    processing = [system.processing, *system.more_processing]
    metrics = [system.metrics, more("metrics", 1)]
    metrics[1].start()
    extra: list[ServiceProcess] = []  # started here, stopped at the end
    extra.append(metrics[1])

    def publish() -> None:
        prometheus.targets({"metrics": metrics, "processing": processing})
        say(f"processing ×{len(processing)}, metrics ×{len(metrics)} (Prometheus file_sd updated)")

    try:
        publish()
        # Before any traffic: every instance scraped, and the recorded counters exist at 0.
        _wait(
            "every target up", lambda: len(prometheus.query("up == 1")) == len(metrics) + len(processing), 90
        )
        _wait("the counters recorded at 0", lambda: prometheus.query("sum(dossier:received_total) == 0"), 60)
        started = time.time()

        traffic = Traffic.generate(1200, seed=61)
        total = traffic.event_count
        sender = traffic.send_in_background(
            system.intake.url, system.intake_key, traffic.plan(size=100), rate=total / 30
        )

        traffic.wait_progress(total // 5)
        processing.append(more("processing", 2))  # 2 → 3
        processing[-1].start()
        extra.append(processing[-1])
        publish()

        traffic.wait_progress(2 * total // 5)
        exporter = next(m for m in metrics if _exporting(m))
        exporter.kill()  # metrics 2 → 1, the exporter killed -9: the other takes the counters over
        say(f"killed -9 the counters' exporter (metrics on :{exporter.port})")
        metrics.remove(exporter)
        publish()
        _wait("the remaining metrics instance exports", lambda: _exporting(metrics[0]), 30)

        traffic.wait_progress(3 * total // 5)
        for instance in processing[1:]:  # processing 3 → 1, gracefully (as a scale-down drains pods)
            instance.stop()
        processing[1:] = []
        publish()

        traffic.wait_progress(4 * total // 5)
        metrics.append(more("metrics", 2))  # metrics 1 → 2
        metrics[-1].start()
        extra.append(metrics[-1])
        publish()

        sender.join(timeout=600)
        assert not sender.is_alive(), "the sender did not finish"
        assert traffic.sent is not None and traffic.sent.accepted == total, traffic.sent
        assert traffic.report_differences(metrics[0].url, system.metrics_key, timeout=240) == []
        expected = traffic.expected_live()

        # Exact sums over the instances, raw (one exporter) and recorded.
        for name, second in COUNTERS.items():
            by = ", ".join(["agency", *second])
            _wait(
                f"sum of dossier_{name}_total over the instances",
                lambda name=name, by=by, second=second: (
                    _by_labels(prometheus.query(f"sum by ({by}) (dossier_{name}_total)"), second)
                    == expected[name]
                ),
                120,
            )
            _wait(
                f"dossier:{name}_total",
                lambda name=name, second=second: (
                    _by_labels(prometheus.query(f"dossier:{name}_total"), second) == expected[name]
                ),
                30,
            )
        # the gauges: each instance's own partitions, exact once the assignment has settled
        _wait(
            "sum of dossier_pending over the instances",
            lambda: (
                _by_labels(prometheus.query("sum by (agency, state) (dossier_pending)"), ("state",))
                == expected["pending"]
            ),
            60,
        )
        assert len(prometheus.query('up{service="metrics"} == 1')) == 2

        # increase() over the whole run, at a rule evaluation instant (where the records have a
        # sample), from before the first event: exactly what was sent, despite the failover.
        (stamp,) = prometheus.query("max(timestamp(dossier:received_total))")
        at = float(stamp["value"][1])
        window = int(at - started) + 30
        for name, second in COUNTERS.items():
            increase = _by_labels(
                prometheus.query(f"increase(dossier:{name}_total[{window}s])", at=at), second
            )
            assert increase == expected[name], name
            resets = prometheus.query(f"resets(dossier:{name}_total[{window}s]) > 0", at=at)
            assert resets == [], f"dossier:{name}_total fell during the run: {resets}"
        say(
            f"{traffic.sent.accepted} events, {sum(expected['received'].values())} dossiers: "
            f"report, sums over the instances and increase() over {window}s exact"
        )
    finally:
        for instance in extra:
            if instance.process is not None:
                instance.stop()
