"""An alert that reaches people: dossiers past their legal deadline go through intake, processing and
metrics; a real Prometheus evaluates the repo's rules on their /metrics and sends DossierOverdueBacklog
to a real Alertmanager, configured from the repo (deploy/alertmanager: its routes, receivers and
Vietnamese templates, through configure.py), which delivers it to a webhook served by the test. The
notification names the agency and its count; rendered by the repo's template it reads in Vietnamese.

Only timings differ from the repo: the rules' `for` is 1 s and the routes' `group_wait` 1 s, and the
routes' office hours are dropped (the test runs at any hour). The alerts' thresholds are the repo's."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.traffic import CATALOG, Traffic, live_series
from tests.support import ROOT, System, free_port

pytestmark = pytest.mark.e2e

PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTMANAGER = ROOT / "deploy" / "alertmanager"
ALERT = "DossierOverdueBacklog"


class Webhook:
    """An HTTP receiver of Alertmanager's webhook notifications (their JSON bodies, in order)."""

    def __init__(self) -> None:
        received: queue.Queue[dict[str, Any]] = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.put(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def overdue_threshold() -> int:
    rules = yaml.safe_load((PROMETHEUS / "rules" / "alerts.yml").read_text())
    rule = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == ALERT)
    found = re.search(r'dossier_pending\{state="overdue"\}\) > (\d+)\)', rule["expr"])
    assert found, rule["expr"]
    return int(found.group(1))


def alert_rules_for_test(path: Path) -> Path:
    """alerts.yml with every `for` at 1 s (the repo's file is left as it is)."""
    rules = yaml.safe_load((PROMETHEUS / "rules" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = "1s"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True))
    return path


def alertmanager_config_for_test(path: Path, webhook_url: str) -> Path:
    """The configuration deploy/scripts/alertmanager.sh would write for this webhook, with 1 s group
    waits and no office hours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTMANAGER_")}
    subprocess.run(
        [sys.executable, str(ALERTMANAGER / "configure.py"), str(path)],
        env={**env, "ALERTMANAGER_WEBHOOK_URL": webhook_url},
        check=True,
        capture_output=True,
    )
    config = yaml.safe_load(path.read_text())

    def hurry(route: dict[str, Any]) -> None:
        route["group_wait"] = "1s"
        route.pop("active_time_intervals", None)
        for child in route.get("routes", []):
            hurry(child)

    hurry(config["route"])
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def prometheus_config(path: Path, system: System, rules: Path, alertmanager_port: int) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(PROMETHEUS / "rules" / "recording.yml"), str(rules)],
                "alerting": {
                    "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
                },
                "scrape_configs": [
                    {
                        "job_name": f"dossier-{service.name}",
                        "static_configs": [{"targets": [f"127.0.0.1:{service.port}"]}],
                    }
                    for service in system.services
                ],
            }
        )
    )
    return path


def start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


@contextmanager
def watching(system: System, workdir: Path) -> Iterator[tuple[Webhook, int]]:
    """Alertmanager delivering to a test webhook and Prometheus watching `system`, stopped after;
    yields the webhook and Prometheus' port. Their logs go to `workdir`."""
    am_port, prom_port = free_port(), free_port()
    with Webhook() as webhook:
        am_config = alertmanager_config_for_test(workdir / "alertmanager.yml", webhook.url)
        alertmanager = start(
            [
                "prometheus-alertmanager",
                f"--config.file={am_config}",
                f"--storage.path={workdir / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            workdir / "alertmanager.log",
        )
        rules = alert_rules_for_test(workdir / "alerts.yml")
        prometheus = start(
            [
                "prometheus",
                f"--config.file={prometheus_config(workdir / 'prometheus.yml', system, rules, am_port)}",
                f"--storage.tsdb.path={workdir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            workdir / "prometheus.log",
        )
        try:
            yield webhook, prom_port
        finally:
            for process in (prometheus, alertmanager):
                process.terminate()
                process.wait(30)


def render(template: str, notification: dict[str, Any], workdir: Path) -> str:
    """One of the repo's templates rendered by amtool with a notification's data, as Alertmanager
    renders an e-mail."""
    data = workdir / "notification.json"
    data.write_text(json.dumps(notification))
    run = subprocess.run(
        [
            "amtool",
            "template",
            "render",
            f"--template.glob={ALERTMANAGER / 'templates' / '*.tmpl'}",
            f'--template.text={{{{ template "{template}" . }}}}',
            f"--template.data={data}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_overdue_dossiers_reach_the_webhook_with_the_agency_name_and_count_in_vietnamese(
    system: System, tmp_path: Path
) -> None:
    # Open dossiers received in 2021: long past their legal deadline now.
    traffic = Traffic.generate(200, seed=7, mix="pending=1")
    expected = traffic.expected_live()
    threshold = overdue_threshold()
    overdue = {key.split("|")[0]: n for key, n in expected["pending"].items() if key.endswith("|overdue")}
    alerting = {agency: n for agency, n in overdue.items() if n > threshold}
    assert alerting and set(alerting) != set(overdue), "the traffic must have agencies on both sides"
    assert traffic.send(system.intake.url, system.intake_key, traffic.plan()).rejected == 0
    deadline = time.monotonic() + 120
    while live_series(system.metrics.url)["pending"] != expected["pending"]:
        assert time.monotonic() < deadline, "the metrics service never showed every pending dossier"
        time.sleep(0.5)

    # Watched from now on, so that every alert fires on the final counts.
    with watching(system, tmp_path) as (webhook, prom_port):
        delivered: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 90
        while set(delivered) != set(alerting) and time.monotonic() < deadline:
            try:
                notification = webhook.received.get(timeout=1)
            except queue.Empty:
                continue
            if notification["groupLabels"].get("alertname") == ALERT:
                delivered[notification["groupLabels"]["agency"]] = notification
        if set(delivered) != set(alerting):
            alerts = httpx.get(f"http://127.0.0.1:{prom_port}/api/v1/alerts", timeout=5).text
            log = (tmp_path / "alertmanager.log").read_text()[-3000:]
            pytest.fail(f"delivered for {sorted(delivered)}, expected {sorted(alerting)}\n{alerts}\n{log}")

    # One notification per agency (grouped by agency), for the deadlines' receiver, in Vietnamese.
    for agency, count in alerting.items():
        notification = delivered[agency]
        assert notification["receiver"] == "deadlines"
        assert notification["status"] == "firing"
        [alert] = notification["alerts"]
        name = CATALOG.agencies[agency].name
        assert alert["labels"]["agency"] == agency and alert["labels"]["name"] == name
        assert alert["annotations"]["value"] == str(count)
        subject = render("dossier.vi.subject", notification, tmp_path)
        assert subject == f"[CẢNH BÁO] Hồ sơ quá hạn — {name} ({agency}): {count} hồ sơ"
        text = render("dossier.vi.text", notification, tmp_path)
        assert f"{name} ({agency}) có {count} hồ sơ đang giải quyết đã quá hạn giải quyết." in text
