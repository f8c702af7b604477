"""HTTP API (SPEC §6): dossiers with their history, a filtered list, and the national-portal change feed.

Every route needs `Authorization: Bearer <key>` with a key from `PROCESSING_API_KEYS_FILE` and reads
only the dossiers of the agencies its patterns allow: a dossier of another agency is answered like a
missing one (404), lists and the change feed leave other agencies out (the patterns narrow the SQL when
they can be written as `LIKE` patterns; every row is checked against the key again), and `agency=`
outside the key's scope is 403. No or an unknown key → 401 with `WWW-Authenticate: Bearer`.

Cursors are printable ASCII positions in the listing order, and every string of that shape is one:
the dossier list's is the last code seen (percent-encoded), the change feed's `<transaction id>.<code>`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Row
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection

from dossier_contracts.event_codec import decode_event, proto_to_event
from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.calendar import VN_TZ
from dossier_core.dossier import Dossier
from dossier_core.events import StatusCode
from dossier_processing import repository
from dossier_processing.api_models import (
    CODE_PATTERN,
    CURSOR_PATTERN,
    DOSSIER_EXAMPLE,
    DOSSIER_RESPONSES,
    LIST_RESPONSES,
    MAX_CODE,
    MAX_CURSOR,
    MAX_DOSSIER_CODE,
    SYNC_CURSOR_PATTERN,
    SYNC_RESPONSES,
    DossierDetail,
    DossierPage,
    SyncPage,
)
from dossier_processing.portal_record import SERVICE, portal_record
from dossier_processing.state import AppState
from dossier_runtime.api_keys import ApiKey
from dossier_runtime.problems import Problem

router = APIRouter()
MAX_LIMIT = 500
#: rows a list request looks at before it answers with what it found and a cursor to go on
MAX_EXAMINED = 5000
#: a cursor keeps these characters as they are; others (and `%`) are percent-encoded
_CURSOR_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="A key from PROCESSING_API_KEYS_FILE; it reads the dossiers of the agencies it allows.",
)


class PendingFilter(StrEnum):
    IN_TIME = "in_time"
    OVERDUE = "overdue"
    PAUSED = "paused"


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.processing
    return state


State = Annotated[AppState, Depends(state_of)]


def reader(
    state: State, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> ApiKey:
    """The caller's key, or 401."""
    key = state.keys.authenticate(credentials.credentials) if credentials is not None else None
    if key is None:
        raise Problem(
            401,
            "Unauthorized",
            "A valid API key is required: Authorization: Bearer <key>.",
            headers={"WWW-Authenticate": 'Bearer realm="processing"'},
        )
    return key


Reader = Annotated[ApiKey, Depends(reader)]


def sql_scope(key: ApiKey) -> list[str] | None:
    """The key's agency patterns as SQL `LIKE` patterns, or None when SQL cannot narrow the rows
    (the key allows every agency, or a pattern uses `[...]`, which `LIKE` lacks)."""
    patterns: list[str] = []
    for pattern in key.agency_patterns:
        if pattern == "*" or "[" in pattern:
            return None
        escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        patterns.append(escaped.replace("*", "%").replace("?", "_"))
    return patterns


_UNREACHABLE = (TimeoutError, OSError, sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


@asynccontextmanager
async def reading(state: AppState) -> AsyncIterator[AsyncConnection]:
    """A connection for one request; an unreachable database is a 503, not a 500."""
    try:
        async with state.engine.connect() as conn:
            yield conn
    except _UNREACHABLE as exc:
        raise _unavailable() from exc
    except sa_exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise _unavailable() from exc
        raise


def _unavailable() -> Problem:
    return Problem(503, "Database unavailable", "Retry in a few seconds.", headers={"Retry-After": "5"})


def encode_list_cursor(code: str) -> str:
    return quote(code, safe=_CURSOR_SAFE)


def decode_list_cursor(cursor: str) -> str:
    """The code after which the page starts (any printable-ASCII string is a position)."""
    return unquote(cursor, errors="replace").replace("\x00", "")


def encode_sync_cursor(xid: int, code: str) -> str:
    return f"{xid}.{quote(code, safe=_CURSOR_SAFE)}"


def decode_sync_cursor(cursor: str) -> tuple[int, str]:
    """(transaction id, code) after which changes are served."""
    xid, _, code = cursor.partition(".")
    return int(xid), decode_list_cursor(code)


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(VN_TZ).isoformat() if t is not None else None


def _dossier_of(row: Row[Any]) -> Dossier:
    return snapshot_to_dossier(decode_snapshot(row.snapshot))


def dossier_view(row: Row[Any], state: AppState, now: datetime) -> dict[str, Any]:
    """The state of a dossier, with deadline and pending state judged at `now`."""
    dossier = _dossier_of(row)
    calendar = state.calendar
    pending = dossier.pending_state(now, calendar)
    ended = dossier.finished_at or dossier.ended_at
    status = StatusCode(row.status_code)
    return {
        "dossier_code": row.dossier_code,
        "status": {"code": int(status), "name": status.label},
        "agency_code": row.agency_code,
        "procedure_code": row.procedure_code,
        "channel": row.channel,
        "submitted_at": _iso(row.submitted_at),
        "received_at": _iso(row.received_at),
        "legal_due_at": _iso(row.legal_due_at),
        "due_at": _iso(dossier.effective_due(ended or now, calendar)),
        "appointment_at": _iso(row.appointment_at),
        "finished_at": _iso(row.finished_at),
        "ended_at": _iso(row.ended_at),
        "end_kind": row.end_kind,
        "timeliness": row.timeliness,
        "pending_state": pending.value if pending else None,
        "paused": dossier.is_open_at(now) and dossier.is_paused_at(now),
        "pauses": [
            {
                "kind": p.kind.value,
                "started_at": _iso(p.started_at),
                "ended_at": _iso(p.ended_at),
                "policy": p.policy,
            }
            for p in dossier.pauses
        ],
        "reschedule_count": row.reschedule_count,
        "anomalies": list(dossier.anomalies),
        "event_count": row.event_count,
        "version": row.version,
        "updated_at": _iso(row.updated_at),
    }


DossierCode = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_DOSSIER_CODE,
        pattern=CODE_PATTERN,
        description="the dossier code (printable ASCII)",
        examples=[DOSSIER_EXAMPLE],
    ),
]


