"""The national-portal change feed, `GET /v1/sync/changes` (SPEC §6): the dossiers of the key's agencies
changed after a cursor, oldest change first, as `DongBoHoSoMC` records (`record.py`), with its response
models. Only changes of transactions older than every running one are served (`sql.changes_after`), so a
change that commits late is never skipped. The push worker (`pusher.py`) follows the same feed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import ConfigDict, Field

from dossier_processing.access import Reader, State, reading, sql_scope
from dossier_processing.cursors import (
    MAX_CURSOR,
    SYNC_CURSOR_PATTERN,
    decode_sync_cursor,
    encode_sync_cursor,
)
from dossier_processing.openapi import INVALID, UNAUTHORIZED, UNAVAILABLE, ResponseModel
from dossier_processing.portal import sql
from dossier_processing.portal.record import SERVICE, portal_record

router = APIRouter()
MAX_LIMIT = 500


class PortalRecord(ResponseModel):
    """The national portal's `DongBoHoSoMC` record; dates `yyyyMMddHHmmss` in Vietnam time or ""."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    MaHoSo: str
    MaTTHC: str
    TenTTHC: str
    TenLinhVuc: str
    KenhThucHien: int = Field(ge=1, le=3, description="1 direct, 2 online, 3 postal")
    LoaiDoiTuong: int
    NgayNopHoSo: str = Field(pattern=r"^([0-9]{14})?$")
    NgayTiepNhan: str = Field(pattern=r"^([0-9]{14})?$")
    NgayHenTra: str = Field(pattern=r"^([0-9]{14})?$")
    TrangThaiHoSo: int = Field(ge=1, le=10)
    NgayKetThucXuLy: str = Field(pattern=r"^([0-9]{14})?$")
    NgayTra: str = Field(pattern=r"^([0-9]{14})?$")
    HinhThuc: int = Field(ge=0, le=1)
    DonViXuLy: str
    MaDonViXuLy: str
    PhienBan: int = Field(ge=1)


class SyncPage(ResponseModel):
    service: Literal["DongBoHoSoMC"]
    data: list[PortalRecord]
    next_cursor: str | None = Field(
        description="pass it as `cursor` to poll for later changes (null only before the first change)"
    )
    has_more: bool


SYNC_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: UNAUTHORIZED,
    422: INVALID,
    503: UNAVAILABLE,
}


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
            rows = await sql.changes_after(conn, xid, code, limit, scope)
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
