"""What changed in a filed period since it was filed: per row, the counters whose filed and live
values differ; and the dossiers behind the change, each with its counters before and after and the
versions (with their newest event) recorded after the filing.

A closed period is served as filed (`report_store.Filing`); the revisions say why today's figures
differ. Only the grains (agency, procedure, field) whose filed and live rows differ are searched
for dossiers, and a dossier is listed only if its own contribution to the period changed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.calendar import WorkingCalendar
from dossier_core.periods import Period
from dossier_core.report import ReportRow, contribution
from dossier_core.report_facts import contribution_from_facts
from dossier_metrics.report_store import FactHistoryRow, Grain, GrainRows

#: The most dossiers a revisions section lists (the row changes are always complete).
MAX_DOSSIERS = 500


def leaves(row: ReportRow) -> dict[str, int]:
    """The row's figures by dotted column name (`received.online`, `pending.paused`, `withdrawn`, …)."""
    flat: dict[str, int] = {}
    for name, value in row.to_dict().items():
        if isinstance(value, dict):
            flat.update({f"{name}.{leaf}": int(v) for leaf, v in value.items()})
        else:
            flat[name] = int(value)
    return flat


def changes(filed: ReportRow, live: ReportRow) -> list[dict[str, Any]]:
    before, after = leaves(filed), leaves(live)
    return [
        {"column": column, "filed": before[column], "live": after[column]}
        for column in before
        if before[column] != after[column]
    ]


def changed_grains(filed: GrainRows, live: GrainRows) -> list[Grain]:
    return sorted(
        g for g in filed.keys() | live.keys() if filed.get(g, ReportRow()) != live.get(g, ReportRow())
    )


def grouped(rows: GrainRows, key: Callable[[Grain], str]) -> dict[str, ReportRow]:
    """The rows added up per `key` (counters summed as lists: a whole country has 10^4-10^5 grains)."""
    sums: dict[str, list[int]] = {}
    for grain, row in rows.items():
        k = key(grain)
        values = vars(row).values()  # the counters, in field order
        found = sums.get(k)
        sums[k] = list(values) if found is None else [a + b for a, b in zip(found, values, strict=True)]
    return {k: ReportRow(*values) for k, values in sums.items()}


def row_changes(
    filed: GrainRows, live: GrainRows, key: Callable[[Grain], str], describe: Callable[[str], dict[str, str]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per grouped row, and for the total, the counters whose filed and live values differ."""
    before, after = grouped(filed, key), grouped(live, key)
    rows = []
    for k in sorted(before.keys() | after.keys()):
        found = changes(before.get(k, ReportRow()), after.get(k, ReportRow()))
        if found:
            rows.append({**describe(k), "changes": found})
    total = changes(sum(before.values(), ReportRow()), sum(after.values(), ReportRow()))
    return rows, total


def dossier_changes(
    history: Iterable[FactHistoryRow], filed_at: datetime, period: Period, calendar: WorkingCalendar
) -> list[dict[str, Any]]:
    """The dossiers whose contribution to `period` differs between what was known at `filed_at` and
    their newest version, with the versions recorded after `filed_at`."""
    by_dossier: dict[str, list[FactHistoryRow]] = {}
    for version in history:
        by_dossier.setdefault(version.dossier_code, []).append(version)
    listed = []
    for code, versions in by_dossier.items():
        known = [v for v in versions if v.known_from <= filed_at]
        before = _row(known[-1], period, calendar) if known else ReportRow()
        after = _row(versions[-1], period, calendar)
        found = changes(before, after)
        if not found:
            continue
        listed.append(
            {
                "dossier_code": code,
                "agency": versions[-1].grain[0],
                "changes": found,
                "events": [
                    {
                        "event_id": v.last_event_id,
                        "recorded_at": v.known_from.isoformat(),
                        "version": v.version,
                    }
                    for v in versions
                    if v.known_from > filed_at
                ],
            }
        )
    return listed


def _row(version: FactHistoryRow, period: Period, calendar: WorkingCalendar) -> ReportRow:
    row = contribution_from_facts(version.facts, period)
    if row is not None:
        return row
    assert version.payload is not None  # kept for every dossier with pauses, the only ones judged here
    return contribution(snapshot_to_dossier(decode_snapshot(version.payload)), period, calendar)
