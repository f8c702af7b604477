"""Citizen feedback of a simulated quarter through the real services: `dossier-sim` sends the quarter's
dossiers and feedback items over HTTP and its --expect waits for the feedback section; then the section
of `/v1/reports/feedback`, the feedback sheet of the quarter's XLSX and the `dossier_feedback*` series
of `/metrics` all equal what the simulator's items fold to, item by item."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime

import httpx
import pytest
from openpyxl import load_workbook
from prometheus_client.parser import text_string_to_metric_families

from dossier_core.calendar import VN_TZ
from dossier_core.feedback import DEFAULT_DEADLINE_DAYS, SUMMARY_FIGURES
from dossier_metrics.quarter_sheets import FEEDBACK_COLUMNS, FEEDBACK_SHEET
from dossier_sim.feedback import (
    DEFAULT_FEEDBACK_MIX,
    FeedbackGenerator,
    expected_feedback,
    feedback_total,
    folded,
    parse_feedback_mix,
)
from tests.e2e.traffic import CALENDAR, CATALOG, PERIOD
from tests.support import ROOT, System

pytestmark = pytest.mark.e2e

SEED, DOSSIERS, ITEMS = 51, 200, 24


def test_simulated_feedback_is_exact_in_the_section_the_workbook_and_the_live_series(
    system: System,
) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "dossier_sim",
            *("--period", PERIOD.label, "--dossiers", str(DOSSIERS), "--feedback", str(ITEMS)),
            *("--seed", str(SEED), "--intake-url", system.intake.url, "--metrics-url", system.metrics.url),
            *("--key", system.intake_key, "--expect", "--expect-timeout", "240", "--quiet"),
        ],
        cwd=ROOT,
        env={**os.environ, "DOSSIER_SIM_METRICS_KEY": system.metrics_key},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    items = FeedbackGenerator(CATALOG, PERIOD, parse_feedback_mix(DEFAULT_FEEDBACK_MIX), seed=SEED).items(
        ITEMS
    )
    events = sum(len(item.events) for item in items)
    assert f"feedback sent: {events} accepted, 0 rejected" in run.stderr
    assert "report matches" in run.stderr
    now = datetime.now(VN_TZ)
    expected = expected_feedback(items, CALENDAR, PERIOD, now)
    whole = feedback_total(expected.values())
    assert whole["received"] == ITEMS
    assert whole["published"] and whole["in_progress"] and whole["withdrawn"]  # the mix shows at 24 items
    assert f"citizen feedback {whole}" in run.stderr  # --expect checked the section

    headers = {"Authorization": f"Bearer {system.metrics_key}"}
    params = {"period": PERIOD.label}
    url = system.metrics.url
    section = httpx.get(f"{url}/v1/reports/feedback", params=params, headers=headers, timeout=60).json()
    assert {row["agency"]: {k: row[k] for k in SUMMARY_FIGURES} for row in section["rows"]} == expected
    assert section["total"] == whole

    workbook = httpx.get(
        f"{url}/v1/reports/dossiers", params={**params, "format": "xlsx"}, headers=headers, timeout=60
    )
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content))[FEEDBACK_SHEET]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    first = next(i for i, row in enumerate(values) if row[0] == "Mã đơn vị") + 1
    lines = {row[0]: list(row[2 : 2 + len(FEEDBACK_COLUMNS)]) for row in values[first:] if row[0]}
    keys = [key for _, key in FEEDBACK_COLUMNS]
    assert lines == {
        **{agency: [row[k] for k in keys] for agency, row in expected.items()},
        "Tổng cộng": [whole[k] for k in keys],
    }

    # The live series: every item by its stage now, and the open ones past their deadline now.
    states = [folded(item, CALENDAR, DEFAULT_DEADLINE_DAYS) for item in items]
    stages = Counter((s.agency_code, s.stage.value) for s in states)
    overdue = Counter(s.agency_code for s in states if s.overdue_at(datetime.now(VN_TZ)))
    live: dict[str, Counter[tuple[str, ...]]] = {
        "dossier_feedback": Counter(),
        "dossier_feedback_overdue": Counter(),
    }
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=30).text):
        if family.name in live:
            for sample in family.samples:
                if sample.value:
                    label = (sample.labels["agency"], sample.labels.get("stage", ""))
                    live[family.name][label] += int(sample.value)
    assert live["dossier_feedback"] == stages
    assert live["dossier_feedback_overdue"] == Counter({(a, ""): n for a, n in overdue.items()})
    assert sum(overdue.values()) == whole["in_progress"]  # a 2021 item still open is overdue today
