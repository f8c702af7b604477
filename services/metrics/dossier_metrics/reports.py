"""`GET /v1/reports/dossiers`: the Biểu 06 report for a period, from the stored snapshots.

Each dossier's contribution to a period comes from the domain (`dossier_core.report.contribution`:
carried over, new by channel, resolved by timeliness, pending judged at the end of the period's last
day with the deadline as it stood then); this module only selects, groups and adds up rows.
`agency=CODE` selects that agency and every agency below it through `parent_code`; `group_by=level`
puts each dossier under its receiving agency's level. A reader key sees only the agencies its
patterns allow. Ranges are bounded (2000-01-01 … 2099-12-31, at most 400 days: `report_params.py`); at most
`METRICS_REPORT_CONCURRENCY` reports run at once, each on the readers' own connection pool with a
statement timeout; a refused or timed-out report is a 503 problem with `Retry-After`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from dossier_contracts.portal_sync import AgencySyncRecord
from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.contract_bounds import FIRST_DAY, LAST_DAY
from dossier_core.indicators import IndicatorCounts
from dossier_core.periods import FILING_DELAY, Period
from dossier_core.report import ReportInvariantError, ReportRow, contribution
from dossier_metrics import indicators as indicator_api
from dossier_metrics import summary as summary_api
from dossier_metrics.auth import Reader, allows_everything, forbidden, visibility
from dossier_metrics.catalogue import catalogue_section
from dossier_metrics.indicators import indicator_section
from dossier_metrics.openapi import problems
from dossier_metrics.report_form import to_csv, to_xlsx
from dossier_metrics.report_gate import DATABASE_ERRORS, ReportGate
from dossier_metrics.report_params import (
    DAY_PATTERN,
    FORMATS,
    GROUPS,
    INSTANT_PATTERN,
    MAX_SPAN_DAYS,
    PERIOD_PATTERN,
    GroupBy,
    ScopedAgency,
    choose,
    invalid,
    resolve_instant,
    resolve_period,
)
from dossier_metrics.report_store import FactHistoryRow, Filing, Grain, GrainPart, GrainRows
from dossier_metrics.report_structure import STRUCTURES, Structure, TodaysStructure
from dossier_metrics.revisions import MAX_DOSSIERS, changed_grains, dossier_changes, grouped, row_changes
from dossier_metrics.schemas import Report
from dossier_metrics.state import metrics_state
from dossier_runtime.api_keys import ApiKey
from dossier_runtime.problems import Problem

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

router = APIRouter(tags=["reports"])
# The quarter's other sections answer beside the form: the Decision 766/QĐ-TTg indicators and the
# Vietnamese summary.
router.include_router(indicator_api.router)
router.include_router(summary_api.router)


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


class ReportSource(Protocol):
    """Where reports read (`report_store.ReportStore` on the readers' engine in the service)."""

    async def grain_rows(
        self,
        period: Period,
        agencies: Sequence[str] | None,
        known_at: datetime | None = None,
        by: GrainPart = "grain",
    ) -> GrainRows: ...

    async def filing(self, period: str) -> Filing | None: ...

    async def filed_rows(self, period: str, agencies: Sequence[str] | None) -> GrainRows: ...

    async def recorded_since(
        self, since: datetime, grains: Sequence[Grain], limit: int
    ) -> tuple[list[FactHistoryRow], bool]: ...

    async def counted_agencies(self) -> set[str]: ...

    async def indicator_rows(
        self, period: Period, agencies: Sequence[str] | None
    ) -> dict[str, IndicatorCounts]: ...

    async def sync_records(self, agencies: Sequence[str] | None) -> dict[str, AgencySyncRecord]: ...

    def snapshots_for_period(
        self, start: datetime, end: datetime, agencies: Sequence[str] | None
    ) -> AsyncIterator[tuple[str, bytes]]: ...


#: A period's citizen feedback (PAKN) section for a key: (period, agency, key) → the section.
FeedbackReader = Callable[[Period, str | None, ApiKey], Awaitable[dict[str, Any]]]

#: The part of the grain each grouping reads (a filed report's revisions compare whole grains).
_PART: dict[GroupBy, GrainPart] = {
    "agency": "agency",
    "level": "agency",
    "procedure": "procedure",
    "field": "field",
    "field_level": "agency_field",
}
#: Between a field and a level in the key of a `field_level` row.
_SPLIT = "\x1f"


def _named(period: Period) -> bool:
    return ".." not in period.label


class ReportBuilder:
    """Builds a report from the rows per grain (agency, procedure, field) the source adds up: live,
    as known at an instant, or as filed with its revisions. `build_exact` is the per-dossier domain
    path the fast one is tested against (and the benchmark's baseline)."""

    def __init__(
        self,
        catalog: Catalog,
        store: ReportSource,
        filing_delay: timedelta = FILING_DELAY,
        feedback: FeedbackReader | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.calendar = catalog.calendar()
        self.filing_delay = filing_delay
        #: reads a period's citizen feedback section (`feedback.period_feedback`); None: no section
        self.feedback = feedback
        self._subtrees: dict[str, frozenset[str]] = {}
        #: the day whose structure `structure="current"` gives (successions in effect by then)
        self.today: Callable[[], date] = lambda: datetime.now(VN_TZ).date()

    def todays(self, structure: Structure) -> TodaysStructure | None:
        """Today's structure for a `current` report (None: the period's own)."""
        return TodaysStructure(self.catalog, self.today()) if structure == "current" else None

    def _grouping(self, group_by: GroupBy, todays: TodaysStructure | None) -> Callable[[Grain], str]:
        key = self._key(group_by)
        return key if todays is None else todays.regroup(key)

    def _key(self, group_by: GroupBy) -> Callable[[Grain], str]:
        agencies = self.catalog.agencies
        if group_by == "agency":
            return lambda grain: grain[0]
        if group_by == "level":
            return lambda grain: str(agencies[grain[0]].level) if grain[0] in agencies else ""
        if group_by == "procedure":
            return lambda grain: grain[1]
        if group_by == "field_level":
            return lambda grain: (
                grain[2] + _SPLIT + (str(agencies[grain[0]].level) if grain[0] in agencies else "")
            )
        return lambda grain: grain[2]

    async def scope(
        self, agency: str | None, key: ApiKey | None, todays: TodaysStructure | None = None
    ) -> set[str] | None:
        """The agencies whose dossiers count (None: all of them); `agency` in today's structure when
        `todays` is given."""
        if agency is not None and todays is not None:
            below = todays.below(agency)
            return below if key is None else {code for code in below if key.allows(code)}
        if agency is not None:
            found = self._subtrees.get(agency)
            if found is None:  # the catalog is fixed for the builder's life: each tree is walked once
                found = self._subtrees[agency] = frozenset(subtree(self.catalog, agency))
            return set(found) if key is None else {code for code in found if key.allows(code)}
        if key is None or allows_everything(key):
            return None
        known = set(self.catalog.agencies) | await self.store.counted_agencies()
        return {code for code in known if key.allows(code)}

    def zero_rows(self, period: Period, scope: set[str] | None, group_by: GroupBy) -> dict[str, ReportRow]:
        """An empty row per catalog agency of `scope` valid in the period (by agency only)."""
        return self._zero_rows(period, scope, group_by)

    def _zero_rows(
        self, period: Period, scope: set[str] | None, group_by: GroupBy, todays: TodaysStructure | None = None
    ) -> dict[str, ReportRow]:
        if group_by != "agency":
            return {}
        codes = sorted(scope if scope is not None else self.catalog.agencies)
        rows = {
            code: ReportRow()
            for code in codes
            if code in self.catalog.agencies and _agency_in_period(self.catalog, code, period)
        }
        return rows if todays is None else {code: ReportRow() for code in todays.carriers(rows)}

    async def build(
        self,
        period: Period,
        agency: str | None,
        group_by: GroupBy,
        key: ApiKey | None = None,
        *,
        as_of: datetime | None = None,
        live: bool = False,
        structure: Structure = "period",
    ) -> dict[str, Any]:
        """The report: as known at `as_of` if given; else a filed period as filed (with its
        revisions) unless `live`; else today's figures. `structure`: the period's organisation, or
        today's (`report_structure`)."""
        todays = self.todays(structure)
        scope = await self.scope(agency, key, todays)
        agencies = _list(scope)
        filing = await self.store.filing(period.label) if _named(period) else None
        revisions = None
        if as_of is not None:
            view, grains = "as_of", await self.store.grain_rows(period, agencies, as_of, _PART[group_by])
        elif filing is not None and not live:
            view, grains = "filed", await self.store.filed_rows(period.label, agencies)
            revisions = await self._revisions(period, filing, grains, agencies, group_by, todays)
        else:
            view, grains = "live", await self.store.grain_rows(period, agencies, None, _PART[group_by])
        rows = self._zero_rows(period, scope, group_by, todays)
        rows.update(grouped(grains, self._grouping(group_by, todays)))
        report = self._report(period, agency, group_by, rows)
        known_at = as_of if as_of is not None else filing.filed_at if view == "filed" and filing else None
        report.update(
            view=view,
            as_of=known_at.isoformat() if known_at is not None else None,
            filing=_filing(filing),
            revisions=revisions,
        )
        self._structured(report, period, scope, todays, (grain[0] for grain in grains))
        return report

    def _structured(
        self,
        report: dict[str, Any],
        period: Period,
        scope: set[str] | None,
        todays: TodaysStructure | None,
        counted: Iterable[str],
    ) -> None:
        """The report's `structure`, and in today's the agencies whose rows were added into another."""
        report["structure"] = "period" if todays is None else "current"
        if todays is not None:
            codes = set(self._zero_rows(period, scope, "agency")) | set(counted)
            report["successions"] = todays.moved(codes)

    async def _revisions(
        self,
        period: Period,
        filing: Filing,
        filed: GrainRows,
        agencies: list[str] | None,
        group_by: GroupBy,
        todays: TodaysStructure | None = None,
    ) -> dict[str, Any]:
        live = await self.store.grain_rows(period, agencies)
        key = self._grouping(group_by, todays)
        rows, total = row_changes(filed, live, key, lambda k: self._describe(group_by, k))
        history, more = await self.store.recorded_since(
            filing.filed_at, changed_grains(filed, live), MAX_DOSSIERS
        )
        return {
            "since": filing.filed_at.isoformat(),
            "rows": rows,
            "total": total,
            "dossiers": dossier_changes(history, filing.filed_at, period, self.calendar),
            "dossiers_truncated": more,
        }

    async def build_exact(
        self,
        period: Period,
        agency: str | None,
        group_by: GroupBy,
        key: ApiKey | None = None,
        structure: Structure = "period",
    ) -> dict[str, Any]:
        """Today's report by the domain, dossier by dossier, from every stored snapshot."""
        todays = self.todays(structure)
        scope = await self.scope(agency, key, todays)
        allows = visibility(key) if key is not None else None
        group = self._grouping(group_by, todays)
        rows = self._zero_rows(period, scope, group_by, todays)
        counted: set[str] = set()
        count = 0
        snapshots = self.store.snapshots_for_period(period.start_instant, period.end_instant, _list(scope))
        async with aclosing(snapshots):  # type: ignore[type-var]
            async for field, payload in snapshots:
                dossier = snapshot_to_dossier(decode_snapshot(payload))
                if allows is not None and not allows(dossier.agency_code):
                    continue
                row = contribution(dossier, period, self.calendar)
                if row == ReportRow():
                    continue
                k = group((dossier.agency_code, dossier.procedure_code or "", field))
                rows[k] = rows[k] + row if k in rows else row
                counted.add(dossier.agency_code)
                count += 1
                if count % 2000 == 0:
                    await asyncio.sleep(0)  # let scrapes and the consumer run during a long report
        report = self._report(period, agency, group_by, rows)
        report.update(view="live", as_of=None, filing=None, revisions=None)
        self._structured(report, period, scope, todays, counted)
        return report

    def _report(
        self, period: Period, agency: str | None, group_by: GroupBy, rows: dict[str, ReportRow]
    ) -> dict[str, Any]:
        total = ReportRow()
        body_rows = []
        for k in sorted(rows):
            row = rows[k]
            row.check_invariant()
            total = total + row
            body_rows.append({**self._describe(group_by, k), **_counts(row)})
        total.check_invariant()
        return {
            "period": {"label": period.label, "from": period.start.isoformat(), "to": period.end.isoformat()},
            "pending_judged_at": period.end_instant.isoformat(),
            "agency": agency,
            "group_by": group_by,
            "rows": body_rows,
            "total": _counts(total),
        }

    def _describe(self, group_by: GroupBy, key: str) -> dict[str, str]:
        if group_by == "agency":
            agency = self.catalog.agencies.get(key)
            return {"agency": key, "name": agency.name if agency else ""}
        if group_by == "procedure":
            procedure = self.catalog.procedures.get(key)
            return {"procedure": key, "name": procedure.name if procedure else ""}
        if group_by == "field_level":
            field, _, level = key.partition(_SPLIT)
            return {"field": field, "level": level}
        return {group_by: key}


def _counts(row: ReportRow) -> dict[str, Any]:
    """A row's figures: the SPEC §5 row with the "4 tại chỗ" count, and its rate."""
    return {**row.to_dict(), "on_site_rate": row.on_site_rate}


def _filing(filing: Filing | None) -> dict[str, str] | None:
    if filing is None:
        return None
    return {"filed_at": filing.filed_at.isoformat(), "deadline": filing.deadline.isoformat()}


def _list(scope: set[str] | None) -> list[str] | None:
    return sorted(scope) if scope is not None else None


def _filename(report: Mapping[str, Any], ext: str) -> str:
    label = str(report["period"]["label"]).replace("..", "_")
    today = "_current" if report.get("structure") == "current" else ""
    return f"bieu06_{label}_{report['group_by']}{today}.{ext}"


def _database_problem(exc: BaseException, request: Request, gate: ReportGate) -> Problem:
    return gate.database_problem(exc, metrics_state(request).settings.report_statement_timeout_ms)


_REPORT_CONTENT = {
    "text/csv": {"schema": {"type": "string"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}},
}


@router.get(
    "/v1/reports/dossiers",
    response_model=None,
    responses={
        200: {"model": Report, "description": "The report (JSON, CSV or XLSX)", "content": _REPORT_CONTENT},
        **problems(401, 403, 422, 500, 503),
    },
)
async def dossier_report(
    request: Request,
    key: Reader,
    period: Annotated[
        str | None,
        Query(
            description="YYYY, YYYY-H1 (the first six months), YYYY-Qn or YYYY-MM (cut-off on the 14th), "
            "a year from 2000 to 2099; give either period or both from and to",
            json_schema_extra={"pattern": PERIOD_PATTERN},
        ),
    ] = None,
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            description=f"first day, YYYY-MM-DD, from {FIRST_DAY}; with to, at most {MAX_SPAN_DAYS} days "
            "before it",
            json_schema_extra={"format": "date", "pattern": DAY_PATTERN},
        ),
    ] = None,
    to: Annotated[
        str | None,
        Query(
            description=f"last day (included), YYYY-MM-DD, up to {LAST_DAY}; not before from",
            json_schema_extra={"format": "date", "pattern": DAY_PATTERN},
        ),
    ] = None,
    agency: ScopedAgency = None,
    group_by: Annotated[
        str, Query(description="row key", json_schema_extra={"enum": list(GROUPS)})
    ] = "agency",
    format: Annotated[
        str, Query(description="answer format", json_schema_extra={"enum": list(FORMATS)})
    ] = "json",
    as_of: Annotated[
        str | None,
        Query(
            description="an instant (RFC 3339 with its offset, e.g. 2021-06-18T00:00:00+07:00): the report "
            "as the system knew it then, counting only the events recorded by then; not with live",
            json_schema_extra={"format": "date-time", "pattern": INSTANT_PATTERN},
        ),
    ] = None,
    live: Annotated[
        bool,
        Query(
            description="today's figures even for a filed period (by default a filed period is served "
            "as filed, with its revisions)"
        ),
    ] = False,
    structure: Annotated[
        str,
        Query(
            description="period: each dossier under the agency that received it, in the period's "
            "organisation; current: today's organisation, an old agency's rows added into the agency "
            "that succeeded it (agency_successions.csv; chains followed, mergers added up)",
            json_schema_extra={"enum": list(STRUCTURES)},
        ),
    ] = "period",
) -> Response:
    """Biểu 06 for a named period or for from…to, limited to the agencies the key allows."""
    return await report_response(
        request,
        key,
        period=period,
        from_=from_,
        to=to,
        agency=agency,
        group_by=group_by,
        format=format,
        as_of=as_of,
        live=live,
        structure=structure,
    )


