"""A dossier as the national portal (DVCQG) takes it: the `DongBoHoSoMC` record, and the
`CapNhatTienDoHoSoMC` progress records of its processing steps.

Dates are `yyyyMMddHHmmss` in Vietnam time and an empty string when unknown (the portal's convention);
`KenhThucHien` is 1 direct, 2 online, 3 postal; `TrangThaiHoSo` the national status 1–10. `PhienBan`
(our version of the dossier) lets the portal, and our sync state, tell a newer record from an older one.

`portal_record(row, catalog)` is the record of the `dossiers` row alone (the fields it has always had).
Given the dossier's history (`history.load_histories`) it is the complete record: the catalogue's
`MaLinhVuc`, the summary, how the result is returned, the note, the applicant placeholders and the lists
the events make (supplements, fees); `progress_records` are its steps. Which field comes from where, and
which stay empty and why: docs/processing.md, "What the portal record is made of".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog, Procedure
from dossier_core.codes import PAYMENT_CHANNELS, Channel, EventType, StatusCode
from dossier_core.event_data import EVENT_STATUS
from dossier_processing.applicant import Applicant, applicant_fields
from dossier_processing.portal.history import (
    DossierHistory,
    Fee,
    Step,
    Supplement,
    fees,
    supplements,
    walk,
)

SERVICE = "DongBoHoSoMC"
PROGRESS_SERVICE = "CapNhatTienDoHoSoMC"

#: `HinhThucThu` of a paid fee: how it was paid (`fee_paid`'s `payment_channel`), in the codes the
#: record already uses for a channel (`KenhThucHien`): 1 at the counter, 2 online, 3 through the post.
PAYMENT_FORM: Mapping[str, str] = {"direct": "1", "online": "2", "postal": "3"}
if set(PAYMENT_FORM) != set(PAYMENT_CHANNELS):
    raise TypeError("every payment channel needs its HinhThucThu code")

#: `ThongTinTra`: how the result goes back to the citizen (the dossier's channel: postal or not)
RETURN_BY_POST = "Trả kết quả qua dịch vụ bưu chính công ích"
RETURN_AT_COUNTER = "Trả kết quả tại Bộ phận Tiếp nhận và Trả kết quả"
#: `TenPhiLePhi`: our events name no fee, only its amount
FEE_NAME = "Phí, lệ phí giải quyết thủ tục hành chính"


def portal_date(t: datetime | None) -> str:
    return t.astimezone(VN_TZ).strftime("%Y%m%d%H%M%S") if t is not None else ""


def portal_record(
    row: Mapping[Any, Any],
    catalog: Catalog,
    history: DossierHistory | None = None,
    applicant: Applicant | None = None,
) -> dict[str, Any]:
    """The `DongBoHoSoMC` record of a `dossiers` row; complete when its `history` is given, with the
    opened `applicant` (`applicant.load_applicants`; none: the four applicant fields are empty)."""
    procedure = catalog.procedures.get(row["procedure_code"] or "")
    agency = catalog.agencies.get(row["agency_code"])
    channel = Channel(row["channel"]) if row["channel"] else None
    record: dict[str, Any] = {
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
    if history is None:
        return record
    steps = walk(history, catalog)
    record.update(
        {
            "MaLinhVuc": (procedure.field_code or "") if procedure else "",
            "TrichYeuHoSo": summary(row["dossier_code"], procedure),
            "ThongTinTra": RETURN_BY_POST if channel is Channel.POSTAL else RETURN_AT_COUNTER,
            "GhiChu": note(steps),
            # applicant data (ChuHoSo, MaDoiTuong, SoDienThoai, Email): personal data, opened for the
            # sync feed and the push alone (docs/security.md); empty when absent or erased
            **applicant_fields(applicant),
            "TaiLieuNop": [],
            "DanhSachLePhi": [fee_entry(fee) for fee in fees(steps)],
            "DanhSachHoSoBoSung": [supplement_entry(s) for s in supplements(steps, catalog)],
            "DanhSachGiayToKetQua": [],
        }
    )
    return record


def summary(code: str, procedure: Procedure | None) -> str:
    """`TrichYeuHoSo`: the procedure's name and the dossier's code."""
    return f"{procedure.name} (hồ sơ {code})" if procedure else f"Hồ sơ {code}"


_NOTED = {
    EventType.REFUSED: "Từ chối giải quyết",
    EventType.WITHDRAWN: "Công dân rút hồ sơ",
    EventType.NOT_ACCEPTED: "Không tiếp nhận hồ sơ",
    EventType.SUSPENDED: "Tạm dừng xử lý",
}


def note(steps: Sequence[Step]) -> str:
    """`GhiChu`: why the dossier stopped, when it did: the reason of its refusal, withdrawal or
    non-acceptance, or of a suspension still in force; else empty."""
    if not steps:
        return ""
    last = next((s for s in reversed(steps) if s.type is not EventType.RESCHEDULED), steps[-1])
    label = _NOTED.get(last.type)
    if label is None:
        return ""
    reason = last.event.data.get("reason")
    return f"{label}: {reason}" if reason else label


def fee_entry(fee: Fee) -> dict[str, Any]:
    """A `DanhSachLePhi` entry: `Gia` the amount asked for (VND), `HinhThucThu` how it was paid
    (`PAYMENT_FORM`; "" while unpaid or when the payment named no channel)."""
    paid = PAYMENT_FORM.get(fee.payment_channel or "", "") if fee.paid_at is not None else ""
    return {
        "TenPhiLePhi": FEE_NAME,
        "MaPhiLePhi": "",
        "HinhThucThu": paid,
        "Gia": fee.amount or 0,
        "LoaiPhiLePhi": "",
    }


def supplement_entry(s: Supplement) -> dict[str, Any]:
    """A `DanhSachHoSoBoSung` entry; `TrangThaiBoSung` true once the citizen completed the dossier."""
    return {
        "HoSoBoSungId": s.request_id,
        "NguoiYeuCauBoSung": "",
        "NoiDungBoSung": s.reason,
        "NgayBoSung": portal_date(s.requested_at),
        "NguoiTiepNhanBoSung": "",
        "ThongTinTiepNhan": "",
        "NgayTiepNhanBoSung": portal_date(s.received_at),
        "TrangThaiBoSung": s.received_at is not None,
        "DanhSachGiayToBoSung": [],
        "DanhSachLePhiBoSung": [],
        "NgayHenTraTruoc": portal_date(s.due_before),
        "NgayHenTraMoi": portal_date(s.due_after),
    }


def _vnd(amount: int | None) -> str:
    return f"{amount:,}".replace(",", ".") + " đồng" if amount is not None else ""


def _local(t: datetime | None) -> str:
    return t.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y") if t is not None else "(chưa có)"


def step_content(step: Step) -> str:
    """`NoiDungXuLy`: what the step was, in Vietnamese, with what its event says."""
    data = step.event.data
    kind = step.type
    reason = data.get("reason")
    because = f": {reason}" if reason else ""
    if kind is EventType.SUBMITTED:
        return "Nộp hồ sơ"
    if kind is EventType.RECEIVED:
        return "Tiếp nhận hồ sơ"
    if kind is EventType.PROCESSING:
        where = data.get("step")
        return f"Xử lý hồ sơ: {where}" if where else "Xử lý hồ sơ"
    if kind is EventType.SUPPLEMENT_REQUESTED:
        return "Yêu cầu bổ sung hồ sơ" + because
    if kind is EventType.SUPPLEMENT_RECEIVED:
        return "Nhận hồ sơ bổ sung, tiếp tục xử lý"
    if kind is EventType.FEE_REQUESTED:
        amount = _vnd(data.get("amount"))
        return (
            f"Yêu cầu thực hiện nghĩa vụ tài chính: {amount}"
            if amount
            else "Yêu cầu thực hiện nghĩa vụ tài chính"
        )
    if kind is EventType.FEE_PAID:
        return "Đã thực hiện nghĩa vụ tài chính, tiếp tục xử lý"
    if kind is EventType.SUSPENDED:
        return "Tạm dừng xử lý" + because
    if kind is EventType.RESUMED:
        return "Tiếp tục xử lý"
    if kind is EventType.RESCHEDULED:
        before = step.before.appointment_at if step.before is not None else None
        moved = f"Hẹn lại ngày trả kết quả từ {_local(before)} sang {_local(step.after.appointment_at)}"
        return moved + because
    if kind is EventType.RESOLVED:
        result = data.get("result")
        return f"Đã xử lý xong: {result}" if result else "Đã xử lý xong"
    if kind is EventType.RETURNED:
        return "Đã trả kết quả"
    return _NOTED[kind] + because


def progress_records(
    row: Mapping[Any, Any], catalog: Catalog, history: DossierHistory | None
) -> list[dict[str, Any]]:
    """The `CapNhatTienDoHoSoMC` records of a dossier: one per step its events made, in order.
    `TrangThai` is the national status after the step; `NgayBatDau` when the dossier was received (or
    submitted, before receipt); `NgayKetThucTheoQuyDinh` the legal deadline as known at the step
    (pauses applied), or the new appointment for a rescheduling. `NguoiXuLy` and `ChucDanh` stay empty:
    no event names the officer."""
    return [record for _, record in progress_steps(row, catalog, history)]


def progress_steps(
    row: Mapping[Any, Any], catalog: Catalog, history: DossierHistory | None
) -> list[tuple[str, dict[str, Any]]]:
    """`progress_records` with each step's identity: the `event_id` of the event that made it (a
    step is one accepted event), so a sender can tell the steps the portal holds from new ones even
    when a late event puts a step among them."""
    if history is None:
        return []
    code = row["dossier_code"]
    records: list[tuple[str, dict[str, Any]]] = []
    for step in walk(history, catalog):
        after = step.after
        status = EVENT_STATUS[step.type] or after.status
        department = step.event.data.get("department") if step.type is EventType.PROCESSING else None
        end = after.appointment_at if step.type is EventType.RESCHEDULED else step.due
        records.append(
            (
                step.event.event_id,
                {
                    "MaHoSo": code,
                    "NguoiXuLy": "",
                    "ChucDanh": "",
                    "ThoiDiemXuLy": portal_date(step.at),
                    "PhongBanXuLy": department or "",
                    "NoiDungXuLy": step_content(step),
                    "TrangThai": int(StatusCode(status)),
                    "NgayBatDau": portal_date(after.received_at or after.submitted_at),
                    "NgayKetThucTheoQuyDinh": portal_date(end),
                },
            )
        )
    return records
