"""`GET /v1/reports/indicators`: the Decision 766/QĐ-TTg indicators the dossiers' data supports, per
agency and for the whole scope (the province for a key that sees every agency), over a named period
or a from…to range, live (`dossier_core.indicators` for the counts and formulas; docs/domain.md for
the sources).

Each row holds the counts and the rates made of them: on-time rate (resolved early or on time ÷
resolved), online share (received online ÷ received), online payment (dossiers with a fee paid online
÷ those whose payment named a channel), digitisation (received with the `digitised` flag ÷ received).
The sync rate with the national portal is the push worker's state, not a period's figure: processing
publishes it per agency on `portal.sync.v1` (`dossier_metrics.portal_sync` keeps the latest record in
`portal_sync`), and each row and the total carry it as of that record (`portal_received`,
`portal_synced`, `sync_rate`, `sync_as_of`; null for an agency without a record). It is named under
`elsewhere` too, with its Prometheus series and records. The indicators this data cannot give are
listed under `not_computed`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from dossier_contracts.portal_sync import AgencySyncRecord
from dossier_core.calendar import VN_TZ
from dossier_core.indicators import IndicatorCounts, rate
from dossier_core.periods import Period
from dossier_metrics.auth import Reader, forbidden
from dossier_metrics.openapi import problems
from dossier_metrics.report_params import (
    PERIOD_PATTERN,
    FromDay,
    ScopedAgency,
    ToDay,
    invalid,
    resolve_period,
)
from dossier_metrics.state import metrics_state
from dossier_runtime.api_keys import ApiKey

if TYPE_CHECKING:
    from dossier_metrics.reports import ReportBuilder

router = APIRouter(tags=["reports"])

SOURCE = (
    "Quyết định 766/QĐ-TTg ngày 23/6/2022 của Thủ tướng Chính phủ phê duyệt Bộ chỉ số chỉ đạo, điều hành"
    " và đánh giá chất lượng phục vụ người dân, doanh nghiệp trong thực hiện thủ tục hành chính, dịch vụ"
    " công theo thời gian thực trên môi trường điện tử"
)
#: The indicators computed here: key, Vietnamese name (as the Decision's groups name them), formula.
INDICATORS: tuple[dict[str, str], ...] = (
    {
        "key": "on_time_rate",
        "group": "Tiến độ, kết quả giải quyết",
        "name": "Tỷ lệ hồ sơ giải quyết trước hạn, đúng hạn",
        "formula": "resolved_in_time ÷ resolved × 100",
    },
    {
        "key": "online_rate",
        "group": "Cung cấp dịch vụ trực tuyến",
        "name": "Tỷ lệ hồ sơ tiếp nhận trực tuyến",
        "formula": "received_online ÷ received × 100",
    },
    {
        "key": "online_payment_rate",
        "group": "Cung cấp dịch vụ trực tuyến",
        "name": "Tỷ lệ hồ sơ thanh toán trực tuyến",
        "formula": "paid_online ÷ paid × 100",
    },
    {
        "key": "digitisation_rate",
        "group": "Số hóa hồ sơ",
        "name": "Tỷ lệ hồ sơ được số hóa",
        "formula": "digitised ÷ received × 100",
    },
)
#: Computed, but not from the dossiers' facts: where the figure is.
ELSEWHERE: tuple[dict[str, str], ...] = (
    {
        "key": "sync_rate",
        "group": "Công khai, minh bạch",
        "name": "Tỷ lệ hồ sơ đồng bộ lên Cổng Dịch vụ công quốc gia",
        "formula": "synced ÷ (synced + pending + failed + parked) × 100, received dossiers",
        "where": "this report's rows as of processing's latest record (portal_synced ÷ portal_received);"
        " processing /metrics: processing_portal_dossiers{agency_code,state}; Prometheus records:"
        " agency:dossier_portal_synced:ratio and province:dossier_portal_synced:ratio",
    },
)
#: The Decision's indicators this system's data cannot give, and why.
NOT_COMPUTED: tuple[dict[str, str], ...] = (
    {
        "name": "Tỷ lệ TTHC công bố, cập nhật, công khai đúng hạn và đầy đủ",
        "reason": "needs the dates procedures were announced and published, which the catalogue lacks",
    },
    {
        "name": "Thời gian giải quyết TTHC trung bình theo từng TTHC",
        "reason": "needs the whole time from receipt to result by procedure; not yet a report figure",
    },
    {
        "name": "Tỷ lệ TTHC cung cấp dịch vụ công trực tuyến; tỷ lệ TTHC có phát sinh hồ sơ trực tuyến",
        "reason": "procedure counts by online level are in the catalogue section (/v1/reports/catalogue),"
        " not per dossier",
    },
    {
        "name": "Tỷ lệ cấp kết quả điện tử; tỷ lệ khai thác, sử dụng lại dữ liệu số hóa",
        "reason": "no event carries the result's form or the reuse of digitised papers",
    },
    {
        "name": "Mức độ hài lòng trong tiếp nhận, giải quyết TTHC",
        "reason": "no event carries the citizen's satisfaction rating",
    },
    {
        "name": "Tỷ lệ phản ánh, kiến nghị xử lý đúng hạn; tỷ lệ hài lòng trong xử lý phản ánh, kiến nghị",
        "reason": "citizen feedback (PAKN) is its own stream, reported in its own section",
    },
)


def row_of(counts: IndicatorCounts) -> dict[str, Any]:
    return counts.to_dict()


async def indicator_section(
    builder: ReportBuilder, period: Period, agency: str | None, key: ApiKey | None
) -> dict[str, Any]:
    """The section for `key` (None: every agency): a row per agency of the scope valid in the period
    or with dossiers in it, and their total."""
    scope = await builder.scope(agency, key)
    found = await builder.store.indicator_rows(period, sorted(scope) if scope is not None else None)
    codes = set(found) | set(builder.zero_rows(period, scope, "agency"))
    synced = await builder.store.sync_records(sorted(codes))
    rows, total = [], IndicatorCounts()
    for code in sorted(codes):
        counts = found.get(code, IndicatorCounts())
        total = total + counts
        known = builder.catalog.agencies.get(code)
        level = str(known.level) if known is not None else ""
        rows.append(
            {
                "agency": code,
                "name": known.name if known else "",
                "level": level,
                **row_of(counts),
                **sync_of([synced[code]] if code in synced else []),
            }
        )
    return {
        "period": {"label": period.label, "from": period.start.isoformat(), "to": period.end.isoformat()},
        "agency": agency,
        "view": "live",
        "source": SOURCE,
        "indicators": list(INDICATORS),
        "elsewhere": list(ELSEWHERE),
        "not_computed": list(NOT_COMPUTED),
        "rows": rows,
        "total": {**row_of(total), **sync_of(list(synced.values()))},
    }


def sync_of(records: list[AgencySyncRecord]) -> dict[str, Any]:
    """The sync rate of these agencies' latest records together (all null without a record)."""
    if not records:
        return {"portal_received": None, "portal_synced": None, "sync_rate": None, "sync_as_of": None}
    received = sum(r.received for r in records)
    synced = sum(r.synced for r in records)
    return {
        "portal_received": received,
        "portal_synced": synced,
        "sync_rate": rate(synced, received),
        "sync_as_of": min(r.as_of for r in records).astimezone(VN_TZ).isoformat(),
    }


class IndicatorRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    received: int = Field(ge=0, description="received within the period (new)")
    received_online: int = Field(ge=0)
    digitised: int = Field(ge=0, description="received within the period with the digitised flag")
    paid: int = Field(ge=0, description="received within the period, a fee payment naming its channel")
    paid_online: int = Field(ge=0, description="received within the period, a fee paid online")
    resolved: int = Field(ge=0, description="resolved within the period")
    resolved_in_time: int = Field(ge=0, description="resolved within the period early or on time")
    on_time_rate: float | None
    online_rate: float | None
    online_payment_rate: float | None
    digitisation_rate: float | None
    portal_received: int | None = Field(
        default=None, ge=0, description="received dossiers, as of processing's latest sync record"
    )
    portal_synced: int | None = Field(
        default=None, ge=0, description="of them, synced with the national portal"
    )
    sync_rate: float | None = Field(default=None, description="portal_synced ÷ portal_received × 100")
    sync_as_of: str | None = Field(
        default=None, description="when processing read them (the oldest record's)"
    )


class IndicatorReport(BaseModel):
    model_config = ConfigDict(extra="allow")

    period: dict[str, str]
    agency: str | None
    view: str
    source: str
    indicators: list[dict[str, str]]
    elsewhere: list[dict[str, str]]
    not_computed: list[dict[str, str]]
    rows: list[IndicatorRow]
    total: IndicatorRow
    generated_at: str


async def checked_agency(builder: ReportBuilder, key: ApiKey, agency: str | None) -> None:
    if agency is None:
        return
    if not key.allows(agency):
        raise forbidden(agency)
    if agency not in builder.catalog.agencies:
        raise invalid("agency", f"unknown agency {agency!r}")


@router.get(
    "/v1/reports/indicators",
    response_model=IndicatorReport,
    responses=problems(401, 403, 422, 503),
)
async def indicator_report(
    request: Request,
    key: Reader,
    period: Annotated[
        str | None,
        Query(
            description="YYYY, YYYY-H1, YYYY-Qn or YYYY-MM; or from and to",
            json_schema_extra={"pattern": PERIOD_PATTERN},
        ),
    ] = None,
    from_: FromDay = None,
    to: ToDay = None,
    agency: ScopedAgency = None,
) -> JSONResponse:
    """Decision 766/QĐ-TTg indicators per agency and in total, live."""
    chosen = resolve_period(period, from_, to)
    state = metrics_state(request)
    builder = state.reports
    await checked_agency(builder, key, agency)
    async with state.report_gate.guard(state.settings.report_statement_timeout_ms):
        section = await indicator_section(builder, chosen, agency, key)
    section["generated_at"] = datetime.now(VN_TZ).isoformat()
    return JSONResponse(section)
