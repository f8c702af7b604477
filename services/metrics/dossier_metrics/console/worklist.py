"""Việc cần xử lý: the overdue and due-soon dossiers of some agencies now, from the projection's
stored facts and snapshots (`open_dossiers`), with the deadline as it stands now and how late (or how
close) in working hours, from the domain's working calendar."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.calendar import CalendarRangeError, WorkingCalendar
from dossier_core.catalog import Catalog
from dossier_core.timeliness import PendingState
from dossier_metrics.console.open_dossiers import (
    LISTED,
    is_due_soon,
    judge_prepared,
    prepared_cache,
    steady_at,
    within_pauses,
)
from dossier_metrics.index import due_soon_horizon
from dossier_metrics.report_form import local_time, text_cell

Kind = Literal["overdue", "due_soon", "all"]
KINDS: dict[str, str] = {"all": "Quá hạn và sắp đến hạn", "overdue": "Quá hạn", "due_soon": "Sắp đến hạn"}
SORTS: dict[str, str] = {
    "due": "Hạn giải quyết",
    "received": "Ngày tiếp nhận",
    "code": "Mã hồ sơ",
    "procedure": "Thủ tục",
    "agency": "Đơn vị",
}
PAUSE_NAMES = {"supplement": "Chờ bổ sung", "fee": "Chờ nghĩa vụ tài chính", "suspension": "Tạm dừng"}
PAUSE_FILTERS = {"all": "Tất cả", "paused": "Đang tạm dừng", "running": "Không tạm dừng"}


@dataclass(frozen=True)
class WorkItem:
    dossier_code: str
    agency_code: str
    procedure_code: str
    received_at: datetime
    legal_due_at: datetime | None
    due: datetime | None
    overdue: bool
    pause: str | None = None  # the kind of the pause open now
    appointment_at: datetime | None = None

    def working_hours(self, now: datetime, calendar: WorkingCalendar) -> float | None:
        """Working hours past the deadline (negative: still to run), or None without one."""
        if self.due is None:
            return None
        try:
            return calendar.working_minutes_between(self.due, now) / 60
        except CalendarRangeError:
            return None


def _item(r: Any, due: datetime | None, now: datetime) -> WorkItem:
    return WorkItem(
        r["dossier_code"],
        r["agency_code"],
        r["procedure_code"],
        r["received_at"],
        r["legal_due_at"],
        due,
        due is not None and due < now,
    )


async def _judged_by_the_domain(
    driver: Any,
    engine: AsyncEngine,
    calendar: WorkingCalendar,
    listed: list[str] | None,
    now: datetime,
    horizon: float,
    overdue: bool,
    soon: bool,
) -> list[WorkItem]:
    """The listed dossiers among those within their pauses now (the domain judges them)."""
    items = []
    cache = prepared_cache(engine)
    for r, prepared in await within_pauses(driver, cache, calendar, listed, now):
        if prepared is None or steady_at(prepared, now):  # in time and paused: not listed
            continue
        judgement = judge_prepared(prepared, now, calendar)
        late = judgement.state is PendingState.OVERDUE
        if not ((overdue and late) or (soon and is_due_soon(judgement, horizon))):
            continue
        open_pause = next((p for p in judgement.dossier.pauses if p.is_active_at(now)), None)
        items.append(
            replace(
                _item(r, judgement.due, now),
                overdue=late,
                pause=str(open_pause.kind) if open_pause else None,
                appointment_at=judgement.dossier.appointment_at,
            )
        )
    return items


async def read_worklist(
    engine: AsyncEngine,
    calendar: WorkingCalendar,
    agencies: Sequence[str] | None,
    now: datetime,
    kind: Kind = "all",
) -> list[WorkItem]:
    """Every overdue and/or due-soon dossier of `agencies` (None: all) now, in no order."""
    horizon = due_soon_horizon(now, calendar)
    overdue, soon = kind in ("overdue", "all"), kind in ("due_soon", "all")
    listed = sorted(agencies) if agencies is not None else None
    async with engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        async with driver.transaction(isolation="repeatable_read", readonly=True):
            horizon_at = datetime.fromtimestamp(horizon, now.tzinfo)
            items = [
                _item(r, r["due"], now)
                for r in await driver.fetch(LISTED, now, listed, horizon_at, overdue, soon)
            ]
            items += await _judged_by_the_domain(
                driver, engine, calendar, listed, now, horizon, overdue, soon
            )
    return items


@dataclass(frozen=True)
class WorklistPage:
    """One page of a worklist: its rows, how many rows the filters keep, the overdue and due-soon
    dossiers of the chosen kind before the filters, and the procedures among them."""

    rows: list[WorkItem]
    count: int
    overdue: int
    due_soon: int
    procedures: list[str]


#: `ordered`'s order in SQL over `LISTED`'s rows (text in code-point order, as Python compares it).
_ORDER = {
    "due": ["(due IS NULL)", "due", 'dossier_code COLLATE "C"'],
    "received": ["received_at", 'dossier_code COLLATE "C"'],
    "code": ['dossier_code COLLATE "C"'],
    "procedure": ['procedure_code COLLATE "C"', 'dossier_code COLLATE "C"'],
    "agency": ['agency_code COLLATE "C"', 'dossier_code COLLATE "C"'],
}
# $1 now, $2 agencies, $3 the due-soon horizon, $4 list the overdue, $5 list the due soon,
# $6 the procedure (NULL: every one).
_SUMMARY = f"""WITH listed AS ({LISTED})
SELECT count(*) FILTER (WHERE due < $1) AS overdue, count(*) FILTER (WHERE NOT due < $1) AS due_soon,
    count(*) FILTER (WHERE $6::text IS NULL OR procedure_code = $6::text) AS kept,
    array_agg(DISTINCT procedure_code) AS procedures
