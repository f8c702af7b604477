"""The XLSX of a Biểu 06 report with a view and revisions: the line saying which view the form shows,
the second sheet "Điều chỉnh sau chốt" (row, total and dossier changes since the filing), text cells
that never become formulas there, and a report without revisions laid out as before. The CSV stays the
form alone."""

from __future__ import annotations

import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from dossier_metrics.report_form import to_csv, to_xlsx
from tests.unit.metrics.conftest import AGENCY
from tests.unit.metrics.report_doubles import HONG_GAI

PERIOD = {"label": "2021-Q2", "from": "2021-03-15", "to": "2021-06-14"}
FORM_TITLE_LINE = "Biểu số 06: TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"
PERIOD_LINE = "Kỳ báo cáo: 2021-Q2 (từ ngày 2021-03-15 đến ngày 2021-06-14)"
FILED_AT = "2021-06-20T10:00:00Z"  # 17:00 in Vietnam
RECEIVED_ONLINE = "Số hồ sơ nhận giải quyết – Mới tiếp nhận trực tuyến"


def _counts(online: int = 1, withdrawn: int = 0) -> dict[str, Any]:
    return {
        "received": {"total": 2 + online, "carried_over": 1, "online": online, "direct": 0, "postal": 1},
        "resolved": {"total": 1, "early": 0, "on_time": 0, "late": 1},
        "pending": {"total": 2, "in_time": 1, "overdue": 1, "paused": 1},
        "withdrawn": withdrawn,
        "refused": 0,
        "rescheduled": 2,
    }


def _report(**extra: Any) -> dict[str, Any]:
    """An agency report of two rows, as the builder gives it before issue 13's keys, plus `extra`."""
    rows = [
        {"agency": AGENCY, "name": "Sở Tư pháp tỉnh Quảng Ninh", **_counts()},
        {"agency": HONG_GAI, "name": "@Phường Hồng Gai", **_counts(online=0)},
    ]
    return {"group_by": "agency", "period": PERIOD, "rows": rows, "total": _counts(online=1), **extra}


def _change(column: str, filed: int, live: int) -> dict[str, Any]:
    return {"column": column, "filed": filed, "live": live}


REVISIONS: dict[str, Any] = {
    "since": FILED_AT,
    "rows": [
        {
            "agency": AGENCY,
            "name": "Sở Tư pháp tỉnh Quảng Ninh",
            "changes": [_change("received.online", 1, 2), _change("withdrawn", 0, 1)],
        },
        {"agency": HONG_GAI, "name": "@Phường Hồng Gai", "changes": [_change("pending.overdue", 3, 1)]},
    ],
    "total": [_change("received.online", 1, 2), _change("withdrawn", 0, 1), _change("pending.overdue", 3, 1)],
    "dossiers": [
        {
            "dossier_code": '=HYPERLINK("http://x.example")',
            "agency": AGENCY,
            "changes": [_change("received.online", 0, 1), _change("withdrawn", 0, 1)],
            "events": [
                {"event_id": "ev-1", "recorded_at": "2021-06-21T01:30:05+00:00", "version": 7},
                {"event_id": "ev-2", "recorded_at": "2021-06-22T09:00:00+07:00", "version": 8},
            ],
        },
        {
            "dossier_code": "H49.12-210405-0002",
            "agency": HONG_GAI,
            "changes": [_change("pending.overdue", 1, 0)],
            "events": [{"event_id": "ev-3", "recorded_at": "2021-06-23T02:00:00Z", "version": 3}],
        },
    ],
    "dossiers_truncated": True,
}
FILED: dict[str, Any] = {
    "view": "filed",
    "as_of": FILED_AT,
    "filing": {"filed_at": FILED_AT, "deadline": FILED_AT},
}


def _sheets(data: bytes) -> list[Worksheet]:
    return list(load_workbook(io.BytesIO(data)).worksheets)


def _values(sheet: Worksheet) -> list[list[Any]]:
    """The cell values row by row, without the empty cells at the end of a row."""
    out = []
    for row in sheet.iter_rows(values_only=True):
        values = list(row)
        while values and values[-1] is None:
            values.pop()
        out.append(values)
    return out


