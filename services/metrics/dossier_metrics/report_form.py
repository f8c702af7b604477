"""The official form "Biểu 06" (Circular 01/2020/TT-VPCP): headings and the CSV / XLSX files.

The column groups follow the form: dossiers to handle (carried over + newly received by channel),
resolved (early, on time, late), pending at the end of the period (in time, overdue); the columns
the form keeps apart (withdrawn, refused, rescheduled, paused) follow them.

Text cells come from the catalog and the data (agency and procedure names, codes, fields); one that
starts with `=`, `+`, `-`, `@`, a tab or a carriage return would be read as a formula by spreadsheet
programs, so it gets a leading `'` (OWASP, "CSV injection"), in the CSV and in the XLSX alike.
Numbers stay numbers.

The XLSX says which view of the data its form shows (filed, as known at an instant, or live), and a
filed report revised since its filing gets a second sheet listing the changes: the row and total
cells whose live value differs from the filed one, and the dossiers behind them. The CSV is the form
alone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from dossier_core.calendar import VN_TZ

FORM_TITLE = "Biểu số 06: TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"

KEY_HEADINGS: dict[str, tuple[str, ...]] = {
    "agency": ("Mã đơn vị", "Tên đơn vị"),
    "level": ("Cấp",),
    "procedure": ("Mã TTHC", "Tên thủ tục hành chính"),
    "field": ("Lĩnh vực",),
    "field_level": ("Lĩnh vực", "Cấp"),
}
LEVEL_NAMES = {"province": "Cấp tỉnh", "district": "Cấp huyện", "commune": "Cấp xã", "ministry": "Cấp bộ"}


def new_received(row: dict[str, Any]) -> int:
    """A report row's (or total's) dossiers received within the period: online + direct + postal, the
    carried-over ones left out (what "4 tại chỗ" is a share of)."""
    received = row["received"]
    return int(received["online"] + received["direct"] + received["postal"])


# (group heading, [(sub-heading, path in the row dict)])
GROUPS: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    (
        "Số hồ sơ nhận giải quyết",
        (
            ("Tổng số", ("received", "total")),
            ("Từ kỳ trước chuyển qua", ("received", "carried_over")),
            ("Mới tiếp nhận trực tuyến", ("received", "online")),
            ("Mới tiếp nhận trực tiếp", ("received", "direct")),
            ("Mới tiếp nhận qua dịch vụ bưu chính", ("received", "postal")),
        ),
    ),
    (
        "Số hồ sơ đã giải quyết",
        (
            ("Tổng số", ("resolved", "total")),
            ("Trước hạn", ("resolved", "early")),
            ("Đúng hạn", ("resolved", "on_time")),
            ("Quá hạn", ("resolved", "late")),
        ),
    ),
    (
        "Số hồ sơ đang giải quyết",
        (
            ("Tổng số", ("pending", "total")),
            ("Trong hạn", ("pending", "in_time")),
            ("Quá hạn", ("pending", "overdue")),
            ("Trong đó tạm dừng (bổ sung, nghĩa vụ tài chính, tạm dừng)", ("pending", "paused")),
        ),
    ),
    (
        "Hồ sơ khác",
        (
            ("Rút hồ sơ", ("withdrawn",)),
            ("Dừng giải quyết", ("refused",)),
            ("Số lần hẹn lại (phiếu xin lỗi)", ("rescheduled",)),
        ),
    ),
)
TOTAL_LABEL = "Tổng cộng"
#: After the period line of a report in today's organisation (`structure=current`).
CURRENT_STRUCTURE_NOTE = (
    " – theo cơ cấu tổ chức hiện nay (số liệu của đơn vị đã sắp xếp được cộng vào đơn vị kế thừa)"
)
REVISIONS_SHEET = "Điều chỉnh sau chốt"
TRUNCATED_NOTE = "Danh sách hồ sơ đã được rút gọn"
CHANGE_HEADINGS = ("Chỉ tiêu", "Đã chốt", "Hiện tại", "Chênh lệch")
DOSSIER_HEADINGS = ("Mã hồ sơ", "Cơ quan", "Thay đổi", "Sự kiện ghi nhận sau chốt")

# "received.online" -> "Số hồ sơ nhận giải quyết – Mới tiếp nhận trực tuyến"; "withdrawn" -> "Rút hồ sơ"
COLUMN_HEADINGS = {
    ".".join(path): f"{group} – {sub}" if len(path) > 1 else sub
    for group, subs in GROUPS
    for sub, path in subs
}


def flat_headings(group_by: str) -> list[str]:
    """One heading row for CSV: 'Group - Sub'."""
    return [*KEY_HEADINGS[group_by], *(f"{g} - {sub}" for g, subs in GROUPS for sub, _ in subs)]


def form_figures(row: dict[str, Any]) -> list[int]:
    """A JSON report row's figures in the form's column order (as the CSV and XLSX give them)."""
    out = []
    for _, subs in GROUPS:
        for _, path in subs:
            value: Any = row
            for key in path:
                value = value[key]
            out.append(int(value))
    return out


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    """A text cell that no spreadsheet program reads as a formula."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def _key_cells(group_by: str, row: dict[str, Any]) -> list[str]:
    if group_by == "agency":
        cells = [row["agency"], row.get("name", "")]
    elif group_by == "level":
        cells = [LEVEL_NAMES.get(row["level"], row["level"])]
    elif group_by == "procedure":
        cells = [row["procedure"], row.get("name", "")]
    elif group_by == "field_level":
        cells = [row["field"], LEVEL_NAMES.get(row["level"], row["level"])]
    else:
        cells = [row["field"]]
    return [text_cell(str(cell)) for cell in cells]


