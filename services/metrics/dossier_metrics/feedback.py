"""Citizen feedback (phản ánh, kiến nghị) in the metrics service: the latest state of each item read
from `feedback.status.v1` into `feedback` (a newer version replaces an older one, never the reverse),
the live series of `/metrics` and the report's feedback section (`GET /v1/reports/feedback`).

Every instance reads the topic in one consumer group and writes the same table, so every instance
exposes the same whole figures: the series are gauges of the province's current state, and a query
over several instances takes `max by (agency)` (docs/metrics.md, "Citizen feedback")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dossier_contracts.feedback_codec import FeedbackSnapshot, decode_feedback_status
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.feedback import SUMMARY_FIGURES, FeedbackStage, FeedbackState, feedback_figures
from dossier_core.periods import Period
from dossier_metrics.auth import Reader, forbidden
from dossier_metrics.openapi import problems
from dossier_metrics.report_params import PERIOD_PATTERN, FromDay, ToDay, invalid, resolve_period
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.state import metrics_state
from dossier_metrics.topic_table import follow_topic
from dossier_runtime.api_keys import ApiKey

log = logging.getLogger(__name__)
router = APIRouter(tags=["reports"])

_COLUMNS = (
    "feedback_code",
    "agency_code",
    "stage",
    "received_at",
    "assigned_at",
    "answered_at",
    "published_at",
    "withdrawn_at",
    "due_at",
)
_UPSERT = text(
    f"""
    insert into feedback ({", ".join(_COLUMNS)}, version)
    values ({", ".join(":" + c for c in _COLUMNS)}, :version)
    on conflict (feedback_code) do update set
        {", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])}, version = excluded.version
    where feedback.version < excluded.version
    """
)
_LIVE = text(
    """
    select agency_code, stage, count(*) as items,
           count(*) filter (where stage in ('received', 'assigned') and due_at < :now) as overdue
    from feedback group by agency_code, stage order by agency_code, stage
    """
)
_RECEIVED_IN = text(
    f"select {', '.join(_COLUMNS)} from feedback where received_at >= :start and received_at < :end"
)


async def store_snapshots(engine: AsyncEngine, snapshots: Iterable[FeedbackSnapshot]) -> None:
    """Keep the newest version of each item."""
    rows = [
        {**{c: getattr(s.state, c) for c in _COLUMNS if c != "stage"}, "stage": s.state.stage.value}
        | {"version": s.version}
        for s in snapshots
    ]
    if rows:
        async with engine.begin() as conn:
            await conn.execute(_UPSERT, rows)


class FeedbackConsumer:
    """Reads `feedback.status.v1` (group `METRICS_FEEDBACK_CONSUMER_GROUP`) into `feedback`; the
    offsets are committed once the rows are stored. A record that is not a status is skipped."""

    def __init__(self, settings: MetricsSettings, engine: AsyncEngine) -> None:
        self.settings, self.engine = settings, engine

    async def run_forever(self) -> None:
        s = self.settings

        async def store(records: Sequence[Any]) -> None:
            await store_snapshots(self.engine, _decoded(records))

        await follow_topic(s, s.feedback_status_topic, s.feedback_consumer_group, store, "feedback")


def _decoded(records: Iterable[Any]) -> list[FeedbackSnapshot]:
    out = []
    for record in records:
        try:
            out.append(decode_feedback_status(record.value))
        except Exception as exc:
            log.warning("feedback status skipped", extra={"offset": record.offset, "error": repr(exc)})
    return out


async def live_text(engine: AsyncEngine, now: datetime, agencies: Iterable[str] = ()) -> bytes:
    """`dossier_feedback{agency,stage}` and `dossier_feedback_overdue{agency}` at `now`. The overdue
    gauge has a (zero) sample for each of `agencies` (the catalog's), as the dossier series do, so the
    alert on it and the dashboard find the series before any item is late."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_LIVE, {"now": now})).all()
    by_agency: dict[str, dict[str, int]] = {}
    overdue: dict[str, int] = dict.fromkeys(agencies, 0)
    for agency, stage, items, late in rows:
        by_agency.setdefault(agency, dict.fromkeys(FeedbackStage, 0))[stage] = items
        overdue[agency] = overdue.get(agency, 0) + late
    lines = [
        "# HELP dossier_feedback Citizen feedback items (phản ánh, kiến nghị) by stage, now.",
        "# TYPE dossier_feedback gauge",
    ]
    for agency, stages in by_agency.items():
        for stage, count in stages.items():
            lines.append(f'dossier_feedback{{agency="{_label(agency)}",stage="{stage}"}} {count}')
    lines += [
        "# HELP dossier_feedback_overdue Open citizen feedback items past their handling deadline, now.",
        "# TYPE dossier_feedback_overdue gauge",
    ]
    lines += [f'dossier_feedback_overdue{{agency="{_label(a)}"}} {n}' for a, n in overdue.items()]
    return ("\n".join(lines) + "\n").encode()


async def live_text_or_none(
    engine: AsyncEngine, now: datetime, agencies: Iterable[str] = (), timeout_s: float = 2.0
) -> bytes:
    """`live_text`, or nothing when the database does not answer in time (the rest of `/metrics`
    is still served; the feedback series are then absent, not zero)."""
    try:
        return await asyncio.wait_for(live_text(engine, now, agencies), timeout_s)
    except Exception as exc:
        log.warning("feedback series left out", extra={"error": repr(exc)})
        return b""


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


async def received_in(engine: AsyncEngine, start: datetime, end: datetime) -> list[FeedbackState]:
    async with engine.connect() as conn:
        rows = (await conn.execute(_RECEIVED_IN, {"start": start, "end": end})).mappings().all()
    return [FeedbackState(**{**row, "stage": FeedbackStage(row["stage"])}) for row in rows]


def feedback_section(states: Iterable[FeedbackState], start: datetime, end: datetime) -> dict[str, Any]:
    """The section: the figures per agency (sorted by code) and their total."""
    by_agency: dict[str, list[FeedbackState]] = {}
    for state in states:
        by_agency.setdefault(state.agency_code, []).append(state)
    rows: list[dict[str, Any]] = [
        {"agency": code, **feedback_figures(by_agency[code], start, end)} for code in sorted(by_agency)
    ]
    total = {name: sum(int(row[name]) for row in rows) for name in SUMMARY_FIGURES}
    return {"rows": rows, "total": total}


@router.get(
    "/v1/reports/feedback",
    summary="The feedback section (phản ánh, kiến nghị) of a period's report",
    responses={**problems(401, 403, 422, 503)},
)
async def feedback_report(
    request: Request,
    key: Reader,
    period: Annotated[
        str | None,
        Query(
            description="YYYY, YYYY-H1, YYYY-Qn or YYYY-MM (reporting periods); or from and to",
            json_schema_extra={"pattern": PERIOD_PATTERN},
        ),
    ] = None,
    from_: FromDay = None,
    to: ToDay = None,
    agency: Annotated[str | None, Query(description="one agency the key allows")] = None,
) -> JSONResponse:
    """Items received in the period (a named one, or the days from…to), by agency: received, in
    progress, answered, published, withdrawn, overdue and answered late, as they stood at the period's
    end (or now, if it has not ended)."""
    chosen = resolve_period(period, from_, to)
    if agency is not None and not key.allows(agency):
        raise forbidden(agency)
    state = metrics_state(request)
    if agency is not None and agency not in state.catalog.agencies:
        raise invalid("agency", f"unknown agency {agency!r}")
    async with state.report_gate.guard(state.settings.report_statement_timeout_ms):
        section = await period_feedback(state.projection.engine, state.catalog, chosen, agency, key)
    return JSONResponse(section)


async def period_feedback(
    engine: AsyncEngine, catalog: Catalog, chosen: Period, agency: str | None, key: ApiKey
) -> dict[str, Any]:
    """The feedback section of `chosen` for `key` (`agency`: that agency's items only), as the report
    API answers it; the quarter's workbook and summary read the same (`ReportBuilder.feedback`)."""
    now = datetime.now(VN_TZ)
    start, end = chosen.start_instant, min(chosen.end_instant, now)
    items = [
        s
        for s in await received_in(engine, start, chosen.end_instant)
        if (s.agency_code == agency if agency is not None else key.allows(s.agency_code))
    ]
    section = feedback_section(items, start, end)
    names = {code: a.name for code, a in catalog.agencies.items()}
    for row in section["rows"]:
        row["name"] = names.get(row["agency"], "")
    return {
        "period": chosen.label,
        "as_of": end.isoformat(),
        "agency": agency,
        "figures": list(SUMMARY_FIGURES),
    } | section
