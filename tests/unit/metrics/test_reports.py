"""The Biểu 06 report: rows for carried-over, paused and rescheduled dossiers, the 14th/15th
cut-off, grouping, exports and problem responses for bad parameters."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook

from dossier_contracts.snapshot_codec import dossier_to_snapshot
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.dossier import Dossier
from dossier_core.periods import parse_period
from dossier_metrics import reports
from dossier_metrics.reports import ReportBuilder
from dossier_runtime.problems import install_problem_handlers

AGENCY = "000.00.12.H49"  # Sở Tư pháp
MakeDossier = Callable[..., Dossier]


def vn(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VN_TZ)


HA_LONG = "000.00.31.H49"  # district; wards 000.0x.31.H49 below it
HONG_GAI = "000.01.31.H49"


class SnapshotList:
    """In-memory stand-in for the store with the same pre-filter as its SQL."""

    def __init__(self, catalog: Catalog, dossiers: Sequence[Dossier]) -> None:
        calendar = catalog.calendar()
        self.rows = [
            (
                d,
                dossier_to_snapshot(
                    d, version=1, changed_at=vn("2021-07-01 00:00"), field="Hộ tịch", calendar=calendar
                ).SerializeToString(),
            )
            for d in dossiers
        ]

    async def snapshots_for_period(
        self, start: datetime, end: datetime, agencies: Sequence[str] | None
    ) -> AsyncIterator[tuple[str, bytes]]:
        for dossier, payload in self.rows:
            if dossier.received_at is None or dossier.received_at >= end:
                continue
            if dossier.ended_at is not None and dossier.ended_at < start:
                continue
            if agencies is None or dossier.agency_code in agencies:
                yield "Hộ tịch", payload


def _row(report: dict[str, Any], key: str = AGENCY) -> dict[str, Any]:
    return next(r for r in report["rows"] if r.get("agency", r.get("level")) == key)


async def test_carried_over_paused_and_rescheduled(catalog: Catalog, make_dossier: MakeDossier) -> None:
    dossiers = [
        # received before Q2 (which opens 15 March), still open at its end
        make_dossier(("received", vn("2021-03-10 09:00")), channel="direct"),
        # new in Q2, paused for a fee at the end of the period
        make_dossier(("received", vn("2021-06-01 09:00")), ("fee_requested", vn("2021-06-02 09:00"))),
        # new in Q2, rescheduled twice, resolved after its legal deadline
        make_dossier(
            ("received", vn("2021-04-05 09:00")),
            ("rescheduled", vn("2021-04-07 09:00"), {"new_appointment_at": "2021-04-12T09:00:00+07:00"}),
            ("rescheduled", vn("2021-04-12 09:00"), {"new_appointment_at": "2021-04-14T09:00:00+07:00"}),
            ("resolved", vn("2021-04-14 09:00")),
            channel="postal",
        ),
        # resolved before Q2: not in the report
        make_dossier(("received", vn("2021-03-01 09:00")), ("resolved", vn("2021-03-02 09:00"))),
    ]
    builder = ReportBuilder(catalog, SnapshotList(catalog, dossiers))
    report = await builder.build(parse_period("2021-Q2"), None, "agency")
    row = _row(report)
    assert row["received"] == {"total": 3, "carried_over": 1, "online": 1, "direct": 0, "postal": 1}
    assert row["resolved"] == {"total": 1, "early": 0, "on_time": 0, "late": 1}
    assert row["pending"] == {"total": 2, "in_time": 1, "overdue": 1, "paused": 1}
    assert row["rescheduled"] == 2
    assert report["total"] == {k: v for k, v in row.items() if k not in ("agency", "name")}
    assert report["period"] == {"label": "2021-Q2", "from": "2021-03-15", "to": "2021-06-14"}
    # zero rows for every other agency that existed in the period
    period = parse_period("2021-Q2")
    existing = [
        a
        for a in catalog.agencies.values()
        if (a.valid_from is None or a.valid_from <= period.end)
        and (a.valid_to is None or a.valid_to >= period.start)
    ]
    assert len(report["rows"]) == len(existing)


async def test_cut_off_between_the_14th_and_the_15th(catalog: Catalog, make_dossier: MakeDossier) -> None:
    dossiers = [
        make_dossier(("received", vn("2021-03-14 16:59"))),  # Q1 → carried over into Q2
        make_dossier(("received", vn("2021-03-15 07:00"))),  # new in Q2
        make_dossier(("received", vn("2021-06-01 09:00")), ("resolved", vn("2021-06-14 23:59"))),  # in Q2
        make_dossier(("received", vn("2021-06-10 09:00")), ("resolved", vn("2021-06-15 00:00"))),  # after Q2
        make_dossier(("received", vn("2021-06-15 00:00"))),  # Q3
    ]
    builder = ReportBuilder(catalog, SnapshotList(catalog, dossiers))
    q2 = _row(await builder.build(parse_period("2021-Q2"), AGENCY, "agency"))
    assert q2["received"]["carried_over"] == 1
    assert q2["received"]["online"] == 3
    assert q2["resolved"]["total"] == 1
    assert q2["pending"]["total"] == 3  # the one resolved on 15 June was still pending at the cut-off
    june = _row(await builder.build(parse_period("2021-06"), AGENCY, "agency"))  # 15 May – 14 June
    assert june["received"] == {"total": 4, "carried_over": 2, "online": 2, "direct": 0, "postal": 0}
    july = _row(await builder.build(parse_period("2021-07"), AGENCY, "agency"))
    assert july["received"]["carried_over"] == 3 and july["received"]["online"] == 1
    assert july["resolved"]["total"] == 1


async def test_level_rows_and_an_agency_with_its_sub_agencies(
    catalog: Catalog, make_dossier: MakeDossier
) -> None:
    dossiers = [
        make_dossier(("received", vn("2021-04-05 09:00")), agency=HA_LONG),
        make_dossier(("received", vn("2021-04-05 09:00")), agency=HONG_GAI),
        make_dossier(("received", vn("2021-04-05 09:00")), agency=HONG_GAI),
        make_dossier(("received", vn("2021-04-05 09:00"))),  # province level, outside Hạ Long
    ]
    builder = ReportBuilder(catalog, SnapshotList(catalog, dossiers))
    by_level = await builder.build(parse_period("2021-Q2"), HA_LONG, "level")
    assert [(r["level"], r["received"]["total"]) for r in by_level["rows"]] == [
        ("commune", 2),
        ("district", 1),
    ]
    assert by_level["total"]["received"]["total"] == 3
    whole = await builder.build(parse_period("2021-Q2"), None, "level")
    assert {r["level"]: r["received"]["total"] for r in whole["rows"]} == {
        "commune": 2,
        "district": 1,
        "province": 1,
    }
    by_field = await builder.build(parse_period("2021-Q2"), None, "field")
    assert by_field["rows"][0]["field"] == "Hộ tịch"


@pytest.fixture
def client(catalog: Catalog, make_dossier: MakeDossier) -> httpx.AsyncClient:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(reports.router)
    dossiers = [make_dossier(("received", vn("2021-04-05 09:00")))]
    app.state.reports = ReportBuilder(catalog, SnapshotList(catalog, dossiers))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://metrics")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=2021-Q5", "period"),
        ("period=2021-Q2&from=2021-01-01&to=2021-02-01", "period"),
        ("from=2021-01-01", "period"),
        ("from=2021-13-01&to=2021-12-01", "from"),
        ("from=2021-02-01&to=2021-01-01", "to"),
        ("period=2021&group_by=district", "group_by"),
        ("period=2021&format=pdf", "format"),
        ("period=2021&agency=000.99.99.H49", "agency"),
    ],
)
async def test_bad_parameters_are_problem_details(client: httpx.AsyncClient, query: str, field: str) -> None:
    response = await client.get(f"/v1/reports/dossiers?{query}")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_csv_and_xlsx_carry_the_form_headings(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/reports/dossiers?from=2021-04-01&to=2021-04-30&agency=" + AGENCY + "&format=csv"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Mã đơn vị", "Tên đơn vị", "Số hồ sơ nhận giải quyết - Tổng số"]
    assert "Số hồ sơ đang giải quyết - Quá hạn" in rows[0]
    assert rows[1][:3] == [AGENCY, "Sở Tư pháp tỉnh Quảng Ninh", "1"]
    assert rows[-1][0] == "Tổng cộng"

    response = await client.get("/v1/reports/dossiers?period=2021-Q2&group_by=procedure&format=xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0].startswith("Biểu số 06")
    assert values[3][:3] == ["Mã TTHC", "Tên thủ tục hành chính", "Số hồ sơ nhận giải quyết"]
    assert values[4][2:5] == ["Tổng số", "Từ kỳ trước chuyển qua", "Mới tiếp nhận trực tuyến"]
    assert values[5][0] == "1.004194" and values[5][2] == 1
    assert values[-1][0] == "Tổng cộng"


async def test_json_report_has_rows_total_and_period(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/reports/dossiers?period=2021-04&group_by=agency")
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"label": "2021-04", "from": "2021-03-15", "to": "2021-04-14"}
    assert body["total"]["received"]["total"] == 1 == body["total"]["pending"]["overdue"]
    assert body["pending_judged_at"] == "2021-04-15T00:00:00+07:00"
