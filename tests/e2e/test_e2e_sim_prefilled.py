"""`dossier-sim --expect` on a system that already holds dossiers of the same period and agencies:
it compares the report with a baseline read before sending, so it passes, and says what it found."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.support import ROOT, System

pytestmark = pytest.mark.e2e


def sim(system: System, seed: int, dossiers: int, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dossier_sim",
            "--period",
            "2021-Q2",
            "--dossiers",
            str(dossiers),
            "--seed",
            str(seed),
            "--intake-url",
            system.intake.url,
            "--metrics-url",
            system.metrics.url,
            "--key",
            system.intake_key,
            "--quiet",
            *extra,
        ],
        cwd=ROOT,
        env={**os.environ, "DOSSIER_SIM_METRICS_KEY": system.metrics_key},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_expect_passes_on_a_system_that_already_holds_the_period(system: System) -> None:
    first = sim(system, 41, 400, "--expect", "--expect-timeout", "240")
    assert first.returncode == 0, first.stderr[-3000:]
    second = sim(system, 42, 300, "--expect", "--expect-timeout", "240")
    assert second.returncode == 0, second.stderr[-3000:]
    held = re.search(r"already holds (\d+) dossiers", second.stderr)
    assert held is not None and int(held.group(1)) >= 400, second.stderr[-3000:]
    assert "report matches" in second.stderr