FROM listed"""


def _first_rows(sort: str, descending: bool) -> str:
    """`LISTED`'s rows of the procedure $6 (or every one) in `ordered`'s order, the first $7."""
    order = ", ".join(f"{key} DESC" if descending else key for key in _ORDER[sort])
    return f"""WITH listed AS ({LISTED})
SELECT * FROM listed WHERE $6::text IS NULL OR procedure_code = $6::text ORDER BY {order} LIMIT $7"""


async def read_worklist_page(
    engine: AsyncEngine,
    calendar: WorkingCalendar,
    agencies: Sequence[str] | None,
    now: datetime,
    kind: Kind,
    procedure: str | None,
    pause: str,
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
) -> WorklistPage:
    """`ordered(filtered(read_worklist(…)))[offset:offset + limit]` with its counts, without reading
    every listed dossier: PostgreSQL counts the dossiers its facts judge and returns only the first
    `offset + limit` of them in the page's order; the few the domain judges are merged in."""
    horizon = due_soon_horizon(now, calendar)
    overdue, soon = kind in ("overdue", "all"), kind in ("due_soon", "all")
    listed = sorted(agencies) if agencies is not None else None
    async with engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        async with driver.transaction(isolation="repeatable_read", readonly=True):
            args = [now, listed, datetime.fromtimestamp(horizon, now.tzinfo), overdue, soon, procedure]
            summary = await driver.fetchrow(_SUMMARY, *args)
            first: list[WorkItem] = []
            if pause != "paused":  # the facts judge only dossiers outside their pauses
                records = await driver.fetch(_first_rows(sort, descending), *args, offset + limit)
                first = [_item(r, r["due"], now) for r in records]
            judged = await _judged_by_the_domain(
                driver, engine, calendar, listed, now, horizon, overdue, soon
            )
    kept = filtered(judged, procedure, pause)
    merged = ordered(first + kept, sort, descending)[offset : offset + limit]
    return WorklistPage(
        rows=merged,
        count=(summary["kept"] if pause != "paused" else 0) + len(kept),
        overdue=summary["overdue"] + sum(1 for i in judged if i.overdue),
        due_soon=summary["due_soon"] + sum(1 for i in judged if not i.overdue),
        procedures=sorted(set(summary["procedures"] or ()) | {i.procedure_code for i in judged}),
    )


def filtered(items: list[WorkItem], procedure: str | None, pause: str) -> list[WorkItem]:
    if procedure:
        items = [i for i in items if i.procedure_code == procedure]
    if pause == "paused":
        items = [i for i in items if i.pause is not None]
    elif pause == "running":
        items = [i for i in items if i.pause is None]
    return items


def ordered(items: list[WorkItem], sort: str, descending: bool) -> list[WorkItem]:
    """Sorted by `sort` (`SORTS`), ties by dossier code; by deadline the most overdue come first."""

    def key(item: WorkItem) -> tuple[Any, ...]:
        if sort == "received":
            return (item.received_at, item.dossier_code)
        if sort == "code":
            return (item.dossier_code, "")
        if sort == "procedure":
            return (item.procedure_code, item.dossier_code)
        if sort == "agency":
            return (item.agency_code, item.dossier_code)
        # by the instant (the facts' deadlines come in UTC, the domain's in Vietnam time); none last
        return (0, item.due, item.dossier_code) if item.due is not None else (1, item.dossier_code)

    return sorted(items, key=key, reverse=descending)


async def with_details(engine: AsyncEngine, items: Sequence[WorkItem]) -> list[WorkItem]:
    """`items` with their appointment and open pause, from their stored snapshots."""
    missing = [i.dossier_code for i in items if i.pause is None and i.appointment_at is None]
    if not missing:
        return list(items)
    async with engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        rows = await driver.fetch(
            "SELECT dossier_code, payload FROM dossier_snapshot WHERE dossier_code = ANY($1::text[])", missing
        )
    found = {code: snapshot_to_dossier(decode_snapshot(payload)) for code, payload in rows}
    out = []
    for item in items:
        dossier = found.get(item.dossier_code)
        out.append(replace(item, appointment_at=dossier.appointment_at) if dossier is not None else item)
    return out


CSV_HEADINGS = (
    "Mã hồ sơ",
    "Mã đơn vị",
    "Tên đơn vị",
    "Mã TTHC",
    "Tên thủ tục hành chính",
    "Tiếp nhận lúc",
    "Hạn giải quyết theo quy định",
    "Hạn giải quyết hiện tại",
    "Tình trạng",
    "Số giờ làm việc quá hạn (âm: còn lại)",
    "Tạm dừng",
    "Ngày hẹn trả",
)


def _when(value: datetime | None) -> str:
    return local_time(value.isoformat()) if value is not None else ""


def to_csv(items: Sequence[WorkItem], catalog: Catalog, now: datetime, calendar: WorkingCalendar) -> bytes:
    """UTF-8 with a byte-order mark, text cells that no spreadsheet reads as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADINGS)
    for item in items:
        agency = catalog.agencies.get(item.agency_code)
        procedure = catalog.procedures.get(item.procedure_code)
        hours = item.working_hours(now, calendar)
        texts = [
            item.dossier_code,
            item.agency_code,
            agency.name if agency else "",
            item.procedure_code,
            procedure.name if procedure else "",
            _when(item.received_at),
            _when(item.legal_due_at),
            _when(item.due),
            "Quá hạn" if item.overdue else "Sắp đến hạn",
        ]
        writer.writerow(
            [
                *(text_cell(t) for t in texts),
                f"{hours:.1f}" if hours is not None else "",
                PAUSE_NAMES.get(item.pause or "", ""),
                _when(item.appointment_at),
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
