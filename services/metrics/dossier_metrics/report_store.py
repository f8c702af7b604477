"""The reports' reads (on the readers' engine) and the filing's writes (on the writers'): Biểu 06
rows per grain from the report facts (`report_sql`), the dossiers only the domain can judge, the
filed copies of named periods, and the versions recorded after a filing.

Each report reads in one read-only REPEATABLE READ transaction, so its sums and its domain-judged
dossiers come from the same state of the projection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_contracts.portal_sync import AgencySyncRecord
from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.calendar import WorkingCalendar
from dossier_core.codes import Channel
from dossier_core.indicators import IndicatorCounts
from dossier_core.periods import Period
from dossier_core.report import ReportRow, contribution
from dossier_core.report_facts import ReportFacts
from dossier_metrics import portal_sync, report_sql
from dossier_metrics.store import ProjectionStore

#: (agency, procedure, field): the finest rows a report is added up in; every grouping is a sum of them.
Grain = tuple[str, str, str]
GrainRows = dict[Grain, ReportRow]
#: Which part of the grain rows are added up by (`report_sql.GRAINS`).
GrainPart = Literal["grain", "agency", "procedure", "field", "agency_field"]


def part_of(grain: Grain, by: GrainPart) -> Grain:
    """The part of `grain` a report added up `by` keeps ('' for the others)."""
    agency, procedure, field = grain
    if by == "agency":
        return (agency, "", "")
    if by == "procedure":
        return ("", procedure, "")
    if by == "field":
        return ("", "", field)
    if by == "agency_field":
        return (agency, "", field)
    return grain


@dataclass(frozen=True)
class Filing:
    """A named period's filed copy: frozen with what the system knew at `filed_at`."""

    period: str
    first_day: date
    last_day: date
    deadline: datetime
    filed_at: datetime


@dataclass(frozen=True)
class FactHistoryRow:
    """One recorded version of a dossier's report facts."""

    dossier_code: str
    version: int
    known_from: datetime
    last_event_id: str
    grain: Grain
    facts: ReportFacts
    payload: bytes | None


def add_row(rows: GrainRows, grain: Grain, row: ReportRow) -> None:
    rows[grain] = rows[grain] + row if grain in rows else row


