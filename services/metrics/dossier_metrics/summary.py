"""`GET /v1/reports/summary`: a short Vietnamese summary (Markdown) of a period's key figures, in the
sentences a province's quarterly procedure-control report uses: the catalogue by level and its online
services, the dossiers received, resolved (early, on time, late) and pending, "4 tại chỗ", the
Decision 766/QĐ-TTg indicators, and citizen feedback (phản ánh, kiến nghị).

`summary_markdown` is a pure function of the sections the report API already answers (Biểu 06 by
agency, the catalogue, the indicators; feedback optional), so the text and the API never disagree.
Numbers are written the Vietnamese way: 270.990 (thousands), 99,88% (decimals)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from dossier_core.calendar import VN_TZ
from dossier_metrics.auth import Reader
from dossier_metrics.catalogue import catalogue_section
from dossier_metrics.indicators import checked_agency, indicator_section
from dossier_metrics.openapi import problems
from dossier_metrics.report_form import new_received
from dossier_metrics.report_params import PERIOD_PATTERN, FromDay, ScopedAgency, ToDay, resolve_period
from dossier_metrics.state import metrics_state

router = APIRouter(tags=["reports"])

MARKDOWN = "text/markdown; charset=utf-8"
_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


def number(value: int) -> str:
    """270990 → '270.990'."""
    return f"{value:,}".replace(",", ".")


def percent(value: float | None) -> str:
    """99.88 → '99,88%'; None → 'chưa có số liệu'."""
    if value is None:
        return "chưa có số liệu"
    return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",") + "%"


def _day(text: str) -> str:
    return date.fromisoformat(text).strftime("%d/%m/%Y")


def period_name(period: dict[str, str]) -> str:
    """'quý II năm 2021', '6 tháng đầu năm 2021', 'tháng 5 năm 2021', 'năm 2021', or the dates."""
    label = period["label"]
    year, _, part = label.partition("-")
    if year.isdigit() and len(year) == 4:
        if not part:
            return f"năm {year}"
        if part == "H1":
            return f"6 tháng đầu năm {year}"
        if part.startswith("Q") and part[1:].isdigit():
            return f"quý {_ROMAN[int(part[1:])]} năm {year}"
        if part.isdigit():
            return f"tháng {int(part)} năm {year}"
    return f"kỳ từ ngày {_day(period['from'])} đến ngày {_day(period['to'])}"


def _share(part: int, whole: int) -> str:
    return percent(round(100 * part / whole, 2) if whole else None)


def summary_markdown(
    report: dict[str, Any],
    catalogue: dict[str, Any],
    indicators: dict[str, Any],
    feedback: dict[str, Any] | None = None,
) -> str:
    """The summary of one period from its sections (`feedback`: the PAKN section, when there is one)."""
    period = report["period"]
    total = report["total"]
    received, resolved, pending = total["received"], total["resolved"], total["pending"]
    new = new_received(total)
    levels = catalogue["by_level"]
    online = catalogue["by_online_level"]
    integrated = catalogue["portal_integrated"]
    kpi = indicators["total"]
    lines = [
        f"# Kết quả giải quyết thủ tục hành chính {period_name(period)}",
        "",
        f"Kỳ báo cáo từ ngày {_day(period['from'])} đến ngày {_day(period['to'])}.",
        "",
        f"- Tổng số thủ tục hành chính: {number(catalogue['procedures'])} thủ tục, trong đó cấp tỉnh "
        f"{number(levels.get('province', 0))}, cấp huyện {number(levels.get('district', 0))}, cấp xã "
        f"{number(levels.get('commune', 0))}.",
        f"- Dịch vụ công trực tuyến: {number(catalogue['online_services'])} dịch vụ, trong đó "
        f"{number(online.get('partial', 0))} dịch vụ một phần (mức độ 3), {number(online.get('full', 0))} "
        f"dịch vụ toàn trình (mức độ 4); {number(integrated['count'])} thủ tục tích hợp trên Cổng Dịch vụ "
        f"công quốc gia ({percent(integrated['percent'])}).",
        f"- Tổng số hồ sơ tiếp nhận: {number(received['total'])} hồ sơ, trong đó từ kỳ trước chuyển qua "
        f"{number(received['carried_over'])}, mới tiếp nhận {number(new)} (trực tuyến "
        f"{number(received['online'])}, trực tiếp {number(received['direct'])}, qua dịch vụ bưu chính "
        f"{number(received['postal'])}).",
        f"- Đã giải quyết {number(resolved['total'])} hồ sơ: trước hạn {number(resolved['early'])}, "
        f"đúng hạn {number(resolved['on_time'])}, quá hạn {number(resolved['late'])} (tỷ lệ giải quyết "
        f"trước hạn và đúng hạn {_share(resolved['early'] + resolved['on_time'], resolved['total'])}).",
        f"- Đang giải quyết {number(pending['total'])} hồ sơ: trong hạn {number(pending['in_time'])}, "
        f"quá hạn {number(pending['overdue'])}.",
        f'- Giải quyết theo phương thức "4 tại chỗ": {number(total["on_site"])} hồ sơ '
        f"({_share(total['on_site'], new)} số hồ sơ mới tiếp nhận).",
        f"- Bộ chỉ số theo Quyết định 766/QĐ-TTg: tỷ lệ hồ sơ giải quyết trước hạn, đúng hạn "
        f"{percent(kpi['on_time_rate'])}; tỷ lệ hồ sơ tiếp nhận trực tuyến {percent(kpi['online_rate'])}; "
        f"tỷ lệ thanh toán trực tuyến {percent(kpi['online_payment_rate'])}; tỷ lệ hồ sơ được số hóa "
        f"{percent(kpi['digitisation_rate'])}; tỷ lệ hồ sơ đồng bộ lên Cổng Dịch vụ công quốc gia "
        f"{percent(kpi.get('sync_rate'))}.",
        _feedback_line(feedback),
    ]
    return "\n".join(lines) + "\n"


def _feedback_line(feedback: dict[str, Any] | None) -> str:
    """The PAKN sentence from the feedback section's total (`feedback.period_feedback`), or the
    statement that there is no feedback section."""
    if feedback is None:
        return "- Phản ánh, kiến nghị: chưa có số liệu trong báo cáo này."
    total = feedback["total"]
    return (
        f"- Tiếp nhận {number(total['received'])} phản ánh, kiến nghị: đã xử lý {number(total['answered'])} "
        f"(đã công khai kết quả {number(total['published'])}), đang xử lý {number(total['in_progress'])}."
    )


@router.get(
    "/v1/reports/summary",
    response_model=None,
    responses={
        200: {"description": "The summary (Markdown)", "content": {MARKDOWN: {"schema": {"type": "string"}}}},
        **problems(401, 403, 422, 503),
    },
)
async def summary_report(
    request: Request,
    key: Reader,
    period: Annotated[
        str | None,
        Query(description="YYYY, YYYY-H1, YYYY-Qn or YYYY-MM", json_schema_extra={"pattern": PERIOD_PATTERN}),
    ] = None,
    from_: FromDay = None,
    to: ToDay = None,
    agency: ScopedAgency = None,
) -> Response:
    """The period's key figures in Vietnamese sentences (Markdown), for the agencies the key allows."""
    chosen = resolve_period(period, from_, to)
    state = metrics_state(request)
    builder = state.reports
    await checked_agency(builder, key, agency)
    async with state.report_gate.guard(state.settings.report_statement_timeout_ms):
        report = await builder.build(chosen, agency, "agency", key)
        tree = await builder.scope(agency, None) if agency is not None else None
        catalogue = catalogue_section(builder.catalog, agency, key, tree)
        indicators = await indicator_section(builder, chosen, agency, key)
        feedback = await builder.feedback(chosen, agency, key) if builder.feedback else None
    text = summary_markdown(report, catalogue, indicators, feedback)
    text += f"\n_Số liệu tại thời điểm {datetime.now(VN_TZ).strftime('%H:%M ngày %d/%m/%Y')}._\n"
    return Response(text, media_type=MARKDOWN)