def test_the_second_sheet_lists_the_changes_since_the_filing() -> None:
    form, revisions = _sheets(to_xlsx(_report(**FILED, revisions=REVISIONS)))
    assert (form.title, revisions.title) == ("Bieu06", "Điều chỉnh sau chốt")
    assert _values(revisions) == [
        ["ĐIỀU CHỈNH SAU CHỐT SỐ LIỆU – " + PERIOD_LINE],
        ["Chốt số liệu lúc 20/06/2021 17:00"],
        [],
        ["Mã đơn vị", "Tên đơn vị", "Chỉ tiêu", "Đã chốt", "Hiện tại", "Chênh lệch"],
        [AGENCY, "Sở Tư pháp tỉnh Quảng Ninh", RECEIVED_ONLINE, 1, 2, 1],
        [AGENCY, "Sở Tư pháp tỉnh Quảng Ninh", "Rút hồ sơ", 0, 1, 1],
        [HONG_GAI, "'@Phường Hồng Gai", "Số hồ sơ đang giải quyết – Quá hạn", 3, 1, -2],
        ["Tổng cộng", None, RECEIVED_ONLINE, 1, 2, 1],
        ["Tổng cộng", None, "Rút hồ sơ", 0, 1, 1],
        ["Tổng cộng", None, "Số hồ sơ đang giải quyết – Quá hạn", 3, 1, -2],
        [],
        ["Mã hồ sơ", "Cơ quan", "Thay đổi", "Sự kiện ghi nhận sau chốt"],
        [
            '\'=HYPERLINK("http://x.example")',
            AGENCY,
            f"{RECEIVED_ONLINE}: 0 → 1; Rút hồ sơ: 0 → 1",
            "ev-1 (21/06/2021 08:30:05); ev-2 (22/06/2021 09:00:00)",
        ],
        [
            "H49.12-210405-0002",
            HONG_GAI,
            "Số hồ sơ đang giải quyết – Quá hạn: 1 → 0",
            "ev-3 (23/06/2021 09:00:00)",
        ],
        ["Danh sách hồ sơ đã được rút gọn"],
    ]
    for row in revisions.iter_rows(min_row=5):
        for cell in row:
            if isinstance(cell.value, str):
                assert cell.data_type == "s", cell.coordinate
            elif cell.value is not None:
                assert isinstance(cell.value, int) and cell.data_type == "n", cell.coordinate
    assert not [
        c for sheet in (form, revisions) for row in sheet.iter_rows() for c in row if c.data_type == "f"
    ]


def test_the_change_rows_carry_the_key_columns_of_the_grouping() -> None:
    revisions = {
        **REVISIONS,
        "rows": [{"level": "district", "changes": [_change("resolved.late", 0, 1)]}],
        "total": [_change("resolved.late", 0, 1)],
        "dossiers": [],
        "dossiers_truncated": False,
    }
    report = _report(**FILED, revisions=revisions) | {"group_by": "level"}
    report["rows"] = [{"level": "district", **_counts()}]
    sheet = _sheets(to_xlsx(report))[1]
    assert _values(sheet)[3:] == [
        ["Cấp", "Chỉ tiêu", "Đã chốt", "Hiện tại", "Chênh lệch"],
        ["Cấp huyện", "Số hồ sơ đã giải quyết – Quá hạn", 0, 1, 1],
        ["Tổng cộng", "Số hồ sơ đã giải quyết – Quá hạn", 0, 1, 1],
        [],
        ["Mã hồ sơ", "Cơ quan", "Thay đổi", "Sự kiện ghi nhận sau chốt"],
    ]


def test_the_form_says_which_view_it_shows() -> None:
    views: dict[str, dict[str, Any]] = {
        "Số liệu đã chốt lúc 20/06/2021 17:00": FILED,
        "Số liệu theo hiểu biết của hệ thống lúc 01/07/2021 08:15:30": {
            "view": "as_of",
            "as_of": "2021-07-01T01:15:30+00:00",
            "filing": None,
        },
        "Số liệu hiện tại (chưa chốt)": {"view": "live", "as_of": None, "filing": None},
    }
    plain = _values(_sheets(to_xlsx(_report()))[0])
    for line, keys in views.items():
        sheets = _sheets(to_xlsx(_report(**keys, revisions=None)))
        assert len(sheets) == 1
        values = _values(sheets[0])
        assert values[:3] == [[FORM_TITLE_LINE], [PERIOD_LINE], [line]]
        assert values[3:] == plain[3:]  # the header stays on row 4, the rows on row 6


