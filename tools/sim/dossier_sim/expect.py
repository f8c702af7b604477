"""The report the simulated traffic must produce, and its comparison with the report API.

Expected rows come from folding each generated dossier's events with the domain core and adding up
their contributions, the same rules the services apply, so any difference means an event was lost,
doubled or misapplied on the way through Kafka, processing and metrics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dossier_core.catalog import Catalog
from dossier_core.lifecycle import fold
from dossier_core.periods import Period
from dossier_core.report import ReportRow, contribution
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


def differences(expected: Mapping[str, ReportRow], report: Mapping[str, Any]) -> list[str]:
    """Human-readable differences between expected rows and a report API answer (group_by=agency)."""
    actual = {row["agency"]: row for row in report.get("rows", [])}
    out = []
    for agency in sorted(set(expected) | set(actual)):
        want = expected[agency].to_dict() if agency in expected else ReportRow().to_dict()
        got = {k: actual[agency][k] for k in want} if agency in actual else ReportRow().to_dict()
        if want != got:
            out.append(f"{agency}: expected {want}, report has {got}")
    return out


def total(rows: Iterable[ReportRow]) -> ReportRow:
    acc = ReportRow()
    for row in rows:
        acc = acc + row
    return acc
