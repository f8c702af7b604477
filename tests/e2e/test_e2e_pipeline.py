"""A quarter of a province through the real services: HTTP → Kafka → processing → metrics → report API
and /metrics, with exact numbers, whatever the delivery order or duplication, and untouched by bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from dossier_metrics.summary import number
from dossier_runtime.api_keys import create_key
from tests.e2e.traffic import Traffic, live_series
from tests.support import ROOT, System

pytestmark = pytest.mark.e2e


def test_simulated_quarter_gives_the_exact_report_and_live_series(system: System) -> None:
    # The simulator's own --expect mode compares the report API with what it generated.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "dossier_sim",
            "--period",
            "2021-Q2",
            "--dossiers",
            "1500",
            "--seed",
            "11",
            "--intake-url",
            system.intake.url,
            "--metrics-url",
            system.metrics.url,
            "--key",
            system.intake_key,
            "--expect",
            "--expect-timeout",
            "240",
            "--quiet",
        ],
        cwd=ROOT,
        env={**os.environ, "DOSSIER_SIM_METRICS_KEY": system.metrics_key},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "report matches" in run.stderr

    expected = Traffic.generate(1500, seed=11).expected_live()
    assert live_series(system.metrics.url) == expected

    # the quarter's Vietnamese summary states the report's figures
    headers = {"Authorization": f"Bearer {system.metrics_key}"}
    params = {"period": "2021-Q2"}
    url = system.metrics.url
    report = httpx.get(f"{url}/v1/reports/dossiers", params=params, headers=headers, timeout=60).json()
    summary = httpx.get(f"{url}/v1/reports/summary", params=params, headers=headers, timeout=60)
    assert summary.status_code == 200 and summary.headers["content-type"].startswith("text/markdown")
    received = report["total"]["received"]["total"]
    assert f"Tổng số hồ sơ tiếp nhận: {number(received)} hồ sơ" in summary.text


def test_every_event_twice_and_shuffled_gives_the_same_report(system: System) -> None:
    traffic = Traffic.generate(800, seed=21)
    sent = traffic.send(system.intake.url, system.intake_key, traffic.plan(duplicate=True, shuffle=True))
    assert sent.rejected == 0, sent.errors
    assert sent.accepted == 2 * traffic.event_count
    assert traffic.report_differences(system.metrics.url, system.metrics_key) == []
    assert live_series(system.metrics.url) == traffic.expected_live()


def test_bad_input_leaves_the_numbers_untouched(system: System, tmp_path) -> None:  # type: ignore[no-untyped-def]
    traffic = Traffic.generate(300, seed=31)
    assert traffic.send(system.intake.url, system.intake_key, traffic.plan()).rejected == 0
    assert traffic.report_differences(system.metrics.url, system.metrics_key) == []
    before = live_series(system.metrics.url)

    url = system.intake.url
    good = traffic.dossiers[0].events[0]
    fresh = dict(good, event_id=str(uuid.uuid4()), dossier_code=f"{good['agency_code']}-210401-9999")
    auth = {"Authorization": f"Bearer {system.intake_key}"}
    # Malformed JSON, no key, wrong key.
    assert httpx.post(f"{url}/v1/events", content=b"{not json", headers=auth).status_code in (400, 422)
    assert httpx.post(f"{url}/v1/events", json=fresh).status_code == 401
    assert (
        httpx.post(f"{url}/v1/events", json=fresh, headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    # A key of another province may not write Quảng Ninh's agencies (its file is reloaded on SIGHUP).
    other = create_key(tmp_path / "keys" / "intake.csv", "other-province", "*.H22")
    system.intake.process.send_signal(1)  # type: ignore[union-attr]
    for _ in range(50):
        r = httpx.post(f"{url}/v1/events", json=fresh, headers={"Authorization": f"Bearer {other}"})
        if r.status_code != 401:
            break
        time.sleep(0.1)
    assert r.status_code == 403
    # Unknown agency, naive timestamp, missing data field, oversize body, 1,001 events.
    bad = [
        dict(fresh, event_id=str(uuid.uuid4()), agency_code="999.99.99.H49"),
        dict(fresh, event_id=str(uuid.uuid4()), occurred_at="2021-04-05T09:15:00"),
        dict(fresh, event_id=str(uuid.uuid4()), type="dossier.received", data={"channel": "direct"}),
    ]
    for event in bad:
        assert httpx.post(f"{url}/v1/events", json=event, headers=auth).status_code == 422
    huge = {"events": [dict(fresh, data={"reason": "x" * 1_000_000}) for _ in range(6)]}
    assert httpx.post(f"{url}/v1/events:batch", json=huge, headers=auth, timeout=30).status_code == 413
    many = {"events": [dict(fresh, event_id=str(uuid.uuid4())) for _ in range(1001)]}
    assert httpx.post(f"{url}/v1/events:batch", json=many, headers=auth, timeout=30).status_code == 422

    assert traffic.report_differences(system.metrics.url, system.metrics_key, timeout=5) == []
    assert live_series(system.metrics.url) == before
