"""`GET /v1/stats/live?agency=CODE`: the Prometheus series of this instance, as JSON, limited to the
agencies the reader key allows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from dossier_metrics.auth import Reader, forbidden, visible_codes
from dossier_metrics.collector import STATES
from dossier_metrics.counters import CHANNELS, TIMELINESS, Counts
from dossier_metrics.openapi import problems
from dossier_metrics.schemas import LiveStats
from dossier_metrics.state import metrics_state
from dossier_runtime.problems import Problem

router = APIRouter(tags=["stats"])


def agency_stats(code: str, counters: Counts, gauges: list[int]) -> dict[str, Any]:
    received = dict(zip(CHANNELS, counters[:3], strict=True))
    resolved = dict(zip(TIMELINESS, counters[3:6], strict=True))
    return {
        "agency": code,
        "received": {"total": sum(received.values()), **received},
        "resolved": {"total": sum(resolved.values()), **resolved},
        "withdrawn": counters[6],
        "refused": counters[7],
        "rescheduled": counters[8],
        "received_on_site": counters[9],
        "pending": {"total": gauges[0] + gauges[1], **dict(zip(STATES, gauges[:3], strict=True))},
        "due_soon": gauges[3],
    }


@router.get("/v1/stats/live", response_model=LiveStats, responses=problems(401, 403, 422))
async def live_stats(
    request: Request,
    key: Reader,
    agency: Annotated[str | None, Query(description="one catalog agency the key allows")] = None,
) -> dict[str, Any]:
    """Counters and scrape-time gauges per agency, for the partitions this instance owns (with one
    instance, all of them; with several, sum the instances as Prometheus does)."""
    collector = metrics_state(request).collector
    if agency is not None:
        if not key.allows(agency):
            raise forbidden(agency)
        if agency not in collector.agencies.agencies:
            message = f"unknown agency {agency!r}"
            raise Problem(422, "Unknown agency", errors=[{"field": "agency", "message": message}])
    figures = collector.figures()
    codes = [agency] if agency is not None else visible_codes(key, sorted(figures.codes))
    last = figures.last_event_ts
    positions = {code: i for i, code in enumerate(figures.codes)}
    return {
        "at": figures.at.isoformat(),
        "partitions": sorted(collector.index.partitions),
        "last_event_timestamp_seconds": last,
        "agencies": [
            agency_stats(
                code,
                tuple(column[positions[code]] for column in figures.counters),
                [column[positions[code]] for column in figures.gauges],
            )
            for code in codes
        ],
    }
