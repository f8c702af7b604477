"""The national-portal sync rate end to end, through the services as processes: dossiers sent to intake,
processing's push worker against a portal that is down (HTTP 503 to every call), its per-agency sync state
in `GET /v1/sync/state`, published on `portal.sync.v1`, and the same figures in the metrics service's
`GET /v1/reports/indicators`, which never asks processing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.traffic import Traffic
from tests.support import running_system

pytestmark = pytest.mark.e2e


class _Down(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b'{"error_code": 99, "message": "bao tri"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def portal_down() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Down)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/DongBoHoSoMC"
    server.shutdown()
    thread.join(5)


def _until(check: Any, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def test_the_sync_rate_reaches_the_indicators_report(
    tmp_path: Path, kafka_bootstrap: str, database_url: str, portal_down: str
) -> None:
    traffic = Traffic.generate(40, seed=17)
    received = sum(any(e["type"] == "dossier.received" for e in d.events) for d in traffic.dossiers)
    with running_system(
        tmp_path,
        kafka_bootstrap,
        database_url,
        PROCESSING_PORTAL_URL=portal_down,
        PROCESSING_PORTAL_TIMEOUT_S="2",
        PROCESSING_PORTAL_IDLE_S="0.1",
        PROCESSING_PORTAL_SYNC_PUBLISH_S="0.5",
    ) as system:
        assert traffic.send(system.intake.url, system.intake_key, traffic.plan()).rejected == 0
        sync_auth = {"Authorization": f"Bearer {system.sync_key}"}
        metrics_auth = {"Authorization": f"Bearer {system.metrics_key}"}

        def every_dossier_failed() -> dict[str, Any] | None:
            state = httpx.get(f"{system.processing.url}/v1/sync/state", headers=sync_auth, timeout=30).json()
            total = state["total"]
            done = total["received"] == received and total["failed"] == received
            return state if done else None

        state = _until(every_dossier_failed)

        def report_caught_up() -> dict[str, Any] | None:
            report = httpx.get(
                f"{system.metrics.url}/v1/reports/indicators",
                params={"period": traffic.period.label},
                headers=metrics_auth,
                timeout=30,
            ).json()
            return report if report["total"]["portal_received"] == received else None

        report = _until(report_caught_up)

    assert state["total"]["failed_by_reason"] == {"http_error": received}
    assert state["total"]["synced"] == 0 and state["total"]["oldest_unsynced_at"] is not None
    rows = {r["agency"]: r for r in report["rows"] if r["portal_received"] is not None}
    assert rows.keys() == {a["agency_code"] for a in state["agencies"]}
    for agency in state["agencies"]:
        row = rows[agency["agency_code"]]
        assert (row["portal_received"], row["portal_synced"]) == (agency["received"], agency["synced"])
        assert row["sync_rate"] == 0.0
    assert (report["total"]["portal_synced"], report["total"]["sync_rate"]) == (0, 0.0)
