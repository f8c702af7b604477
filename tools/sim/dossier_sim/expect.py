"""The report the simulated traffic must produce, and its comparison with the report API.

Expected rows come from folding each generated dossier's events with the domain core and adding up
their contributions, the same rules the services apply, so any difference means an event was lost,
doubled or misapplied on the way through Kafka, processing and metrics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dossier_core.catalog import Catalog
from dossier_core.indicators import INDICATOR_COUNTS, IndicatorCounts, indicator_contribution
from dossier_core.lifecycle import fold
from dossier_core.periods import Period
from dossier_core.report import ReportRow, contribution
from dossier_core.report_facts import facts_of
from dossier_sim.generator import SimulatedDossier, domain_event


def expected_rows(
    dossiers: Iterable[SimulatedDossier], catalog: Catalog, period: Period
) -> dict[str, ReportRow]:
    calendar = catalog.calendar()
    rows: dict[str, ReportRow] = {}
    for d in dossiers:
        dossier = fold((domain_event(e, i) for i, e in enumerate(d.events)), catalog)
        row = contribution(dossier, period, calendar)
        rows[d.agency] = rows[d.agency] + row if d.agency in rows else row
    return rows


def flat(row: Mapping[str, Any] | None) -> dict[str, int]:
    """A report row's figures by dotted column (`received.online`, `withdrawn`, …); zeros for None."""
    zero = ReportRow().to_dict()
    out: dict[str, int] = {}
    for name, value in zero.items():
        got = row.get(name, value) if row is not None else value
        if isinstance(value, dict):
            out.update({f"{name}.{leaf}": int(got.get(leaf, 0)) for leaf in value})
        else:
            out[name] = int(got)
    return out


def by_agency(report: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return {row["agency"]: row for row in (report or {}).get("rows", [])}


def differences(
    expected: Mapping[str, ReportRow], report: Mapping[str, Any], baseline: Mapping[str, Any] | None = None
) -> list[str]:
    """Human-readable differences between what was generated and what the report API added since
    `baseline` (the same report read before sending; None: an empty system), by agency (group_by=agency):
    each agency's row must have grown by exactly its generated row, and the others not at all."""
    now, before = by_agency(report), by_agency(baseline)
    out = []
    for agency in sorted(set(expected) | set(now) | set(before)):
        want = flat(expected[agency].to_dict() if agency in expected else None)
        was, got = flat(before.get(agency)), flat(now.get(agency))
        columns = [
            f"{column} expected +{want[column]}, report +{got[column] - was[column]} "
            f"({was[column]} before, {got[column]} now)"
            for column in want
            if got[column] - was[column] != want[column]
        ]
        if columns:
            out.append(f"{agency}: " + "; ".join(columns))
    return out


def received_total(report: Mapping[str, Any] | None) -> int:
    return int((report or {}).get("total", {}).get("received", {}).get("total", 0))


def total(rows: Iterable[ReportRow]) -> ReportRow:
    acc = ReportRow()
    for row in rows:
        acc = acc + row
    return acc


def expected_indicators(
    dossiers: Iterable[SimulatedDossier], catalog: Catalog, period: Period
) -> dict[str, IndicatorCounts]:
    """Each agency's Decision 766/QĐ-TTg counts (`/v1/reports/indicators`) from the generated events."""
    calendar = catalog.calendar()
    rows: dict[str, IndicatorCounts] = {}
    for d in dossiers:
        dossier = fold((domain_event(e, i) for i, e in enumerate(d.events)), catalog)
        counts = indicator_contribution(facts_of(dossier, calendar), period)
        rows[d.agency] = rows.get(d.agency, IndicatorCounts()) + counts
    return rows


def indicator_differences(
    expected: Mapping[str, IndicatorCounts],
    section: Mapping[str, Any],
    baseline: Mapping[str, Any] | None = None,
) -> list[str]:
    """Like `differences`, for the indicator section: each agency's counts must have grown since
    `baseline` by exactly the generated ones, and the others' not at all."""
    now, before = by_agency(section), by_agency(baseline)
    out = []
    for agency in sorted(set(expected) | set(now) | set(before)):
        want = expected.get(agency, IndicatorCounts())
        was, got = before.get(agency, {}), now.get(agency, {})
        columns = [
            f"{name} expected +{getattr(want, name)}, report +{got.get(name, 0) - was.get(name, 0)} "
            f"({was.get(name, 0)} before, {got.get(name, 0)} now)"
            for name in INDICATOR_COUNTS
            if got.get(name, 0) - was.get(name, 0) != getattr(want, name)
        ]
        if columns:
            out.append(f"{agency}: " + "; ".join(columns))
    return out
