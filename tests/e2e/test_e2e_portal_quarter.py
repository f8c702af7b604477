"""A simulated quarter synced to the national portal through the real services and the fake portal
adapter (`tests/fake_portal.py`), whose sessions expire and which answers transient errors, is slow and
answers 503 now and then: every record and every progress step the portal took is schema-valid, each
dossier's versions arrive once and in order with the right `isUpdating`, each of its processing steps
once, and the record is complete — supplements (with the appointment before and after), fees (with how
they were paid) and the reschedule's step are there."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from dossier_core.catalog_csv import default_catalog_dir, load_catalog
from dossier_core.periods import parse_period
from dossier_sim.generator import ProvinceGenerator
from dossier_sim.mix import DEFAULT_MIX, OutcomeMix
from tests.fake_portal import PASSWORD, USERNAME, FakePortal
from tests.support import ROOT, System, running_system

pytestmark = pytest.mark.e2e

PERIOD, DOSSIERS, SEED = "2021-Q2", 150, 29


def sim_events() -> Counter[str]:
    """Events per dossier of the quarter the simulator sends (the same seed gives the same traffic)."""
    gen = ProvinceGenerator(
        load_catalog(default_catalog_dir()), parse_period(PERIOD), OutcomeMix.parse(DEFAULT_MIX), seed=SEED
    )
    return Counter(e["dossier_code"] for d in gen.dossiers(DOSSIERS) for e in d.events)


def run_sim(system: System) -> None:
    run = subprocess.run(
        [
            *(sys.executable, "-m", "dossier_sim", "--period", PERIOD),
            *("--dossiers", str(DOSSIERS), "--seed", str(SEED)),
            *("--intake-url", system.intake.url, "--metrics-url", system.metrics.url),
            *("--key", system.intake_key, "--expect", "--expect-timeout", "240", "--quiet"),
        ],
        cwd=ROOT,
        env={**os.environ, "DOSSIER_SIM_METRICS_KEY": system.metrics_key},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]


def feed(system: System) -> dict[str, int]:
    """Every dossier's latest version, from the sync feed."""
    versions: dict[str, int] = {}
    cursor = None
    auth = {"Authorization": f"Bearer {system.sync_key}"}
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{system.processing.url}/v1/sync/changes", params=params, headers=auth).json()
        versions |= {r["MaHoSo"]: r["PhienBan"] for r in page["data"]}
        if not page["has_more"]:
            return versions
        cursor = page["next_cursor"]


def wait_for(what: str, check: Any, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_simulated_quarter_reaches_the_portal_complete_and_once(
    tmp_path: Path, kafka_bootstrap: str, database_url: str
) -> None:
    events = sim_events()
    portal = FakePortal(
        seed=SEED, session_calls=5, transient_rate=0.05, slow_every=11, slow_s=2.0, down_every=13
    )
    with (
        portal.in_thread(),
        running_system(
            tmp_path,
            kafka_bootstrap,
            database_url,
            PROCESSING_PORTAL_URL=portal.url + "/api",
            PROCESSING_PORTAL_LOGIN_URL=portal.url + "/login",
            PROCESSING_PORTAL_USERNAME=USERNAME,
            PROCESSING_PORTAL_PASSWORD=PASSWORD,
            PROCESSING_PORTAL_UNIT_CODE="000.00.00.H49",
            PROCESSING_PORTAL_TIMEOUT_S="1",
            PROCESSING_PORTAL_BATCH_SIZE="40",
            PROCESSING_PORTAL_BACKOFF_BASE_S="0.1",
            PROCESSING_PORTAL_BACKOFF_MAX_S="1",
        ) as system,
    ):
        run_sim(system)
        latest = feed(system)
        assert set(latest) == set(events)

        def delivered() -> bool:
            accepted = {code: list(versions) for code, versions in list(portal.accepted.items())}
            progress = {code: len(steps) for code, steps in list(portal.progress.items())}
            return all(
                accepted.get(code, [0])[-1] == version and progress.get(code) == events[code]
                for code, version in latest.items()
            )

        wait_for("every latest version and every step at the portal", delivered)

    assert portal.violations == [], portal.violations[:5]
    assert portal.wrong_updating == [] and portal.regressions == [] and portal.repeated_steps == []
    assert portal.logins > 1 and portal.transient_answers > 0
    assert portal.calls["slow"] > 0 and portal.calls["down"] > 0
    records = [r for (code, version), r in portal.records.items() if latest[code] == version]
    assert len(records) == DOSSIERS
    supplements = [s for r in records for s in r["DanhSachHoSoBoSung"]]
    assert supplements and all(s["NgayBoSung"] and s["NgayTiepNhanBoSung"] for s in supplements)
    # the appointment before and after each supplement (empty where the dossier has no deadline)
    assert any(s["NgayHenTraTruoc"] < s["NgayHenTraMoi"] for s in supplements if s["NgayHenTraTruoc"])
    fees = [f for r in records for f in r["DanhSachLePhi"]]
    assert (
        fees
        and {f["HinhThucThu"] for f in fees} <= {"1", "2", "3", ""}
        and any(f["HinhThucThu"] for f in fees)
    )
    steps = [s for code in latest for s in portal.progress[code]]
    assert any(s["NoiDungXuLy"].startswith("Hẹn lại ngày trả kết quả") for s in steps)  # the reschedule