async def report_response(
    request: Request,
    key: ApiKey,
    *,
    period: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    agency: str | None = None,
    group_by: str = "agency",
    format: str = "json",
    as_of: str | None = None,
    live: bool = False,
    structure: str = "period",
) -> Response:
    """The report API's answer for `key` (the console's downloads are this same answer); a 4xx or 503
    is raised as a `Problem`."""
    chosen = resolve_period(period, from_, to)
    known_at = resolve_instant(as_of, live)
    grouping: GroupBy = choose(group_by, GROUPS, "group_by")  # type: ignore[assignment]
    kind = choose(format, FORMATS, "format")
    shape: Structure = choose(structure, STRUCTURES, "structure")  # type: ignore[assignment]
    state = metrics_state(request)
    builder = state.reports
    if agency is not None:
        if not key.allows(agency):
            raise forbidden(agency)
        if agency not in builder.catalog.agencies:
            raise invalid("agency", f"unknown agency {agency!r}")
        todays = builder.todays(shape)
        successor = todays.succeeded_by(agency) if todays is not None else None
        if successor is not None:
            raise invalid(
                "agency",
                f"agency {agency!r} is not in today's structure: {successor!r} carries it; ask for "
                f"{successor!r}, or for {agency!r} with structure=period",
            )
    gate = state.report_gate
    async with gate.slot():
        try:
            report = await builder.build(
                chosen, agency, grouping, key, as_of=known_at, live=live, structure=shape
            )
            on_site = None
            if kind == "xlsx":  # the quarter's workbook: "4 tại chỗ" by field and level beside the form
                on_site = report
                if grouping != "field_level":
                    on_site = await builder.build(
                        chosen, agency, "field_level", key, as_of=known_at, live=live, structure=shape
                    )
        except ReportInvariantError as exc:
            raise Problem(500, "Report does not add up", str(exc)) from exc
        except DATABASE_ERRORS as exc:
            raise _database_problem(exc, request, gate) from exc
        report["generated_at"] = datetime.now(tz=chosen.start_instant.tzinfo).isoformat()
        if kind == "json":
            return JSONResponse(report)
        if kind == "csv":
            body, media = to_csv(report), "text/csv; charset=utf-8"
        else:
            tree = await builder.scope(agency, None) if agency is not None else None
            catalogue = catalogue_section(builder.catalog, agency, key, tree)
            indicators = await indicator_section(builder, chosen, agency, key)
            feedback = await builder.feedback(chosen, agency, key) if builder.feedback else None
            body, media = (
                to_xlsx(
                    report, on_site=on_site, catalogue=catalogue, indicators=indicators, feedback=feedback
                ),
                XLSX,
            )
    disposition = f'attachment; filename="{_filename(report, kind)}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})
