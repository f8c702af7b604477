"""The quarterly report's sheets beside Biểu 06: "4 tại chỗ" (on-the-spot dossiers by field and level)
and the catalogue ("Danh mục TTHC": procedures by level, online services, integration with the national
portal, time cuts per agency, and each procedure's durations), with the catalogue's CSV.

Text cells go through `report_form.text_cell` (never read as formulas) and are typed as strings."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from dossier_metrics.report_form import LEVEL_NAMES, new_received, text_cell

ON_SITE_SHEET = "4 tại chỗ"
ON_SITE_TITLE = 'KẾT QUẢ GIẢI QUYẾT HỒ SƠ THEO PHƯƠNG THỨC "4 TẠI CHỖ"'
ON_SITE_HEADINGS = (
    "Lĩnh vực",
    "Cấp",
    "Số hồ sơ mới tiếp nhận",
    'Số hồ sơ giải quyết theo "4 tại chỗ"',
    'Tỷ lệ "4 tại chỗ" (%)',
)
CATALOGUE_SHEET = "Danh mục TTHC"
CATALOGUE_TITLE = "DANH MỤC THỦ TỤC HÀNH CHÍNH VÀ DỊCH VỤ CÔNG TRỰC TUYẾN"
UNSTATED = "Chưa xác định"
ONLINE_NAMES = {
    "partial": "Dịch vụ công trực tuyến một phần (mức độ 3)",
    "full": "Dịch vụ công trực tuyến toàn trình (mức độ 4)",
    "none": "Chưa cung cấp trực tuyến",
}
UNIT_NAMES = {
    "working_days": "Ngày làm việc",
    "working_hours": "Giờ làm việc",
    "calendar_days": "Ngày",
    "same_day": "Trong ngày",
    "none": "Không quy định",
}
CUT_HEADINGS = (
    "Mã đơn vị",
    "Tên đơn vị chủ trì",
    "Số TTHC",
    "Số TTHC có thời hạn giải quyết",
    "Số TTHC cắt giảm thời gian",
    "Tỷ lệ cắt giảm thời gian bình quân (%)",
)
PROCEDURE_HEADINGS = (
    "Mã TTHC",
    "Tên thủ tục hành chính",
    "Lĩnh vực",
    "Cấp",
    "Cơ quan chủ trì",
    "Đơn vị tính thời hạn",
    "Thời hạn theo quy định",
    "Thời hạn áp dụng tại tỉnh",
    "Thời hạn trực tuyến theo quy định",
    "Thời hạn trực tuyến áp dụng",
    "Tỷ lệ cắt giảm (%)",
    "Mức độ trực tuyến",
    "Tích hợp Cổng Dịch vụ công quốc gia",
)
YES_NO = {True: "Có", False: "Không", None: UNSTATED}


def _level(value: str | None) -> str:
    return LEVEL_NAMES.get(value or "", value or UNSTATED)


def _append(sheet: Any, cells: Sequence[Any]) -> None:
    """One row: text cells as strings (never formulas), numbers as numbers, None as empty."""
    sheet.append([text_cell(c) if isinstance(c, str) else c for c in cells])
    for cell, value in zip(sheet[sheet.max_row], cells, strict=False):
        if isinstance(value, str):
            cell.data_type = "s"


def _bold(sheet: Any, cells: Sequence[Any]) -> None:
    _append(sheet, cells)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)


def _widths(sheet: Any, widths: Sequence[int]) -> None:
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width


def on_site_sheet(sheet: Any, report: dict[str, Any], period_line: str) -> None:
    """The rows of a `group_by=field_level` report: new dossiers, on-the-spot ones and their rate."""
    sheet.title = ON_SITE_SHEET
    sheet.append([ON_SITE_TITLE])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([period_line])
    sheet.append([])
    _bold(sheet, ON_SITE_HEADINGS)
    for row in report["rows"]:
        new = new_received(row)
        _append(sheet, [row["field"], _level(row["level"]), new, row["on_site"], row["on_site_rate"]])
    total = report["total"]
    _bold(sheet, ["Tổng cộng", "", new_received(total), total["on_site"], total["on_site_rate"]])
    _widths(sheet, (40, 14, 16, 20, 16))


def catalogue_sheet(sheet: Any, section: dict[str, Any]) -> None:
    """The catalogue's figures, its time cuts per agency and its procedures."""
    sheet.title = CATALOGUE_SHEET
    sheet.append([CATALOGUE_TITLE])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([])
    _append(sheet, ["Tổng số thủ tục hành chính", section["procedures"]])
    for level, count in section["by_level"].items():
        if count or (level in LEVEL_NAMES and level != "ministry"):
            _append(sheet, [f"– {_level(None if level == 'unstated' else level)}", count])
    _append(sheet, ["Dịch vụ công trực tuyến", section["online_services"]])
    for level, count in section["by_online_level"].items():
        _append(sheet, [f"– {ONLINE_NAMES[level]}", count])
    integrated = section["portal_integrated"]
    _append(sheet, ["Tích hợp, cung cấp trên Cổng Dịch vụ công quốc gia", integrated["count"]])
    _append(sheet, ["– Tỷ lệ (%)", integrated["percent"]])
    sheet.append([])
    _bold(sheet, ["CẮT GIẢM THỜI GIAN GIẢI QUYẾT THEO ĐƠN VỊ CHỦ TRÌ"])
    _bold(sheet, CUT_HEADINGS)
    for cuts in section["time_cuts"]:
        figures = (cuts["procedures"], cuts["with_duration"], cuts["shortened"], cuts["average_cut_percent"])
        _append(sheet, [cuts["agency"], cuts.get("name", ""), *figures])
    total = section["time_cuts_total"]
    figures = (total["procedures"], total["with_duration"], total["shortened"], total["average_cut_percent"])
    _bold(sheet, ["Tổng cộng", "", *figures])
    sheet.append([])
    _bold(sheet, ["DANH SÁCH THỦ TỤC HÀNH CHÍNH"])
    _bold(sheet, PROCEDURE_HEADINGS)
    for row in section["rows"]:
        _append(sheet, procedure_cells(row))
    _widths(sheet, (48, 40, 24, 14, 16, 16, 14, 14, 14, 14, 12, 30, 14))


