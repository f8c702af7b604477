"""`GET /v1/reports/dossiers`: the Biểu 06 report for a period, from the stored snapshots.

Each dossier's contribution to a period comes from the domain (`dossier_core.report.contribution`:
carried over, new by channel, resolved by timeliness, pending judged at the end of the period's last
day with the deadline as it stood then); this module only selects, groups and adds up rows.
`agency=CODE` selects that agency and every agency below it through `parent_code`; `group_by=level`
puts each dossier under its receiving agency's level.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal, Protocol

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.catalog import Catalog
from dossier_core.periods import Period, parse_period
from dossier_core.report import ReportInvariantError, ReportRow, contribution
from dossier_metrics.report_form import to_csv, to_xlsx
from dossier_runtime.problems import Problem

GroupBy = Literal["agency", "level", "procedure", "field"]
Format = Literal["json", "csv", "xlsx"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

router = APIRouter(tags=["reports"])


def _bad(field: str, message: str) -> Problem:
    return Problem(422, "Invalid report parameters", message, errors=[{"field": field, "message": message}])


def resolve_period(period: str | None, from_: str | None, to: str | None) -> Period:
    if period is not None and (from_ is not None or to is not None):
        raise _bad("period", "give either period or from/to, not both")
    if period is not None:
        try:
            return parse_period(period)
        except ValueError as exc:
            raise _bad("period", str(exc)) from None
    if from_ is None or to is None:
        raise _bad("period", "give period=YYYY|YYYY-Qn|YYYY-MM or both from and to (YYYY-MM-DD)")
    days: dict[str, date] = {}
    for name, value in (("from", from_), ("to", to)):
        try:
            days[name] = date.fromisoformat(value)
        except ValueError:
            raise _bad(name, f"{value!r} is not a date (YYYY-MM-DD)") from None
    if days["to"] < days["from"]:
        raise _bad("to", "to is before from")
    return Period.between(days["from"], days["to"])


def subtree(catalog: Catalog, root: str) -> set[str]:
    """`root` and every agency whose chain of `parent_code` reaches it."""
    children: dict[str, list[str]] = {}
    for agency in catalog.agencies.values():
        if agency.parent_code:
            children.setdefault(agency.parent_code, []).append(agency.code)
    found, todo = set(), [root]
    while todo:
        code = todo.pop()
        if code not in found:
            found.add(code)
            todo.extend(children.get(code, ()))
    return found


def _agency_in_period(catalog: Catalog, code: str, period: Period) -> bool:
    agency = catalog.agencies[code]
    return (agency.valid_from is None or agency.valid_from <= period.end) and (
        agency.valid_to is None or period.start <= agency.valid_to
    )


class SnapshotSource(Protocol):
    """Where snapshots come from (`store.ProjectionStore` in the service)."""

    def snapshots_for_period(
        self, start: datetime, end: datetime, agencies: Sequence[str] | None
    ) -> AsyncIterator[tuple[str, bytes]]: ...


class ReportBuilder:
    """Adds up the contributions of the stored snapshots into rows keyed by the grouping."""

    def __init__(self, catalog: Catalog, store: SnapshotSource) -> None:
        self.catalog = catalog
        self.store = store
        self.calendar = catalog.calendar()

    def _key(self, group_by: GroupBy) -> Callable[[str, str, str], str]:
        agencies = self.catalog.agencies
        if group_by == "agency":
            return lambda agency, procedure, field: agency
        if group_by == "level":
            return lambda agency, procedure, field: str(agencies[agency].level) if agency in agencies else ""
        if group_by == "procedure":
            return lambda agency, procedure, field: procedure
        return lambda agency, procedure, field: field

    async def rows(self, period: Period, scope: set[str] | None, group_by: GroupBy) -> dict[str, ReportRow]:
        key = self._key(group_by)
        rows: dict[str, ReportRow] = {}
        if group_by == "agency":
            for code in sorted(scope if scope is not None else self.catalog.agencies):
                if code in self.catalog.agencies and _agency_in_period(self.catalog, code, period):
                    rows[code] = ReportRow()
        count = 0
        snapshots = self.store.snapshots_for_period(period.start_instant, period.end_instant, _list(scope))
        async for field, payload in snapshots:
            dossier = snapshot_to_dossier(decode_snapshot(payload))
            row = contribution(dossier, period, self.calendar)
            if row == ReportRow():
                continue
            k = key(dossier.agency_code, dossier.procedure_code or "", field)
            rows[k] = rows[k] + row if k in rows else row
            count += 1
            if count % 2000 == 0:
                await asyncio.sleep(0)  # let scrapes and the consumer run during a long report
        return rows

    async def build(self, period: Period, agency: str | None, group_by: GroupBy) -> dict[str, Any]:
        scope = subtree(self.catalog, agency) if agency is not None else None
        rows = await self.rows(period, scope, group_by)
        total = ReportRow()
        body_rows = []
        for k in sorted(rows):
            row = rows[k]
            row.check_invariant()
            total = total + row
            body_rows.append({**self._describe(group_by, k), **row.to_dict()})
        total.check_invariant()
        return {
            "period": {"label": period.label, "from": period.start.isoformat(), "to": period.end.isoformat()},
            "pending_judged_at": period.end_instant.isoformat(),
            "agency": agency,
            "group_by": group_by,
            "rows": body_rows,
            "total": total.to_dict(),
        }

    def _describe(self, group_by: GroupBy, key: str) -> dict[str, str]:
        if group_by == "agency":
            agency = self.catalog.agencies.get(key)
            return {"agency": key, "name": agency.name if agency else ""}
        if group_by == "procedure":
            procedure = self.catalog.procedures.get(key)
            return {"procedure": key, "name": procedure.name if procedure else ""}
        return {group_by: key}


def _list(scope: set[str] | None) -> list[str] | None:
    return sorted(scope) if scope is not None else None


def _filename(report: Mapping[str, Any], ext: str) -> str:
    label = str(report["period"]["label"]).replace("..", "_")
    return f"bieu06_{label}_{report['group_by']}.{ext}"


@router.get("/v1/reports/dossiers")
async def dossier_report(
    request: Request,
    period: str | None = Query(default=None, description="YYYY, YYYY-Qn or YYYY-MM (cut-off on the 14th)"),
    from_: str | None = Query(default=None, alias="from", description="first day, YYYY-MM-DD"),
    to: str | None = Query(default=None, description="last day (included), YYYY-MM-DD"),
    agency: str | None = Query(default=None, description="an agency; its sub-agencies are included"),
    group_by: str = Query(default="agency", description="agency | level | procedure | field"),
    format: str = Query(default="json", description="json | csv | xlsx"),
) -> Response:
    chosen = resolve_period(period, from_, to)
    if group_by not in ("agency", "level", "procedure", "field"):
        raise _bad("group_by", "group_by must be one of agency, level, procedure, field")
    if format not in ("json", "csv", "xlsx"):
        raise _bad("format", "format must be one of json, csv, xlsx")
    builder: ReportBuilder = request.app.state.reports
    if agency is not None and agency not in builder.catalog.agencies:
        raise _bad("agency", f"unknown agency {agency!r}")
    try:
        report = await builder.build(chosen, agency, group_by)  # type: ignore[arg-type]
    except ReportInvariantError as exc:
        raise Problem(500, "Report does not add up", str(exc)) from exc
    report["generated_at"] = datetime.now(tz=chosen.start_instant.tzinfo).isoformat()
    if format == "json":
        return JSONResponse(report)
    if format == "csv":
        body, media = to_csv(report), "text/csv; charset=utf-8"
    else:
        body, media = to_xlsx(report), XLSX
    disposition = f'attachment; filename="{_filename(report, format)}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})
