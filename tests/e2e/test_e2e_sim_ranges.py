"""`dossier-sim --from/--to --expect` checks citizen feedback as it does for a named period: the
feedback section (`/v1/reports/feedback?from=…&to=…`) is read before sending and must grow by exactly
the generated items' figures; afterwards the section of those days equals what the items fold to,
agency by agency."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime

import httpx
import pytest

from dossier_core.calendar import VN_TZ
from dossier_core.feedback import SUMMARY_FIGURES
from dossier_core.periods import Period
from dossier_sim.feedback import (
    DEFAULT_FEEDBACK_MIX,
    FeedbackGenerator,
    expected_feedback,
    feedback_total,
    parse_feedback_mix,
)
from tests.e2e.traffic import CALENDAR, CATALOG
from tests.support import ROOT, System

pytestmark = pytest.mark.e2e

SEED, DOSSIERS, ITEMS = 63, 150, 12
FIRST, LAST = date(2021, 4, 1), date(2021, 5, 31)


def test_expect_checks_the_feedback_of_a_from_to_range(system: System) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "dossier_sim",
            *("--from", FIRST.isoformat(), "--to", LAST.isoformat()),
            *("--dossiers", str(DOSSIERS), "--feedback", str(ITEMS), "--seed", str(SEED)),
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
    days = Period.between(FIRST, LAST)
    items = FeedbackGenerator(CATALOG, days, parse_feedback_mix(DEFAULT_FEEDBACK_MIX), seed=SEED).items(ITEMS)
    expected = expected_feedback(items, CALENDAR, days, datetime.now(VN_TZ))
    whole = feedback_total(expected.values())
    assert whole["received"] == ITEMS
    assert "report matches" in run.stderr
    assert f"citizen feedback {whole}" in run.stderr, run.stderr[-3000:]  # checked, not "not checked"

    headers = {"Authorization": f"Bearer {system.metrics_key}"}
    params = {"from": FIRST.isoformat(), "to": LAST.isoformat()}
    url = f"{system.metrics.url}/v1/reports/feedback"
    section = httpx.get(url, params=params, headers=headers, timeout=60).json()
    assert {row["agency"]: {k: row[k] for k in SUMMARY_FIGURES} for row in section["rows"]} == expected
    assert section["total"] == whole

    # the range takes the bounds of the other report routes: a problem naming the field, never a 500
    for query, field in (({"from": FIRST.isoformat()}, "to"), ({**params, "to": "2021-03-01"}, "to")):
        refused = httpx.get(url, params=query, headers=headers, timeout=60)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field