def procedure_cells(row: dict[str, Any]) -> list[Any]:
    """One procedure's cells in `PROCEDURE_HEADINGS` order."""
    return [
        row["procedure"],
        row["name"],
        row["field"],
        _level(row["level"]),
        row["agency"] or "",
        UNIT_NAMES.get(row["unit"], row["unit"]),
        row["legal_duration"],
        row["applied_duration"],
        row["legal_online_duration"],
        row["applied_online_duration"],
        row["time_cut_percent"],
        ONLINE_NAMES.get(row["online_level"], row["online_level"]),
        YES_NO[row["portal_integrated"]],
    ]


def catalogue_xlsx(section: dict[str, Any]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    catalogue_sheet(sheet, section)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def catalogue_csv(section: dict[str, Any]) -> bytes:
    """The procedures with their catalogue facts (UTF-8 with a byte-order mark)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(PROCEDURE_HEADINGS)
    for row in section["rows"]:
        writer.writerow(
            ["" if c is None else text_cell(c) if isinstance(c, str) else c for c in procedure_cells(row)]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


INDICATOR_SHEET = "Chỉ số 766"
INDICATOR_TITLE = (
    "KẾT QUẢ BỘ CHỈ SỐ CHỈ ĐẠO, ĐIỀU HÀNH VÀ ĐÁNH GIÁ CHẤT LƯỢNG PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP"
    " (QUYẾT ĐỊNH SỐ 766/QĐ-TTg)"
)
#: (heading, the row's key) of each column after the agency's code, name and level.
INDICATOR_COLUMNS = (
    ("Số hồ sơ mới tiếp nhận", "received"),
    ("Số hồ sơ tiếp nhận trực tuyến", "received_online"),
    ("Tỷ lệ hồ sơ tiếp nhận trực tuyến (%)", "online_rate"),
    ("Số hồ sơ đã giải quyết", "resolved"),
    ("Số hồ sơ giải quyết trước hạn, đúng hạn", "resolved_in_time"),
    ("Tỷ lệ hồ sơ giải quyết trước hạn, đúng hạn (%)", "on_time_rate"),
    ("Số hồ sơ đã thanh toán phí, lệ phí", "paid"),
    ("Số hồ sơ thanh toán trực tuyến", "paid_online"),
    ("Tỷ lệ hồ sơ thanh toán trực tuyến (%)", "online_payment_rate"),
    ("Số hồ sơ được số hóa", "digitised"),
    ("Tỷ lệ hồ sơ được số hóa (%)", "digitisation_rate"),
)
#: the sync rate with the national portal, as of processing's latest record per agency (a state, not the
#: period's; empty without a record)
SYNC_COLUMNS = (
    ("Số hồ sơ đã tiếp nhận (đối chiếu Cổng DVCQG)", "portal_received"),
    ("Số hồ sơ đã đồng bộ lên Cổng DVCQG", "portal_synced"),
    ("Tỷ lệ hồ sơ đồng bộ lên Cổng DVCQG (%)", "sync_rate"),
)
INDICATOR_HEADINGS = (
    "Mã đơn vị",
    "Tên đơn vị",
    "Cấp",
    *(heading for heading, _ in INDICATOR_COLUMNS),
    *(heading for heading, _ in SYNC_COLUMNS),
)
ELSEWHERE_HEADING = "Chỉ số tính ở nơi khác"
NOT_COMPUTED_HEADING = "Chỉ số chưa tính được từ dữ liệu hồ sơ"
FEEDBACK_SHEET = "Phản ánh, kiến nghị"


def indicators_sheet(sheet: Any, section: dict[str, Any], period_line: str) -> None:
    """The indicator section (`/v1/reports/indicators`): a row per agency and the total (the sync rate
    with the national portal last, as of processing's latest record), then where the sync rate comes
    from and the indicators this data cannot give."""
    sheet.title = INDICATOR_SHEET
    _bold(sheet, [INDICATOR_TITLE])
    _append(sheet, [period_line])
    _append(sheet, [section["source"]])
    _bold(sheet, INDICATOR_HEADINGS)
    for row in section["rows"]:
        _append(sheet, [row["agency"], row["name"], _level(row["level"]), *_figures(row)])
    _bold(sheet, ["Tổng cộng", "", "", *_figures(section["total"])])
    sheet.append([])
    _bold(sheet, [ELSEWHERE_HEADING])
    for item in section["elsewhere"]:
        _append(sheet, [item["name"], item["where"]])
    _bold(sheet, [NOT_COMPUTED_HEADING])
    for item in section["not_computed"]:
        _append(sheet, [item["name"], item["reason"]])
    _widths(sheet, [18, 40, 12, *([16] * (len(INDICATOR_COLUMNS) + len(SYNC_COLUMNS)))])


def _figures(row: dict[str, Any]) -> list[Any]:
    return [row[key] for _, key in INDICATOR_COLUMNS] + [row.get(key) for _, key in SYNC_COLUMNS]


FEEDBACK_TITLE = "TÌNH HÌNH TIẾP NHẬN, XỬ LÝ PHẢN ÁNH, KIẾN NGHỊ"
#: (heading, the section's figure) of each column after the agency's code and name.
FEEDBACK_COLUMNS = (
    ("Số phản ánh, kiến nghị tiếp nhận", "received"),
    ("Đang xử lý", "in_progress"),
    ("Đã xử lý", "answered"),
    ("Đã công khai kết quả xử lý", "published"),
    ("Rút phản ánh, kiến nghị", "withdrawn"),
    ("Quá hạn xử lý", "overdue"),
    ("Xử lý quá hạn", "answered_late"),
)
FEEDBACK_HEADINGS = ("Mã đơn vị", "Tên đơn vị", *(heading for heading, _ in FEEDBACK_COLUMNS))


def feedback_sheet(sheet: Any, section: dict[str, Any], period_line: str) -> None:
    """The citizen feedback section (`/v1/reports/feedback`): a row per agency and the total."""
    sheet.title = FEEDBACK_SHEET
    _bold(sheet, [FEEDBACK_TITLE])
    _append(sheet, [period_line])
    _bold(sheet, FEEDBACK_HEADINGS)
    for row in section["rows"]:
        _append(sheet, [row["agency"], row.get("name", ""), *(row[key] for _, key in FEEDBACK_COLUMNS)])
    _bold(sheet, ["Tổng cộng", "", *(section["total"][key] for _, key in FEEDBACK_COLUMNS)])
    _widths(sheet, [18, 40, *([16] * len(FEEDBACK_COLUMNS))])
