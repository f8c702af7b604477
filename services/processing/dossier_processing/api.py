"""HTTP API (SPEC §6): dossiers with their history, a filtered list, and the national-portal change feed.

Cursors are opaque (base64url). The dossier endpoints are read-only views for operators; the sync feed
needs `Authorization: Bearer <key>` and only returns dossiers of agencies the key's patterns allow.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from sqlalchemy import Row

from dossier_contracts.event_codec import decode_event, proto_to_event
from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.calendar import VN_TZ
from dossier_core.dossier import Dossier
from dossier_core.events import StatusCode
from dossier_processing import repository
from dossier_processing.portal_record import SERVICE, portal_record
from dossier_processing.state import AppState
from dossier_runtime.api_keys import ApiKey
from dossier_runtime.problems import Problem

router = APIRouter()
MAX_LIMIT = 500


class PendingFilter(StrEnum):
    IN_TIME = "in_time"
    OVERDUE = "overdue"
    PAUSED = "paused"


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.processing
    return state


State = Annotated[AppState, Depends(state_of)]


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, parts: int) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = base64.b64decode(padded, altchars=b"-_", validate=True).decode().split("\x1f")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        values = []
    if len(values) != parts:
        raise Problem(400, "Invalid cursor", "Use the next_cursor of a previous page.")
    return values


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


@router.get("/v1/dossiers/{dossier_code}", tags=["dossiers"])
async def get_dossier(state: State, dossier_code: Annotated[str, Path(max_length=100)]) -> dict[str, Any]:
    """A dossier's state, deadlines, pauses, anomalies and full event history (in fold order)."""
    async with state.engine.connect() as conn:
        row = await repository.dossier_by_code(conn, dossier_code)
        if row is None:
            raise Problem(404, "Dossier not found", f"No dossier {dossier_code!r} has been received.")
        events = await repository.events_of(conn, dossier_code)
    view = dossier_view(row, state, datetime.now(VN_TZ))
    view["events"] = [
        {**proto_to_event(decode_event(e.payload)), "seq": e.seq, "applied_at": _iso(e.applied_at)}
        for e in events
    ]
    return view


@router.get("/v1/dossiers", tags=["dossiers"])
async def list_dossiers(
    state: State,
    agency: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[int | None, Query(ge=1, le=10)] = None,
    pending_state: PendingFilter | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> dict[str, Any]:
    """Dossiers ordered by code; `pending_state` is judged against the clock now."""
    now = datetime.now(VN_TZ)
    after = decode_cursor(cursor, 1)[0] if cursor else None
    filters = repository.ListFilter(agency, status, pending_state.value if pending_state else None)
    items: list[dict[str, Any]] = []
    more = False
    async with state.engine.connect() as conn:
        while True:
            rows = await repository.list_dossiers(conn, filters, after, limit + 1, now)
            for row in rows:
                if len(items) == limit:
                    more = True
                    break
                view = dossier_view(row, state, now)
                if _matches(view, pending_state):
                    items.append(view)
                after = row.dossier_code
            if more or len(rows) <= limit:
                break
    next_cursor = encode_cursor(items[-1]["dossier_code"]) if more and items else None
    return {"items": items, "next_cursor": next_cursor}


def _matches(view: dict[str, Any], wanted: PendingFilter | None) -> bool:
    if wanted is None:
        return True
    if wanted is PendingFilter.PAUSED:
        return bool(view["paused"])
    return bool(view["pending_state"] == wanted.value)


def sync_client(state: State, authorization: Annotated[str | None, Header()] = None) -> ApiKey:
    key = None
    if authorization and authorization.lower().startswith("bearer "):
        key = state.keys.authenticate(authorization[7:].strip())
    if key is None:
        raise Problem(
            401, "Unauthorized", "A valid sync key is required.", headers={"WWW-Authenticate": "Bearer"}
        )
    return key


@router.get("/v1/sync/changes", tags=["national portal sync"])
async def sync_changes(
    state: State,
    client: Annotated[ApiKey, Depends(sync_client)],
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> dict[str, Any]:
    """Dossiers changed after the cursor, as `DongBoHoSoMC` records, limited to the key's agencies.
    Poll with `next_cursor`; an empty page keeps the cursor where it was."""
    xid, code = (0, "")
    if cursor:
        raw_xid, code = decode_cursor(cursor, 2)
        if not raw_xid.isdigit():
            raise Problem(400, "Invalid cursor", "Use the next_cursor of a previous page.")
        xid = int(raw_xid)
    records: list[dict[str, Any]] = []
    more = False
    async with state.engine.connect() as conn:
        for _ in range(20):  # keys limited to a few agencies skip others' rows, a bounded number of pages
            rows = await repository.changes_after(conn, xid, code, limit)
            full = False
            for row in rows:
                if client.allows(row.agency_code):
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
        "next_cursor": encode_cursor(str(xid), code) if xid else cursor,
        "has_more": more,
    }
