"""Stand-ins for the Biểu 06 report tests: the stored snapshots in memory (with the store's SQL
pre-filter), a source with a defect, a keys file with two reader keys, and a report app whose typed
state (`STATE`) holds them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI

from dossier_contracts.portal_sync import AgencySyncRecord
from dossier_contracts.snapshot_codec import decode_snapshot, dossier_to_snapshot, snapshot_to_dossier
from dossier_core.catalog import Catalog
from dossier_core.dossier import Dossier
from dossier_core.indicators import IndicatorCounts, indicator_contribution
from dossier_core.periods import Period
from dossier_core.report import ReportRow, contribution
from dossier_core.report_facts import facts_of
from dossier_metrics import catalogue, reports
from dossier_metrics.app import build_state
from dossier_metrics.report_gate import ReportGate
from dossier_metrics.report_store import FactHistoryRow, Filing, Grain, GrainPart, GrainRows, add_row, part_of
from dossier_metrics.reports import ReportBuilder
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.state import STATE
from dossier_runtime.api_keys import create_key
from dossier_runtime.problems import install_problem_handlers
from tests.unit.metrics.conftest import vn

HA_LONG = "000.00.31.H49"  # district; wards 000.0x.31.H49 below it
HONG_GAI = "000.01.31.H49"


class SnapshotList:
    """In-memory stand-in for the report store: the rows per grain by the domain, dossier by
    dossier, from the same pre-filter as the store's SQL; nothing is filed."""

    def __init__(self, catalog: Catalog, dossiers: Sequence[Dossier]) -> None:
        calendar = self.calendar = catalog.calendar()
        self.rows = [
            (
                d,
                dossier_to_snapshot(
                    d, version=1, changed_at=vn("2021-07-01 00:00"), field="Hộ tịch", calendar=calendar
                ).SerializeToString(),
            )
            for d in dossiers
        ]

    async def snapshots_for_period(
        self, start: datetime, end: datetime, agencies: Sequence[str] | None
    ) -> AsyncIterator[tuple[str, bytes]]:
        for dossier, payload in self.rows:
            if dossier.received_at is None or dossier.received_at >= end:
                continue
            if dossier.ended_at is not None and dossier.ended_at < start:
                continue
            if agencies is None or dossier.agency_code in agencies:
                yield "Hộ tịch", payload

    async def counted_agencies(self) -> set[str]:
        return {dossier.agency_code for dossier, _ in self.rows}

    async def sync_records(self, agencies: Sequence[str] | None) -> dict[str, AgencySyncRecord]:
        """No national-portal sync record (no push worker publishes here)."""
        return {}

    async def grain_rows(
        self,
        period: Period,
        agencies: Sequence[str] | None,
        known_at: datetime | None = None,
        by: GrainPart = "grain",
    ) -> GrainRows:
        rows: GrainRows = {}
        async for _, payload in self.snapshots_for_period(period.start_instant, period.end_instant, agencies):
            dossier = snapshot_to_dossier(decode_snapshot(payload))
            row = contribution(dossier, period, self.calendar)
            if row != ReportRow():
                grain = (dossier.agency_code, dossier.procedure_code or "", "Hộ tịch")
                add_row(rows, part_of(grain, by), row)
        return rows

    async def indicator_rows(
        self, period: Period, agencies: Sequence[str] | None
    ) -> dict[str, IndicatorCounts]:
        rows: dict[str, IndicatorCounts] = {}
        async for _, payload in self.snapshots_for_period(period.start_instant, period.end_instant, agencies):
            dossier = snapshot_to_dossier(decode_snapshot(payload))
            counts = indicator_contribution(facts_of(dossier, self.calendar), period)
            rows[dossier.agency_code] = rows.get(dossier.agency_code, IndicatorCounts()) + counts
        return rows

    async def filing(self, period: str) -> Filing | None:
        return None

    async def filed_rows(self, period: str, agencies: Sequence[str] | None) -> GrainRows:
        return {}

    async def recorded_since(
        self, since: datetime, grains: Sequence[Grain], limit: int
    ) -> tuple[list[FactHistoryRow], bool]:
        return [], False


class BrokenSource(SnapshotList):
    """A source whose reading fails with a defect (not a database error)."""

    async def grain_rows(
        self,
        period: Period,
        agencies: Sequence[str] | None,
        known_at: datetime | None = None,
        by: GrainPart = "grain",
    ) -> GrainRows:
        raise RuntimeError("a defect")


class Keys:
    """A keys file with a key that reads everything and one limited to Hạ Long and its wards."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.everything = create_key(path, "province-office", "*")
        self.ha_long = create_key(path, "ha-long", "*.31.H49")

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def report_app(builder: ReportBuilder, keys_file: Path | None, gate: ReportGate | None = None) -> FastAPI:
    """The report route alone, its state built as the service builds it, with `builder` and `gate`."""
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(reports.router)
    app.include_router(catalogue.router)
    state = build_state(MetricsSettings(api_keys_file=keys_file), catalog=builder.catalog)
    STATE.put(app, replace(state, reports=builder, report_gate=gate or ReportGate(2, 5)))
    return app
