"""A dossier as the national portal (DVCQG) takes it: the `DongBoHoSoMC` record.

Dates are `yyyyMMddHHmmss` in Vietnam time and an empty string when unknown (the portal's convention);
`KenhThucHien` is 1 direct, 2 online, 3 postal; `TrangThaiHoSo` the national status 1–10. `PhienBan`
(our version of the dossier) lets the portal, and our sync state, tell a newer record from an older one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.events import Channel

SERVICE = "DongBoHoSoMC"


def portal_date(t: datetime | None) -> str:
    return t.astimezone(VN_TZ).strftime("%Y%m%d%H%M%S") if t is not None else ""


def portal_record(row: Mapping[Any, Any], catalog: Catalog) -> dict[str, Any]:
    """The `DongBoHoSoMC` record of a `dossiers` row."""
    procedure = catalog.procedures.get(row["procedure_code"] or "")
    agency = catalog.agencies.get(row["agency_code"])
    channel = Channel(row["channel"]) if row["channel"] else None
    return {
        "MaHoSo": row["dossier_code"],
        "MaTTHC": row["procedure_code"] or "",
        "TenTTHC": procedure.name if procedure else "",
        "TenLinhVuc": procedure.field if procedure else "",
        "KenhThucHien": channel.portal_code if channel else 1,
        "LoaiDoiTuong": row["applicant_type"] or 1,
        "NgayNopHoSo": portal_date(row["submitted_at"]),
        "NgayTiepNhan": portal_date(row["received_at"]),
        "NgayHenTra": portal_date(row["appointment_at"]),
        "TrangThaiHoSo": row["status_code"],
        "NgayKetThucXuLy": portal_date(row["finished_at"] or row["ended_at"]),
        "NgayTra": portal_date(row["returned_at"]),
        "HinhThuc": 1 if channel is Channel.POSTAL else 0,
        "DonViXuLy": agency.name if agency else row["agency_code"],
        "MaDonViXuLy": row["agency_code"],
        "PhienBan": row["version"],
    }