def _total_cells(group_by: str) -> list[str]:
    return [TOTAL_LABEL] + [""] * (len(KEY_HEADINGS[group_by]) - 1)


def to_csv(report: dict[str, Any]) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs read the Vietnamese text."""
    group_by = report["group_by"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(flat_headings(group_by))
    for row in report["rows"]:
        writer.writerow([*_key_cells(group_by, row), *form_figures(row)])
    writer.writerow([*_total_cells(group_by), *form_figures(report["total"])])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(
    report: dict[str, Any],
    *,
    on_site: dict[str, Any] | None = None,
    catalogue: dict[str, Any] | None = None,
    indicators: dict[str, Any] | None = None,
    feedback: dict[str, Any] | None = None,
) -> bytes:
    """The form on the first sheet; the changes since filing on a second one when there are revisions;
    then "4 tại chỗ" (the rows of the same report by field and level), the catalogue, the Decision
    766/QĐ-TTg indicators and the citizen feedback section (phản ánh, kiến nghị), each when given."""
    from dossier_metrics.quarter_sheets import (
        catalogue_sheet,
        feedback_sheet,
        indicators_sheet,
        on_site_sheet,
    )

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    _form_sheet(sheet, report)
    if report.get("revisions") is not None:
        _revisions_sheet(book.create_sheet(REVISIONS_SHEET), report)
    if on_site is not None:
        on_site_sheet(book.create_sheet(), on_site, _period_line(on_site))
    if catalogue is not None:
        catalogue_sheet(book.create_sheet(), catalogue)
    if indicators is not None:
        indicators_sheet(book.create_sheet(), indicators, _period_line(indicators))
    if feedback is not None:
        feedback_sheet(book.create_sheet(), feedback, _period_line(report))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _form_sheet(sheet: Any, report: dict[str, Any]) -> None:
    group_by = report["group_by"]
    sheet.title = "Bieu06"
    keys = KEY_HEADINGS[group_by]
    width = len(keys) + sum(len(subs) for _, subs in GROUPS)
    sheet.append([FORM_TITLE])
    sheet.append([_period_line(report)])
    sheet.append([view_line(report)] if "view" in report else [])
    header_row = 4
    _header(sheet, header_row, keys)
    for row in report["rows"]:
        _append(sheet, _key_cells(group_by, row), form_figures(row))
    _append(sheet, _total_cells(group_by), form_figures(report["total"]))
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.freeze_panes = sheet.cell(row=header_row + 2, column=len(keys) + 1)
    for column in range(1, width + 1):
        sheet.column_dimensions[get_column_letter(column)].width = 14 if column > len(keys) else 30


def _period_line(report: dict[str, Any]) -> str:
    period = report["period"]
    line = f"Kỳ báo cáo: {period['label']} (từ ngày {period['from']} đến ngày {period['to']})"
    return line + CURRENT_STRUCTURE_NOTE if report.get("structure") == "current" else line


def local_time(instant: str, *, seconds: bool = False) -> str:
    """An ISO instant as Vietnam wall-clock time, `dd/mm/yyyy HH:MM` (`:SS` with seconds)."""
    local = datetime.fromisoformat(instant).astimezone(VN_TZ)
    return local.strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")


def view_line(report: dict[str, Any]) -> str:
    """Which view of the data the form shows: filed, as known at an instant, or live."""
    view = report["view"]
    if view == "filed":
        return f"Số liệu đã chốt lúc {local_time(report['filing']['filed_at'])}"
    if view == "as_of":
        return f"Số liệu theo hiểu biết của hệ thống lúc {local_time(report['as_of'], seconds=True)}"
    return "Số liệu hiện tại (chưa chốt)"


def _revisions_sheet(sheet: Any, report: dict[str, Any]) -> None:
    """The cells and dossiers whose live value differs from the filed one."""
    group_by = report["group_by"]
    revisions = report["revisions"]
    keys = KEY_HEADINGS[group_by]
    sheet.append([f"ĐIỀU CHỈNH SAU CHỐT SỐ LIỆU – {_period_line(report)}"])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([f"Chốt số liệu lúc {local_time(revisions['since'])}"])
    sheet.append([])
    _bold_row(sheet, [*keys, *CHANGE_HEADINGS])
    for row in revisions["rows"]:
        _append_changes(sheet, _key_cells(group_by, row), row["changes"])
    _append_changes(sheet, _total_cells(group_by), revisions["total"])
    sheet.append([])
    _bold_row(sheet, list(DOSSIER_HEADINGS))
    for dossier in revisions["dossiers"]:
        changes = "; ".join(
            f"{_heading(c['column'])}: {c['filed']} → {c['live']}" for c in dossier["changes"]
        )
        events = "; ".join(
            f"{e['event_id']} ({local_time(e['recorded_at'], seconds=True)})" for e in dossier["events"]
        )
        texts = (dossier["dossier_code"], dossier["agency"], changes, events)
        _append(sheet, [text_cell(str(text)) for text in texts], [])
    if revisions["dossiers_truncated"]:
        sheet.append([TRUNCATED_NOTE])
    for column, width in enumerate((30,) * len(keys) + (60, 14, 14, 14), start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width


def _heading(column: str) -> str:
    return COLUMN_HEADINGS.get(column, column)


def _append_changes(sheet: Any, key_cells: Sequence[str], changes: Sequence[dict[str, Any]]) -> None:
    for change in changes:
        filed, live = int(change["filed"]), int(change["live"])
        _append(sheet, [*key_cells, text_cell(_heading(change["column"]))], [filed, live, live - filed])


def _bold_row(sheet: Any, headings: Sequence[str]) -> None:
    sheet.append(list(headings))
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)


def _append(sheet: Any, texts: Sequence[str], numbers: Sequence[int]) -> None:
    """One row: text cells typed as strings (never formulas), then the numbers."""
    sheet.append([*texts, *numbers])
    for cell in sheet[sheet.max_row][: len(texts)]:
        cell.data_type = "s"


def _header(sheet: Any, top: int, keys: Sequence[str]) -> None:
    wrap = Alignment(horizontal="center", vertical="center", wrap_text=True)
    column = 1
    for key in keys:
        sheet.cell(row=top, column=column, value=key)
        sheet.merge_cells(start_row=top, start_column=column, end_row=top + 1, end_column=column)
        column += 1
    for group, subs in GROUPS:
        sheet.cell(row=top, column=column, value=group)
        sheet.merge_cells(start_row=top, start_column=column, end_row=top, end_column=column + len(subs) - 1)
        for offset, (sub, _) in enumerate(subs):
            sheet.cell(row=top + 1, column=column + offset, value=sub)
        column += len(subs)
    for row in sheet.iter_rows(min_row=top, max_row=top + 1):
        for cell in row:
            cell.alignment = wrap
            cell.font = Font(bold=True)
