"""`GET /v1/sync/state`: where each agency of the key stands with the national portal (`state.py`), for
an operator to act on: synced, pending, failed by reason, parked by the portal's code, and how long the
longest-waiting dossier has waited. Read from the database at the request (not from the push worker's
last refresh), so it answers on an instance without a push worker too.

Scoped like every read (`access.py`): the key's agency patterns narrow the SQL and every row is
checked again; `agency=` outside the key is a 403 that does not repeat the code, so an answer never
names an agency outside the key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_processing.access import Reader, State, reading, sql_scope
from dossier_processing.openapi import INVALID, UNAUTHORIZED, UNAVAILABLE, ResponseModel
from dossier_processing.portal import state as sync_state
from dossier_processing.portal.state import AgencySync, FailureReason
from dossier_processing.views.api_models import CODE_PATTERN, MAX_CODE
from dossier_runtime.openapi import problem
from dossier_runtime.problems import Problem

router = APIRouter()


class SyncCounts(ResponseModel):
    received: int = Field(ge=0, description="received dossiers")
    synced: int = Field(ge=0, description="the portal holds their latest version")
    pending: int = Field(
        ge=0, description="not synced, not attempted (or not failed) since their latest change"
    )
    failed: int = Field(ge=0, description="not synced, the last attempt failed; retried with backoff")
    failed_by_reason: dict[FailureReason, int] = Field(description="`failed` by the class of the last error")
    parked: int = Field(
        ge=0,
        description="rejected by the portal for good; wait for an operator (`dossier-processing portal"
        " requeue`) or a newer version",
    )
    parked_by_error_code: dict[str, int] = Field(description="`parked` by the portal's `error_code`")
    sync_ratio: float | None = Field(
        ge=0, le=1, description="synced ÷ received (Decision 766/QĐ-TTg); null without received dossiers"
    )
    oldest_unsynced_at: datetime | None = Field(
        description="the latest change of the longest-waiting unsynced dossier; null when all are synced"
    )
    oldest_unsynced_seconds: float | None = Field(ge=0, description="its age at the time of the answer")


class AgencySyncView(SyncCounts):
    agency_code: str
    agency_name: str | None = Field(description="the catalogue's name of the agency, if it lists it")


class SyncState(ResponseModel):
    as_of: datetime
    agencies: list[AgencySyncView] = Field(description="the key's agencies with received dossiers, by code")
    total: SyncCounts = Field(description="the agencies above together")


STATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: UNAUTHORIZED,
    403: problem("`agency` is outside the agencies the key may read"),
    422: INVALID,
    503: UNAVAILABLE,
}


@router.get(
    "/v1/sync/state", tags=["national portal sync"], response_model=SyncState, responses=STATE_RESPONSES
)
async def get_sync_state(
    state: State,
    key: Reader,
    agency: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_CODE, pattern=CODE_PATTERN, description="an exact agency code"),
    ] = None,
) -> dict[str, Any]:
    """Each of the key's agencies (or the one asked) towards the national portal: received, synced,
    pending, failed by reason, parked by the portal's `error_code`, and the oldest unsynced change."""
    if agency is not None and not key.allows(agency):
        raise Problem(403, "Forbidden", "This key may not read the agency asked for.")
    scope = (
        [agency.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")] if agency else sql_scope(key)
    )
    async with reading(state) as conn:
        by_agency = await sync_state.sync_by_agency(conn, scope)
    now = datetime.now(UTC)
    shown = [a for code, a in by_agency.items() if key.allows(code) and (agency is None or code == agency)]
    return {
        "as_of": now.astimezone(VN_TZ),
        "agencies": [
            {
                "agency_code": a.agency_code,
                "agency_name": _name(state.catalog, a.agency_code),
                **_counts(a, now),
            }
            for a in shown
        ],
        "total": _counts(_together(shown), now),
    }


def _name(catalog: Catalog, code: str) -> str | None:
    found = catalog.agencies.get(code)
    return found.name if found is not None else None


def _together(agencies: list[AgencySync]) -> AgencySync:
    failed: dict[FailureReason, int] = {}
    parked: dict[str, int] = {}
    for a in agencies:
        for reason, n in a.failed.items():
            failed[reason] = failed.get(reason, 0) + n
        for code, n in a.parked.items():
            parked[code] = parked.get(code, 0) + n
    oldest = min((a.oldest_unsynced_at for a in agencies if a.oldest_unsynced_at), default=None)
    return AgencySync(
        "",
        synced=sum(a.synced for a in agencies),
        pending=sum(a.pending for a in agencies),
        failed=failed,
        parked=parked,
        oldest_unsynced_at=oldest,
    )


def _counts(a: AgencySync, now: datetime) -> dict[str, Any]:
    since = a.oldest_unsynced_at
    return {
        "received": a.received,
        "synced": a.synced,
        "pending": a.pending,
        "failed": a.failed_total,
        "failed_by_reason": {r.value: n for r, n in sorted(a.failed.items())},
        "parked": a.parked_total,
        "parked_by_error_code": dict(sorted(a.parked.items())),
        "sync_ratio": a.synced / a.received if a.received else None,
        "oldest_unsynced_at": since.astimezone(VN_TZ) if since else None,
        "oldest_unsynced_seconds": max(0.0, (now - since).total_seconds()) if since else None,
    }
