"""The national-portal change feed, `GET /v1/sync/changes` (SPEC §6): the dossiers of the key's agencies
changed after a cursor, oldest change first, as complete `DongBoHoSoMC` records (`record.py`, with the
histories of a page's dossiers read in one statement, `history.load_histories`), with its response
models. Only changes of transactions older than every running one are served (`sql.changes_after`), so a
change that commits late is never skipped. A page is read in one repeatable-read transaction, so each
record's lists come from the very events its row was folded from. The push worker (`pusher.py`) follows
the same feed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import ConfigDict, Field

from dossier_processing.access import Reader, State, reading, sql_scope
from dossier_processing.applicant import load_applicants
from dossier_processing.cursors import (
    MAX_CURSOR,
    SYNC_CURSOR_PATTERN,
    decode_sync_cursor,
    encode_sync_cursor,
)
from dossier_processing.openapi import INVALID, UNAUTHORIZED, UNAVAILABLE, ResponseModel
from dossier_processing.portal import sql
from dossier_processing.portal.history import DossierHistory, load_histories
from dossier_processing.portal.record import SERVICE, portal_record

router = APIRouter()
MAX_LIMIT = 500


PORTAL_DATE = r"^([0-9]{14})?$"


class PortalFee(ResponseModel):
    """A fee asked of the citizen (`dossier.fee_requested`) and how it was paid (`dossier.fee_paid`)."""

    TenPhiLePhi: str
    MaPhiLePhi: str = Field(description="always empty: no event names the fee's code")
    HinhThucThu: Literal["", "1", "2", "3"] = Field(
        description="how it was paid: 1 at the counter, 2 online, 3 by post; empty while unpaid"
    )
    Gia: int = Field(ge=0, description="the amount asked for, VND")
    LoaiPhiLePhi: str = Field(description="always empty: no event says the kind of fee")


class PortalSupplement(ResponseModel):
    """A supplement request (`dossier.supplement_requested`) and its answer
    (`dossier.supplement_received`)."""

    HoSoBoSungId: str = Field(description="the request's event id")
    NguoiYeuCauBoSung: str
    NoiDungBoSung: str
    NgayBoSung: str = Field(pattern=PORTAL_DATE)
    NguoiTiepNhanBoSung: str
    ThongTinTiepNhan: str
    NgayTiepNhanBoSung: str = Field(pattern=PORTAL_DATE)
    TrangThaiBoSung: bool = Field(description="true once the citizen completed the dossier")
    DanhSachGiayToBoSung: list[dict[str, Any]]
    DanhSachLePhiBoSung: list[dict[str, Any]]
    NgayHenTraTruoc: str = Field(pattern=PORTAL_DATE, description="the legal deadline when it was asked for")
    NgayHenTraMoi: str = Field(
        pattern=PORTAL_DATE, description="the legal deadline once completed (empty while awaited)"
    )


class PortalRecord(ResponseModel):
    """The national portal's `DongBoHoSoMC` record; dates `yyyyMMddHHmmss` in Vietnam time or "".
    Where each field comes from: docs/processing.md, "What the portal record is made of"."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    MaHoSo: str
    MaTTHC: str
    TenTTHC: str
    TenLinhVuc: str
    KenhThucHien: int = Field(ge=1, le=3, description="1 direct, 2 online, 3 postal")
    LoaiDoiTuong: int
    NgayNopHoSo: str = Field(pattern=PORTAL_DATE)
    NgayTiepNhan: str = Field(pattern=PORTAL_DATE)
    NgayHenTra: str = Field(pattern=PORTAL_DATE)
    TrangThaiHoSo: int = Field(ge=1, le=10)
    NgayKetThucXuLy: str = Field(pattern=PORTAL_DATE)
    NgayTra: str = Field(pattern=PORTAL_DATE)
    HinhThuc: int = Field(ge=0, le=1)
    DonViXuLy: str
    MaDonViXuLy: str
    PhienBan: int = Field(ge=1)
    MaLinhVuc: str
    TrichYeuHoSo: str
    ThongTinTra: str
    GhiChu: str
    ChuHoSo: str
    MaDoiTuong: str
    Email: str
    SoDienThoai: str
    TaiLieuNop: list[dict[str, Any]] = Field(description="always empty: events carry no documents")
    DanhSachLePhi: list[PortalFee]
    DanhSachHoSoBoSung: list[PortalSupplement]
    DanhSachGiayToKetQua: list[dict[str, Any]] = Field(
        description="always empty: `dossier.resolved`'s `result` is an outcome, not a document"
    )


class SyncPage(ResponseModel):
    service: Literal["DongBoHoSoMC"]
    data: list[PortalRecord]
    next_cursor: str | None = Field(
        description="pass it as `cursor` to poll for later changes (null only before the first change)"
    )
    has_more: bool


def _history(histories: Mapping[str, DossierHistory], code: str) -> DossierHistory:
    """The dossier's history; none stored (its events archived) is an incomplete one."""
    return histories.get(code) or DossierHistory(code, (), complete=False)


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
    served: list[Any] = []
    more = False
    async with reading(state) as conn:
        await conn.execution_options(isolation_level="REPEATABLE READ")
        for _ in range(20):  # bounded work per request; `has_more` says whether to come back at once
            rows = await sql.changes_after(conn, xid, code, limit, scope)
            full = False
            for row in rows:
                if key.allows(row.agency_code):
                    served.append(row)
                xid, code = int(row.xid_text), row.dossier_code
                if len(served) == limit:
                    full = True
                    break
            more = full or len(rows) == limit
            if full or len(rows) < limit:
                break
        codes = [row.dossier_code for row in served]
        histories = await load_histories(conn, codes)
        applicants = await load_applicants(conn, codes, settings=state.settings)
    records = [
        portal_record(
            row._mapping, state.catalog, histories.get(row.dossier_code), applicants.get(row.dossier_code)
        )
        for row in served
    ]
    return {
        "service": SERVICE,
        "data": records,
        "next_cursor": encode_sync_cursor(xid, code) if xid else cursor,
        "has_more": more,
    }