class ReportStore(ProjectionStore):
    """`ProjectionStore` reads plus what the report engine needs. `writer` (the consumer's engine) is
    used only to store a filing; the readers' engine is read-only."""

    def __init__(
        self, engine: AsyncEngine, calendar: WorkingCalendar, writer: AsyncEngine | None = None
    ) -> None:
        super().__init__(engine)
        self.calendar = calendar
        self.writer = writer

    async def sync_records(self, agencies: Sequence[str] | None) -> dict[str, AgencySyncRecord]:
        """Each agency's latest national-portal sync record (`portal_sync`), by agency code."""
        async with self.engine.connect() as conn:
            return await portal_sync.sync_records(conn, agencies)

    async def indicator_rows(
        self, period: Period, agencies: Sequence[str] | None
    ) -> dict[str, IndicatorCounts]:
        """Per agency, the period's Decision 766/QĐ-TTg counts from the current facts (agencies with
        no dossier in the period are left out)."""
        args = [period.start_instant, period.end_instant, _listed(agencies)]
        async with self.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            records = await driver.fetch(report_sql.INDICATORS_CURRENT, *args)
        return {r[0]: IndicatorCounts(*r[1:]) for r in records}

    async def grain_rows(
        self,
        period: Period,
        agencies: Sequence[str] | None,
        known_at: datetime | None = None,
        by: GrainPart = "grain",
    ) -> GrainRows:
        """The period's rows per grain from the current facts, or from those known at `known_at`;
        per the part of the grain `by` names (the other parts '')."""
        return await self._grain_rows(self.engine, period, agencies, known_at, by)

    async def _grain_rows(
        self,
        engine: AsyncEngine,
        period: Period,
        agencies: Sequence[str] | None,
        known_at: datetime | None,
        by: GrainPart = "grain",
    ) -> GrainRows:
        args: list[Any] = [period.start_instant, period.end_instant, _listed(agencies)]
        if known_at is None:
            sums, judged = report_sql.GRAIN_CURRENT[by], report_sql.DOMAIN_CURRENT
        else:
            sums, judged = report_sql.GRAIN_KNOWN_AT[by], report_sql.DOMAIN_KNOWN_AT
            args.append(known_at)
        rows: GrainRows = {}
        async with engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            async with driver.transaction(isolation="repeatable_read", readonly=True):
                for record in await driver.fetch(sums, *args):
                    rows[(record[0], record[1], record[2])] = ReportRow(*record[3:])
                for agency, procedure, field, payload in await driver.fetch(judged, *args):
                    dossier = snapshot_to_dossier(decode_snapshot(payload))
                    grain = part_of((agency, procedure, field), by)
                    add_row(rows, grain, contribution(dossier, period, self.calendar))
        return rows

    async def filing(self, period: str) -> Filing | None:
        async with self.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            record = await driver.fetchrow(
                "SELECT period, first_day, last_day, deadline, filed_at FROM report_filing WHERE period = $1",
                period,
            )
        return Filing(*record) if record is not None else None

    async def filed_rows(self, period: str, agencies: Sequence[str] | None) -> GrainRows:
        columns = ", ".join(report_sql.ROW_COUNTERS)
        async with self.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            records = await driver.fetch(
                f"SELECT agency_code, procedure_code, field, {columns} FROM report_filing_row"
                " WHERE period = $1 AND ($2::text[] IS NULL OR agency_code = ANY($2::text[]))",
                period,
                _listed(agencies),
            )
        return {(r[0], r[1], r[2]): ReportRow(*r[3:]) for r in records}

    async def file(self, period: Period, deadline: datetime, filed_at: datetime) -> Filing:
        """Freeze `period` with what was known at `filed_at`, unless it is filed already (then the
        existing filing stands); returns the filing in force."""
        if self.writer is None:
            raise RuntimeError("this report store has no writer engine")
        # On the writers' engine: a whole country's period may take longer than a report may.
        rows = await self._grain_rows(self.writer, period, None, filed_at)
        columns = ", ".join(report_sql.ROW_COUNTERS)
        arrays = ", ".join(f"${k + 5}::bigint[]" for k in range(len(report_sql.ROW_COUNTERS)))
        grains = sorted(rows)
        async with self.writer.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            async with driver.transaction():
                created = await driver.fetchval(
                    "INSERT INTO report_filing (period, first_day, last_day, deadline, filed_at)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (period) DO NOTHING RETURNING period",
                    period.label,
                    period.start,
                    period.end,
                    deadline,
                    filed_at,
                )
                if created is not None and grains:
                    await driver.execute(
                        "INSERT INTO report_filing_row (period, agency_code, procedure_code, field,"
                        f" {columns}) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], {arrays})",
                        period.label,
                        [g[0] for g in grains],
                        [g[1] for g in grains],
                        [g[2] for g in grains],
                        *([getattr(rows[g], name) for g in grains] for name in report_sql.ROW_COUNTERS),
                    )
        filing = await self.filing(period.label)
        assert filing is not None  # just written, or written by another instance first
        return filing

    async def first_known(self) -> datetime | None:
        """When the system first learned of any event (the earliest instant a filing can reflect)."""
        async with self.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            value: datetime | None = await driver.fetchval("SELECT min(known_from) FROM report_fact_history")
            return value

    async def recorded_since(
        self, since: datetime, grains: Sequence[Grain], limit: int
    ) -> tuple[list[FactHistoryRow], bool]:
        """Every recorded version of up to `limit` dossiers of `grains` that have a version recorded
        after `since`, in dossier and version order, and whether there were more such dossiers."""
        if not grains:
            return [], False
        async with self.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection
            records = await driver.fetch(
                _RECORDED_SINCE,
                since,
                [g[0] for g in grains],
                [g[1] for g in grains],
                [g[2] for g in grains],
                limit + 1,
            )
        codes = sorted({r["dossier_code"] for r in records})
        more = len(codes) > limit
        kept = set(codes[:limit])
        return [_history_row(r) for r in records if r["dossier_code"] in kept], more


_RECORDED_SINCE = """
WITH changed AS (
    SELECT DISTINCT h.dossier_code FROM report_fact_history AS h
    JOIN unnest($2::text[], $3::text[], $4::text[]) AS g(agency_code, procedure_code, field)
      USING (agency_code, procedure_code, field)
    WHERE h.known_from > $1
    ORDER BY h.dossier_code LIMIT $5
)
SELECT h.* FROM report_fact_history AS h JOIN changed USING (dossier_code)
ORDER BY h.dossier_code, h.version"""


def _history_row(r: Any) -> FactHistoryRow:
    return FactHistoryRow(
        dossier_code=r["dossier_code"],
        version=r["version"],
        known_from=r["known_from"],
        last_event_id=r["last_event_id"],
        grain=(r["agency_code"], r["procedure_code"], r["field"]),
        facts=ReportFacts(
            received_at=r["received_at"],
            channel=Channel(r["channel"]),
            ended_at=r["ended_at"],
            outcome=r["outcome"],
            legal_due_at=r["legal_due_at"],
            settled_due_at=r["settled_due_at"],
            pauses_from=r["pauses_from"],
            pauses_until=r["pauses_until"],
            reschedules=tuple(r["reschedules"] or ()),
            judged_at=tuple(r["judged_at"] or ()),
            judged_overdue=tuple(r["judged_overdue"] or ()),
            judged_paused=tuple(r["judged_paused"] or ()),
            on_site=r["on_site"],
            digitised=r["digitised"],
            payment_channel=r["payment_channel"],
        ),
        payload=r["payload"],
    )


def _listed(agencies: Sequence[str] | None) -> list[str] | None:
    return sorted(agencies) if agencies is not None else None
