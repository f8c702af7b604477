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
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_processing.access import Reader, State, reading, sql_scope
from dossier_processing.cursors import CURSOR_PATTERN, MAX_CURSOR, decode_list_cursor, encode_list_cursor
from dossier_processing.openapi import INVALID, UNAUTHORIZED, UNAVAILABLE, ResponseModel
from dossier_processing.portal import state as sync_state
from dossier_processing.portal.state import AgencySync, FailureReason
from dossier_processing.views.api_models import CODE_PATTERN, MAX_CODE
from dossier_runtime.openapi import problem
from dossier_runtime.problems import Problem

router = APIRouter()
MAX_LIST = 500
#: rows a list request looks at before it answers with what it found and a cursor to go on
MAX_EXAMINED = 5000


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


class UnsyncedState(StrEnum):
    FAILED = "failed"
    PENDING = "pending"
    PARKED = "parked"


class UnsyncedDossier(ResponseModel):
    """A received dossier whose latest version the portal lacks. The portal's own message is not
    shown (it may repeat what the record carried); `reason` and `error_code` say what happened."""

    dossier_code: str
    agency_code: str
    state: Literal["failed", "pending", "parked"]
    reason: str | None = Field(
        description="failed: the class of the last error (as in `failed_by_reason`); parked: the portal's"
        " `error_code` (or `other`); pending: null"
    )
    error_code: str | None = Field(
        description="the portal's `error_code` of the last refusal, if it gave one"
    )
    version: int = Field(ge=1, description="the dossier's latest version, which the portal lacks")
    synced_version: int = Field(ge=0, description="the latest version the portal accepted (0: none)")
    attempts: int = Field(ge=0, description="attempts since the last acceptance")
    changed_at: datetime = Field(description="the dossier's latest change, from which it waits")
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="not before then (backoff); null for a parked one")
    parked_at: datetime | None


class UnsyncedPage(ResponseModel):
    items: list[UnsyncedDossier]
    next_cursor: str | None = Field(description="pass it as `cursor` for the next page; null on the last")


def _agency_scope(key_scope: list[str] | None, agency: str | None) -> list[str] | None:
    if agency is None:
        return key_scope
    return [agency.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")]


@router.get(
    "/v1/sync/dossiers",
    tags=["national portal sync"],
    response_model=UnsyncedPage,
    responses=STATE_RESPONSES,
)
async def get_unsynced_dossiers(
    state: State,
    key: Reader,
    agency: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_CODE, pattern=CODE_PATTERN, description="an exact agency code"),
    ] = None,
    sync_state_: Annotated[UnsyncedState | None, Query(alias="state", description="one state only")] = None,
    reason: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_CODE,
            pattern=CODE_PATTERN,
            description="one reason only: a failure class (`timeout`, `http_error`, …) or a parked dossier's"
            " `error_code`",
        ),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_CURSOR, pattern=CURSOR_PATTERN, description="a `next_cursor`"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 50,
) -> dict[str, Any]:
    """The key's received dossiers the national portal lacks, by code: failed (with the class of the
    error), pending, or parked (with the portal's `error_code`), for an operator to act on. A page may
    hold fewer than `limit` items while `next_cursor` is set: keep following it."""
    if agency is not None and not key.allows(agency):
        raise Problem(403, "Forbidden", "This key may not read the agency asked for.")
    after = decode_list_cursor(cursor) if cursor else None
    items: list[dict[str, Any]] = []
    more = False
    examined = 0
    async with reading(state) as conn:
        while True:
            rows = await sync_state.unsynced_dossiers(
                conn,
                _agency_scope(sql_scope(key), agency),
                state=sync_state_.value if sync_state_ else None,
                reason=reason,
                after=after,
                limit=limit + 1,
            )
            for row in rows:
                if len(items) == limit:
                    more = True
                    break
                after = row.dossier_code
                examined += 1
                if key.allows(row.agency_code):
                    items.append(_unsynced(row))
            if more or len(rows) <= limit:
                break
            if examined >= MAX_EXAMINED:  # bounded work; the cursor goes on from here
                more = True
                break
    return {"items": items, "next_cursor": encode_list_cursor(after) if more and after else None}


def _unsynced(row: Any) -> dict[str, Any]:
    def vn(t: datetime | None) -> datetime | None:
        return t.astimezone(VN_TZ) if t is not None else None

    return {
        "dossier_code": row.dossier_code,
        "agency_code": row.agency_code,
        "state": row.state,
        "reason": row.reason,
        "error_code": row.error_code,
        "version": row.version,
        "synced_version": row.synced_version or 0,
        "attempts": row.attempts or 0,
        "changed_at": vn(row.updated_at),
        "last_attempt_at": vn(row.last_attempt_at),
        "next_attempt_at": vn(row.next_attempt_at) if row.state != "parked" else None,
        "parked_at": vn(row.parked_at),
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
    scope = _agency_scope(sql_scope(key), agency)
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
