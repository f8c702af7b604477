"""Chỉ số: the quarter's figures beyond Biểu 06, for the agencies of the session's key.

- the Decision 766/QĐ-TTg indicators per agency and in total (`GET /v1/reports/indicators`), with
  where the sync rate is and the indicators the data cannot give;
- "4 tại chỗ" by field and level (`GET /v1/reports/dossiers?group_by=field_level`, its `on_site`);
- citizen feedback (phản ánh, kiến nghị, `GET /v1/reports/feedback`);
- the catalogue facts (`GET /v1/reports/catalogue`): procedures by level, online services, integration
  with the national portal and the time cuts per agency in charge.

Each section is the report API's answer itself: the page calls the routes' own functions with the
session's key, so its numbers are the API's for the same data, its scope is the key's, and a report
refused by the gate or the database shows as the API's problem, in Vietnamese. The headings are the
quarterly workbook's (`quarter_sheets`), as the official forms word them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dossier_metrics.catalogue import catalogue_report
from dossier_metrics.console.report_page import report_choices, report_params
from dossier_metrics.console.web import Viewer, not_found_agency, page, templates, viewer
from dossier_metrics.feedback import feedback_report
from dossier_metrics.indicators import indicator_report
from dossier_metrics.quarter_sheets import (
    CATALOGUE_TITLE,
    CUT_HEADINGS,
    ELSEWHERE_HEADING,
    FEEDBACK_COLUMNS,
    FEEDBACK_TITLE,
    INDICATOR_COLUMNS,
    INDICATOR_TITLE,
    NOT_COMPUTED_HEADING,
    ON_SITE_HEADINGS,
    ON_SITE_TITLE,
    ONLINE_NAMES,
    SYNC_COLUMNS,
    UNSTATED,
)
from dossier_metrics.report_form import LEVEL_NAMES, new_received
from dossier_metrics.reports import report_response
from dossier_runtime.problems import Problem

__all__ = ["PATH", "router"]

PATH = "/chi-so"
router = APIRouter(include_in_schema=False)
Session = Annotated[Viewer, Depends(viewer)]

#: The catalogue's levels in the order of the report's sentence (province, district, commune, …).
CATALOGUE_LEVELS = {**LEVEL_NAMES, "unstated": UNSTATED}


def rate(value: float | None) -> str:
    """A rate the report API gives in percent (99.88) the Vietnamese way: '99,88 %'; None: '–'."""
    return "–" if value is None else f"{value:.2f}".replace(".", ",") + " %"


templates.filters["rate"] = rate


#: The report parameters as the page's form names them.
FIELD_NAMES = {"period": "Kỳ báo cáo", "from": "Từ ngày", "to": "Đến ngày", "agency": "Đơn vị"}
#: Why the report API answered 503, in Vietnamese (by the problem's title).
UNAVAILABLE = {
    "Too many reports at once": "Đang có quá nhiều báo cáo chạy cùng lúc.",
    "Report timed out": "Báo cáo chạy quá thời gian cho phép; hãy chọn kỳ ngắn hơn hoặc một đơn vị.",
    "Reports busy": "Cơ sở dữ liệu đang bận.",
    "Database unavailable": "Cơ sở dữ liệu chưa sẵn sàng.",
}


def problem_text(problem: Problem) -> str:
    """What the staff read for a problem of the report API."""
    if problem.status == 422:
        fields = sorted({FIELD_NAMES.get(e.get("field", ""), e.get("field", "")) for e in problem.errors})
        return "Tham số không hợp lệ, hãy kiểm tra lại: " + ", ".join(fields) + "."
    if problem.status in (403, 404):
        return "Đơn vị không có hoặc không thuộc phạm vi của khóa."
    if problem.status == 503:
        wait = (problem.headers or {}).get("Retry-After")
        again = f" Hãy thử lại sau {wait} giây." if wait else " Hãy thử lại sau."
        return UNAVAILABLE.get(problem.title, "Hệ thống đang bận.") + again
    return "Đã có lỗi khi lập số liệu."


def _body(answer: Response) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(bytes(answer.body))
    return loaded


async def read_sections(
    request: Request,
    view: Viewer,
    period: str | None,
    from_: str | None,
    to: str | None,
    agency: str | None,
) -> dict[str, Any]:
    """The four sections as the report API answers them for the session's key; a `Problem` (bad
    period, too many reports, database) is raised as the API raises it."""
    key = view.key
    indicators = _body(await indicator_report(request, key, period, from_, to, agency))
    on_site = _body(
        await report_response(
            request, key, period=period, from_=from_, to=to, agency=agency, group_by="field_level"
        )
    )
    feedback = _body(await feedback_report(request, key, period, from_, to, agency))
    catalogue = _body(await catalogue_report(request, key, agency=agency, format="json"))
    return {"indicators": indicators, "on_site": on_site, "feedback": feedback, "catalogue": catalogue}


@router.get(PATH)
async def indicators(
    request: Request,
    view: Session,
    period: str | None = None,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    agency: str | None = None,
) -> Response:
    choices = report_choices(view.now)
    params = report_params(period, from_, to, agency, choices.default)
    if params["agency"] is not None and params["agency"] not in view.tree:
        raise not_found_agency()
    sections: dict[str, Any] | None = None
    error: Problem | None = None
    try:
        sections = await read_sections(request, view, **params)
    except Problem as exc:
        error = exc
    answer = page(
        "indicators.html",
        200 if error is None else error.status,
        viewer=view,
        active=PATH,
        sections=sections,
        error=problem_text(error) if error is not None else None,
        params=params,
        choices=choices,
        options=view.tree.options(),
        new_dossiers=new_received,
        headings={
            "indicator_title": INDICATOR_TITLE,
            "indicator_columns": INDICATOR_COLUMNS + SYNC_COLUMNS,
            "elsewhere": ELSEWHERE_HEADING,
            "not_computed": NOT_COMPUTED_HEADING,
            "on_site_title": ON_SITE_TITLE,
            "on_site": ON_SITE_HEADINGS,
            "feedback_title": FEEDBACK_TITLE,
            "feedback_columns": FEEDBACK_COLUMNS,
            "catalogue_title": CATALOGUE_TITLE,
            "cuts": CUT_HEADINGS,
        },
        levels=CATALOGUE_LEVELS,
        online_names=ONLINE_NAMES,
    )
    if error is not None:
        answer.headers.update(error.headers or {})  # a 503's Retry-After, as the API sends it
    return answer