@router.get(
    "/v1/dossiers/{dossier_code}",
    tags=["dossiers"],
    response_model=DossierDetail,
    responses=DOSSIER_RESPONSES,
)
async def get_dossier(state: State, key: Reader, dossier_code: DossierCode) -> dict[str, Any]:
    """A dossier's state, deadlines, pauses, anomalies and full event history (in fold order)."""
    async with reading(state) as conn:
        row = await repository.dossier_by_code(conn, dossier_code)
        if row is None or not key.allows(row.agency_code):
            raise Problem(404, "Dossier not found", f"No dossier {dossier_code!r} has been received.")
        events = await repository.events_of(conn, dossier_code)
    view = dossier_view(row, state, datetime.now(VN_TZ))
    view["events"] = [
        {**proto_to_event(decode_event(e.payload)), "seq": e.seq, "applied_at": _iso(e.applied_at)}
        for e in events
    ]
    return view


@router.get("/v1/dossiers", tags=["dossiers"], response_model=DossierPage, responses=LIST_RESPONSES)
async def list_dossiers(
    state: State,
    key: Reader,
    agency: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_CODE, pattern=CODE_PATTERN, description="an exact agency code"),
    ] = None,
    status: Annotated[int | None, Query(ge=1, le=10, description="TrangThaiHoSo 1–10")] = None,
    pending_state: Annotated[PendingFilter | None, Query(description="judged against the clock now")] = None,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_CURSOR, pattern=CURSOR_PATTERN, description="a `next_cursor`"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> dict[str, Any]:
    """Dossiers of the key's agencies ordered by code; `pending_state` is judged against the clock now.
    A page may hold fewer than `limit` items while `next_cursor` is set: keep following it."""
    if agency is not None and not key.allows(agency):
        raise Problem(403, "Forbidden", f"This key may not read agency {agency!r}.")
    now = datetime.now(VN_TZ)
    after = decode_list_cursor(cursor) if cursor else None
    filters = repository.ListFilter(
        agency, status, pending_state.value if pending_state else None, None if agency else sql_scope(key)
    )
    fetch = min(max(limit + 1, 100), MAX_LIMIT + 1)
    items: list[dict[str, Any]] = []
    more = False
    examined = 0
    async with reading(state) as conn:
        while True:
            rows = await repository.list_dossiers(conn, filters, after, fetch, now)
            for row in rows:
                if len(items) == limit:
                    more = True
                    break
                after = row.dossier_code
                examined += 1
                if not key.allows(row.agency_code):
                    continue
                view = dossier_view(row, state, now)
                if _matches(view, pending_state):
                    items.append(view)
            if more or len(rows) < fetch:
                break
            if examined >= MAX_EXAMINED:
                more = True
                break
    next_cursor = encode_list_cursor(after) if more and after is not None else None
    return {"items": items, "next_cursor": next_cursor}


def _matches(view: dict[str, Any], wanted: PendingFilter | None) -> bool:
    if wanted is None:
        return True
    if wanted is PendingFilter.PAUSED:
        return bool(view["paused"])
    return bool(view["pending_state"] == wanted.value)


@router.get(
    "/v1/sync/changes", tags=["national portal sync"], response_model=SyncPage, responses=SYNC_RESPONSES
)
async def sync_changes(
    state: State,
    key: Reader,
    cursor: Annotated[
        str | None,
        Query(
            min_length=2,
            max_length=MAX_CURSOR,
            pattern=SYNC_CURSOR_PATTERN,
            description="a `next_cursor`; none = from the first change",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> dict[str, Any]:
    """Dossiers changed after the cursor, as `DongBoHoSoMC` records, limited to the key's agencies.
    Poll with `next_cursor`; an empty page keeps the cursor where it was."""
    xid, code = decode_sync_cursor(cursor) if cursor else (0, "")
    scope = sql_scope(key)
    records: list[dict[str, Any]] = []
    more = False
    async with reading(state) as conn:
        for _ in range(20):  # bounded work per request; `has_more` says whether to come back at once
            rows = await repository.changes_after(conn, xid, code, limit, scope)
            full = False
            for row in rows:
                if key.allows(row.agency_code):
                    records.append(portal_record(row._mapping, state.catalog))
                xid, code = int(row.xid_text), row.dossier_code
                if len(records) == limit:
                    full = True
                    break
            more = full or len(rows) == limit
            if full or len(rows) < limit:
                break
    return {
        "service": SERVICE,
        "data": records,
        "next_cursor": encode_sync_cursor(xid, code) if xid else cursor,
        "has_more": more,
    }