def test_a_report_without_revisions_is_the_form_alone_as_before() -> None:
    for report in (_report(), _report(revisions=None)):
        (sheet,) = _sheets(to_xlsx(report))
        values = _values(sheet)
        assert values[:3] == [[FORM_TITLE_LINE], [PERIOD_LINE], []]
        assert values[3][:3] == ["Mã đơn vị", "Tên đơn vị", "Số hồ sơ nhận giải quyết"]
        assert values[4][2:5] == ["Tổng số", "Từ kỳ trước chuyển qua", "Mới tiếp nhận trực tuyến"]
        assert values[5] == [
            AGENCY,
            "Sở Tư pháp tỉnh Quảng Ninh",
            3,
            1,
            1,
            0,
            1,
            1,
            0,
            0,
            1,
            2,
            1,
            1,
            1,
            0,
            0,
            2,
        ]
        assert values[6][:3] == [HONG_GAI, "'@Phường Hồng Gai", 2]
        assert values[7][0] == "Tổng cộng" and len(values) == 8
        assert sheet.freeze_panes == "C6"
        assert sorted(str(r) for r in sheet.merged_cells.ranges) == [
            "A1:R1", "A4:A5", "B4:B5", "C4:G4", "H4:K4", "L4:O4", "P4:R4",
        ]  # fmt: skip
    # the revisions add a sheet and change nothing on the form
    with_revisions = _sheets(to_xlsx(_report(revisions=REVISIONS)))
    assert len(with_revisions) == 2
    assert _values(with_revisions[0]) == _values(_sheets(to_xlsx(_report()))[0])


def test_the_csv_is_the_form_alone() -> None:
    assert to_csv(_report(**FILED, revisions=REVISIONS)) == to_csv(_report())


TRIGGERS = st.sampled_from(["", "=", "+", "-", "@", "\t"])
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
DATA_TEXT = st.builds(lambda prefix, rest: prefix + rest, TRIGGERS, TEXT)
COUNT = st.integers(min_value=0, max_value=10**6)


@settings(max_examples=40, deadline=None)
@given(code=DATA_TEXT, agency=DATA_TEXT, event_id=DATA_TEXT, name=DATA_TEXT, filed=COUNT, live=COUNT)
def test_data_text_stays_text_and_numbers_stay_numbers(
    code: str, agency: str, event_id: str, name: str, filed: int, live: int
) -> None:
    revisions = {
        "since": FILED_AT,
        "rows": [{"agency": agency, "name": name, "changes": [_change("refused", filed, live)]}],
        "total": [],
        "dossiers": [
            {
                "dossier_code": code,
                "agency": agency,
                "changes": [_change("refused", filed, live)],
                "events": [{"event_id": event_id, "recorded_at": FILED_AT, "version": 1}],
            }
        ],
        "dossiers_truncated": False,
    }
    sheet = _sheets(to_xlsx(_report(**FILED, revisions=revisions)))[1]
    change, dossier = sheet[5], sheet[8]
    guarded = [("'" + t if t[:1] in ("=", "+", "-", "@", "\t") else t) or None for t in (agency, name, code)]
    assert [c.value for c in change] == [guarded[0], guarded[1], "Dừng giải quyết", filed, live, live - filed]
    assert [c.value for c in dossier[:2]] == [guarded[2], guarded[0]]
    assert dossier[2].value == f"Dừng giải quyết: {filed} → {live}"
    assert dossier[3].value.endswith(" (20/06/2021 17:00:00)")
    assert [c.data_type for c in change[3:]] == ["n"] * 3
    assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    assert not [
        c for row in sheet.iter_rows() for c in row if isinstance(c.value, str) and c.data_type != "s"
    ]
