"""The operator views (SPEC §6): a dossier with its history, and the filtered list of dossiers.

Every route needs `Authorization: Bearer <key>` with a key from `PROCESSING_API_KEYS_FILE` and reads only
the dossiers of the agencies its patterns allow (`access.py`): a dossier of another agency is answered like
a missing one (404), the list leaves other agencies out (the patterns narrow the SQL when they can be
written as `LIKE` patterns; every row is checked against the key again), and `agency=` outside the key's
scope is 403. No or an unknown key → 401 with `WWW-Authenticate: Bearer`. The list's cursor is the last
code seen (`cursors.py`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import Row

from dossier_contracts.event_codec import decode_event, proto_to_event
from dossier_contracts.snapshot_codec import decode_snapshot, snapshot_to_dossier
from dossier_core.calendar import VN_TZ
from dossier_core.dossier import Dossier
from dossier_core.events import StatusCode
from dossier_processing.access import Reader, State, reading, sql_scope
from dossier_processing.cursors import CURSOR_PATTERN, MAX_CURSOR, decode_list_cursor, encode_list_cursor
from dossier_processing.state import AppState
from dossier_processing.views import sql
from dossier_processing.views.api_models import (
    CODE_PATTERN,
    DOSSIER_EXAMPLE,
    DOSSIER_RESPONSES,
    LIST_RESPONSES,
    MAX_CODE,
    MAX_DOSSIER_CODE,
    DossierDetail,
    DossierPage,
)
from dossier_runtime.problems import Problem

router = APIRouter()
MAX_LIMIT = 500
#: rows a list request looks at before it answers with what it found and a cursor to go on
MAX_EXAMINED = 5000


class PendingFilter(StrEnum):
    IN_TIME = "in_time"
    OVERDUE = "overdue"
    PAUSED = "paused"


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
        row = await sql.dossier_by_code(conn, dossier_code)
        if row is None or not key.allows(row.agency_code):
            raise Problem(404, "Dossier not found", f"No dossier {dossier_code!r} has been received.")
        events = await sql.events_of(conn, dossier_code)
    view = dossier_view(row, state, datetime.now(VN_TZ))
    view["events"] = [
        {
            **_without_applicant(proto_to_event(decode_event(e.payload))),
            "seq": e.seq,
            "applied_at": _iso(e.applied_at),
        }
        for e in events
    ]
    return view


def _without_applicant(event: dict[str, Any]) -> dict[str, Any]:
    """The event as this API shows it: applicant data, even sealed, is for the sync feed alone
    (docs/security.md)."""
    data = event.get("data")
    if data and "applicant_sealed" in data:
        event["data"] = {k: v for k, v in data.items() if k != "applicant_sealed"}
    return event


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
    filters = sql.ListFilter(
        agency, status, pending_state.value if pending_state else None, None if agency else sql_scope(key)
    )
    fetch = min(max(limit + 1, 100), MAX_LIMIT + 1)
    items: list[dict[str, Any]] = []
    more = False
    examined = 0
    async with reading(state) as conn:
        while True:
            rows = await sql.list_dossiers(conn, filters, after, fetch, now)
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
