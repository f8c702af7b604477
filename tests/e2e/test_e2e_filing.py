"""A filed quarter stays as filed: the quarter's events go through the real services, the period is
filed (`dossier-metrics file`), late events arrive, and then the report API serves the filed numbers
exactly, with revisions that name every changed row, every changed dossier and its late events;
`live=true` gives today's exact numbers and `as_of` the filing instant gives the filed ones again."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from dossier_core.lifecycle import fold
from dossier_core.report import ReportRow, contribution
from dossier_metrics.quarter_sheets import INDICATOR_SHEET
from dossier_metrics.report_form import REVISIONS_SHEET, form_figures
from dossier_metrics.revisions import leaves
from dossier_sim.expect import differences, expected_rows, total
from dossier_sim.generator import SimulatedDossier, domain_event
from tests.e2e.traffic import CALENDAR, CATALOG, PERIOD, Traffic
from tests.support import ROOT, System

pytestmark = pytest.mark.e2e


def _row(d: SimulatedDossier) -> ReportRow:
    return contribution(fold((domain_event(e, i) for i, e in enumerate(d.events)), CATALOG), PERIOD, CALENDAR)


def _report(system: System, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{system.metrics.url}/v1/reports/dossiers",
        params={"period": PERIOD.label, **params},
        headers={"Authorization": f"Bearer {system.metrics_key}"},
        timeout=60,
    )


def _figures(report: dict[str, Any]) -> dict[str, list[int]]:
    """Each row's figures, and the total's, in the form's column order, from the JSON report."""
    figures = {row["agency"]: form_figures(row) for row in report["rows"]}
    return {**figures, "Tổng cộng": form_figures(report["total"])}


def _exported(system: System, **params: Any) -> dict[str, list[int]]:
    """The same from the CSV and from the XLSX's first sheet, which must agree with each other."""
    text = _report(system, format="csv", **params).content.decode("utf-8-sig")
    from_csv = {row[0]: [int(v) for v in row[2:]] for row in list(csv.reader(io.StringIO(text)))[1:]}
    sheet = load_workbook(io.BytesIO(_report(system, format="xlsx", **params).content)).worksheets[0]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=6)]
    from_xlsx = {row[0]: list(row[2:]) for row in values if row[0] is not None}
    assert from_xlsx == from_csv
    return from_csv


def _until(system: System, expected: dict[str, ReportRow], **params: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    diffs: list[str] = ["no answer"]
    while time.monotonic() < deadline:
        response = _report(system, **params)
        if response.status_code == 200:
            diffs = differences(expected, response.json())
            if not diffs:
                return dict(response.json())
        time.sleep(1.0)
    raise AssertionError(f"the report never matched: {diffs[:5]}")


def test_a_filed_quarter_keeps_its_numbers_and_lists_its_revisions(system: System) -> None:
    traffic = Traffic.generate(400, seed=41)
    # The last event of every 8th dossier with more than one event arrives after the filing.
    late_codes = {d.code for d in traffic.dossiers[::8] if len(d.events) > 1}
    on_time = [replace(d, events=d.events[:-1]) if d.code in late_codes else d for d in traffic.dossiers]
    late = [d.events[-1] for d in traffic.dossiers if d.code in late_codes]
    sent = traffic.send(system.intake.url, system.intake_key, [d.events for d in on_time])
    assert sent.rejected == 0, sent.errors
    filed_expected = expected_rows(on_time, CATALOG, PERIOD)
    _until(system, filed_expected)

    filing = subprocess.run(
        [sys.executable, "-m", "dossier_metrics", "file", "--period", PERIOD.label],
        env={**os.environ, **system.metrics.env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert filing.returncode == 0, filing.stderr
    assert f"{PERIOD.label} filed as known at" in filing.stderr

    assert traffic.send(system.intake.url, system.intake_key, [late]).rejected == 0
    live_expected = traffic.expected
    live = _until(system, live_expected, live="true")
    assert live["view"] == "live" and live["revisions"] is None
    assert live["filing"] is not None

    filed = _report(system).json()
    assert filed["view"] == "filed"
    assert differences(filed_expected, filed) == []
    assert filed["as_of"] == filed["filing"]["filed_at"]

    revisions = filed["revisions"]
    assert revisions["since"] == filed["as_of"]
    changed_rows = {
        agency
        for agency in set(filed_expected) | set(live_expected)
        if filed_expected.get(agency, ReportRow()) != live_expected.get(agency, ReportRow())
    }
    assert changed_rows, "the late events must change the quarter"
    assert {row["agency"] for row in revisions["rows"]} == changed_rows
    before, after = leaves(total(filed_expected.values())), leaves(total(live_expected.values()))
    assert {c["column"]: (c["filed"], c["live"]) for c in revisions["total"]} == {
        column: (before[column], after[column]) for column in before if before[column] != after[column]
    }

    by_code = {d.code: d for d in traffic.dossiers}
    changed_dossiers = {
        code for code in late_codes if _row(by_code[code]) != _row(next(d for d in on_time if d.code == code))
    }
    assert {d["dossier_code"] for d in revisions["dossiers"]} == changed_dossiers
    assert not revisions["dossiers_truncated"]
    late_ids = {e["event_id"] for e in late}
    for listed in revisions["dossiers"]:
        assert listed["events"] and {e["event_id"] for e in listed["events"]} <= late_ids
        assert listed["events"][-1]["event_id"] == by_code[listed["dossier_code"]].events[-1]["event_id"]

    as_filed = _report(system, as_of=filed["as_of"]).json()
    assert as_filed["view"] == "as_of" and differences(filed_expected, as_filed) == []

    workbook = load_workbook(io.BytesIO(_report(system, format="xlsx").content))
    # the form and its revisions, then the quarter's other sections
    assert workbook.sheetnames[:2] == ["Bieu06", REVISIONS_SHEET] and INDICATOR_SHEET in workbook.sheetnames
    for view in ({}, {"live": "true"}, {"as_of": filed["as_of"]}):
        assert _exported(system, **view) == _figures(_report(system, **view).json()), view
