"""The complete portal record and its progress records, from a dossier's history: supplements with the
deadline before and after, fees with how they were paid, reschedules, notes and the steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dossier_core.catalog import default_catalog_dir, load_catalog
from dossier_core.events import DossierEvent, EventType
from dossier_processing.portal.history import DossierHistory, fees, reschedules, supplements, walk
from dossier_processing.portal.record import PAYMENT_FORM, portal_date, portal_record, progress_records

CATALOG = load_catalog(default_catalog_dir())
CODE = "000.00.18.H49-250303-0001"
AGENCY = "000.00.18.H49"
T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)  # Monday 08:00 in Vietnam


def history(*steps: tuple[float, str, dict[str, Any]], procedure: str = "1.004194") -> DossierHistory:
    """A history from (working hours after T0 in hours, event type suffix, data)."""
    events = [
        DossierEvent(
            "e0", EventType.RECEIVED, CODE, AGENCY, T0, {"procedure_code": procedure, "channel": "direct"}, 1
        )
    ]
    for i, (hours, kind, data) in enumerate(steps, start=1):
        at = T0 + timedelta(hours=hours)
        events.append(DossierEvent(f"e{i}", EventType(f"dossier.{kind}"), CODE, AGENCY, at, data, i + 1))
    return DossierHistory(CODE, tuple(events))


def row(h: DossierHistory, **over: object) -> dict[str, object]:
    state = walk(h, CATALOG)[-1].after
    base: dict[str, object] = {
        "dossier_code": CODE,
        "agency_code": AGENCY,
        "procedure_code": state.procedure_code,
        "channel": state.channel.value if state.channel else None,
        "applicant_type": None,
        "submitted_at": state.submitted_at,
        "received_at": state.received_at,
        "appointment_at": state.appointment_at,
        "status_code": int(state.status),
        "finished_at": state.finished_at,
        "ended_at": state.ended_at,
        "returned_at": None,
        "version": len(h.events),
    }
    return {**base, **over}


def test_without_history_the_record_is_the_row_alone() -> None:
    h = history((1, "processing", {}))
    old = portal_record(row(h), CATALOG)
    assert "DanhSachHoSoBoSung" not in old and "MaLinhVuc" not in old
    assert portal_record(row(h), CATALOG, h).items() >= old.items()
    assert progress_records(row(h), CATALOG, None) == []


def test_a_supplement_pairs_request_and_receipt_with_the_deadline_before_and_after() -> None:
    h = history(
        (2, "processing", {"step": "Thẩm định", "department": "Phòng Quản lý cư trú"}),
        (3, "supplement_requested", {"reason": "Thiếu bản sao giấy khai sinh"}),
        (24 * 3, "supplement_received", {}),
        (24 * 3 + 1, "resolved", {"result": "Đã giải quyết"}),
    )
    record = portal_record(row(h), CATALOG, h)
    [entry] = record["DanhSachHoSoBoSung"]
    assert entry["HoSoBoSungId"] == "e2" and entry["NoiDungBoSung"] == "Thiếu bản sao giấy khai sinh"
    assert entry["NgayBoSung"] == portal_date(T0 + timedelta(hours=3))
    assert entry["NgayTiepNhanBoSung"] == portal_date(T0 + timedelta(hours=72)) and entry["TrangThaiBoSung"]
    # extend: the deadline at the request (3 working days from receipt) moves by the working time paused
    assert entry["NgayHenTraTruoc"] == "20250306080000"
    assert entry["NgayHenTraMoi"] > entry["NgayHenTraTruoc"]
    assert record["DanhSachGiayToKetQua"] == [] and record["TaiLieuNop"] == []
    assert record["TrichYeuHoSo"] == f"{CATALOG.procedures['1.004194'].name} (hồ sơ {CODE})"
    assert record["ThongTinTra"].startswith("Trả kết quả tại") and record["GhiChu"] == ""
    assert all(record[k] == "" for k in ("ChuHoSo", "MaDoiTuong", "Email", "SoDienThoai"))


def test_an_awaited_supplement_has_no_receipt_nor_new_deadline() -> None:
    h = history((3, "supplement_requested", {"reason": "Thiếu tờ khai"}))
    [entry] = portal_record(row(h), CATALOG, h)["DanhSachHoSoBoSung"]
    assert entry["NgayTiepNhanBoSung"] == entry["NgayHenTraMoi"] == "" and entry["TrangThaiBoSung"] is False
    assert entry["NgayHenTraTruoc"] == "20250306080000"


def test_a_restart_procedure_counts_its_whole_duration_again_from_the_supplement() -> None:
    h = history(
        (3, "supplement_requested", {"reason": "Thiếu hồ sơ"}),
        (24 * 7, "supplement_received", {}),
        procedure="1.013835",
    )
    [s] = supplements(walk(h, CATALOG), CATALOG)
    assert s.received_at is not None and s.due_after is not None and s.due_before is not None
    rule_days = CATALOG.procedures["1.013835"].duration
    assert rule_days is not None
    assert CATALOG.calendar().working_minutes_between(s.received_at, s.due_after) == rule_days * 8 * 60


def test_fees_carry_the_amount_and_how_they_were_paid() -> None:
    h = history(
        (2, "fee_requested", {"amount": 135000}),
        (5, "fee_paid", {"payment_channel": "online"}),
        (6, "fee_requested", {"amount": 20000}),
    )
    first, second = portal_record(row(h), CATALOG, h)["DanhSachLePhi"]
    assert first["Gia"] == 135000 and first["HinhThucThu"] == PAYMENT_FORM["online"] == "2"
    assert second["Gia"] == 20000 and second["HinhThucThu"] == ""
    assert [f.paid_at is not None for f in fees(walk(h, CATALOG))] == [True, False]


def test_a_reschedule_moves_the_appointment_and_is_a_progress_step() -> None:
    new = datetime(2025, 3, 10, 10, 0, tzinfo=UTC)
    h = history((5, "rescheduled", {"new_appointment_at": new.isoformat(), "reason": "Chờ xác minh"}))
    [moved] = reschedules(walk(h, CATALOG))
    assert moved.before == datetime(2025, 3, 6, 1, 0, tzinfo=UTC) and moved.after == new
    step = progress_records(row(h), CATALOG, h)[-1]
    assert step["NgayKetThucTheoQuyDinh"] == "20250310170000" and step["TrangThai"] == 2
    assert "08:00 06/03/2025" in step["NoiDungXuLy"] and "17:00 10/03/2025" in step["NoiDungXuLy"]
    assert step["NoiDungXuLy"].endswith("Chờ xác minh")


def test_progress_has_one_record_per_accepted_step() -> None:
    h = history(
        (1, "processing", {"step": "Thẩm định", "department": "Phòng Quản lý cư trú"}),
        (2, "suspended", {"reason": "Chờ ý kiến cơ quan khác"}),
        (3, "processing", {"step": "rejected while suspended"}),
        (4, "resumed", {}),
        (5, "refused", {"reason": "Không đủ điều kiện"}),
    )
    steps = progress_records(row(h), CATALOG, h)
    assert [s["TrangThai"] for s in steps] == [2, 4, 8, 4, 8]
    assert (
        steps[1]["PhongBanXuLy"] == "Phòng Quản lý cư trú"
        and steps[1]["NoiDungXuLy"] == "Xử lý hồ sơ: Thẩm định"
    )
    assert all(s["MaHoSo"] == CODE and s["NgayBatDau"] == "20250303080000" for s in steps)
    assert all(s["NguoiXuLy"] == s["ChucDanh"] == "" for s in steps)
    assert steps[0]["NgayKetThucTheoQuyDinh"] == "20250306080000"
    assert portal_record(row(h), CATALOG, h)["GhiChu"] == "Từ chối giải quyết: Không đủ điều kiện"


def test_an_archived_history_gives_no_lists_nor_steps() -> None:
    h = history((3, "supplement_requested", {"reason": "x"}))
    partial = DossierHistory(CODE, h.events, complete=False)
    assert portal_record(row(h), CATALOG, partial)["DanhSachHoSoBoSung"] == []
    assert progress_records(row(h), CATALOG, partial) == []


PAUSES: list[list[tuple[str, dict[str, Any]]]] = [
    [("supplement_requested", {"reason": "Thiếu giấy tờ"}), ("supplement_received", {})],
    [("fee_requested", {"amount": 50000}), ("fee_paid", {"payment_channel": "direct"})],
    [("suspended", {"reason": "Chờ xác minh"}), ("resumed", {})],
    [("processing", {"step": "Xử lý"})],
    [("rescheduled", {"reason": "Xin lỗi", "new_appointment_at": "2025-04-30T17:00:00+07:00"})],
    [("rescheduled", {"reason": "Xin lỗi lần nữa", "new_appointment_at": "2025-05-30T17:00:00+07:00"})],
]
ENDINGS = [("refused", {"reason": "Không đủ điều kiện"}), ("withdrawn", {"reason": "Rút"}), ("resolved", {})]


@settings(max_examples=60, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.sampled_from(range(len(PAUSES))), st.integers(1, 72), st.integers(1, 72), st.booleans()),
        max_size=8,
    ),
    procedure=st.sampled_from(["1.004194", "1.004222", "2.000908"]),
    ending=st.none() | st.sampled_from(ENDINGS),
)
def test_every_request_appears_once_paired_in_order(
    plan: list[tuple[int, int, int, bool]], procedure: str, ending: tuple[str, dict[str, Any]] | None
) -> None:
    steps: list[tuple[float, str, dict[str, Any]]] = []
    hours = 0.0
    for kind, gap, length, answered in plan:
        pair = PAUSES[kind]
        hours += gap
        steps.append((hours, *pair[0]))
        if len(pair) > 1 and answered:
            hours += length
            steps.append((hours, *pair[1]))
    if ending is not None:
        steps.append((hours + 1, *ending))
    h = history(*steps, procedure=procedure)
    walked = walk(h, CATALOG)
    found = supplements(walked, CATALOG)
    accepted = [s for s in walked if s.type is EventType.SUPPLEMENT_REQUESTED]
    assert [s.request_id for s in found] == [s.event.event_id for s in accepted]
    assert len(fees(walked)) == sum(1 for s in walked if s.type is EventType.FEE_REQUESTED)
    for s in found:
        assert s.due_before is not None
        if s.received_at is not None:  # extend procedures: the deadline only ever moves later
            assert s.due_after is not None and s.due_after >= s.due_before and s.received_at > s.requested_at
        else:
            assert s.due_after is None
    moved = reschedules(walked)
    assert [m.before for m in moved[1:]] == [m.after for m in moved[:-1]]  # each starts where the last left
    assert all(m.after is not None and m.after.year == 2025 for m in moved)
    record = portal_record(row(h), CATALOG, h)
    assert len(record["DanhSachHoSoBoSung"]) == len(accepted)
    if ending is not None and ending[0] != "resolved":
        assert record["GhiChu"].endswith(ending[1]["reason"])
    progress = progress_records(row(h), CATALOG, h)
    assert len(progress) == len(walked) and [p["ThoiDiemXuLy"] for p in progress] == sorted(
        p["ThoiDiemXuLy"] for p in progress
    )


def test_before_receipt_a_step_starts_at_the_submission_and_has_no_deadline() -> None:
    submitted = DossierEvent(
        "s", EventType.SUBMITTED, CODE, AGENCY, T0, {"procedure_code": "1.004194", "channel": "online"}, 1
    )
    refused = DossierEvent(
        "n", EventType.NOT_ACCEPTED, CODE, AGENCY, T0 + timedelta(hours=2), {"reason": "Sai mẫu"}, 2
    )
    h = DossierHistory(CODE, (submitted, refused))
    first, second = progress_records({"dossier_code": CODE}, CATALOG, h)
    assert (first["TrangThai"], second["TrangThai"]) == (1, 3)
    assert first["NgayBatDau"] == second["NgayBatDau"] == "20250303080000"
    assert (
        second["NgayKetThucTheoQuyDinh"] == "" and second["NoiDungXuLy"] == "Không tiếp nhận hồ sơ: Sai mẫu"
    )
