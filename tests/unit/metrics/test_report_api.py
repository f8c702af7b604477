"""The report API: problem details for bad parameters, the bounds themselves answered, reader keys
and their agency scope (nothing of another agency in any answer), too many reports at once, the
CSV, XLSX and JSON answers, and a defect answered without details."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from dossier_core.catalog import Catalog
from dossier_metrics.app import build_state, create_app
from dossier_metrics.report_gate import ReportGate
from dossier_metrics.reports import ReportBuilder
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.state import STATE
from tests.unit.metrics.conftest import AGENCY, PROCEDURE, MakeDossier, vn
from tests.unit.metrics.report_doubles import HA_LONG, HONG_GAI, BrokenSource, Keys, SnapshotList, report_app


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(tmp_path / "metrics-keys.csv")


@pytest.fixture
def client(catalog: Catalog, make_dossier: MakeDossier, keys: Keys) -> httpx.AsyncClient:
    dossiers = [
        make_dossier(("received", vn("2021-04-05 09:00"))),
        make_dossier(("received", vn("2021-04-06 09:00")), agency=HONG_GAI),
    ]
    app = report_app(ReportBuilder(catalog, SnapshotList(catalog, dossiers)), keys.path)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://metrics", headers=keys.auth(keys.everything)
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=2021-Q5", "period"),
        ("period=2021-H2", "period"),  # only the first six months are a named half
        ("period=2021-Q2&from=2021-01-01&to=2021-02-01", "period"),
        ("", "period"),
        ("from=2021-01-01", "to"),
        ("to=2021-01-01", "from"),
        ("from=2021-13-01&to=2021-12-01", "from"),
        ("from=2021-02-30&to=2021-03-01", "from"),
        ("from=20210101&to=2021-02-01", "from"),
        ("from=2021-02-01&to=2021-01-01", "to"),
        ("period=2021&group_by=district", "group_by"),
        ("period=2021&format=pdf", "format"),
        ("period=2021&agency=000.99.99.H49", "agency"),
        ("period=2021&agency=", "agency"),
        # bounds: 2000-01-01 … 2099-12-31, at most 400 days apart
        ("from=0001-01-01&to=2025-01-01", "from"),
        ("from=1999-12-31&to=2000-01-05", "from"),
        ("from=2099-12-01&to=2100-01-01", "to"),
        ("from=9999-12-01&to=9999-12-31", "from"),
        ("from=2021-01-01&to=2022-02-06", "to"),
        ("period=1999-Q1", "period"),
        ("period=2100", "period"),
        ("period=0001", "period"),
        ("period=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%91", "period"),  # full-width digits
        ("period=", "period"),
    ],
)
async def test_bad_parameters_are_problem_details(client: httpx.AsyncClient, query: str, field: str) -> None:
    response = await client.get(f"/v1/reports/dossiers?{query}")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize(
    "query",
    [
        "from=2021-01-01&to=2022-02-05",  # exactly 400 days apart
        "from=2000-01-01&to=2000-01-01",
        "from=2099-01-01&to=2099-12-31",
        "period=2000-01",  # 15 December 1999 – 14 January 2000 by the statutory cut-off
        "period=2099",
        "period=2099-Q4",
        "period=2000-H1",  # 15 December 1999 – 14 June 2000
    ],
)
async def test_the_bounds_themselves_are_reports(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/v1/reports/dossiers?{query}")
    assert response.status_code == 200, response.text


async def test_reads_need_a_known_key(client: httpx.AsyncClient) -> None:
    url = "/v1/reports/dossiers?period=2021-Q2"
    for headers in ({}, {"Authorization": "Bearer dk_unknown"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        response = await client.get(url, headers={"Authorization": ""} | headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"] == "application/problem+json"
    # a bad parameter from a caller without a key is a 401 too: nothing is checked before the key
    response = await client.get("/v1/reports/dossiers?from=0001-01-01", headers={"Authorization": ""})
    assert response.status_code == 401


async def test_without_a_keys_file_every_read_is_refused(catalog: Catalog, make_dossier: MakeDossier) -> None:
    app = report_app(ReportBuilder(catalog, SnapshotList(catalog, [])), None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client:
        response = await client.get("/v1/reports/dossiers?period=2021", headers={"Authorization": "Bearer x"})
    assert response.status_code == 401


async def test_a_key_sees_only_its_agencies(catalog: Catalog, make_dossier: MakeDossier, keys: Keys) -> None:
    dossiers = [
        make_dossier(("received", vn("2021-04-05 09:00")), agency=HA_LONG),
        make_dossier(("received", vn("2021-04-05 09:00")), agency=HONG_GAI),
        make_dossier(("received", vn("2021-04-05 09:00")), agency=HONG_GAI, procedure="1.004222"),
        make_dossier(("received", vn("2021-04-05 09:00"))),  # Sở Tư pháp: province level
    ]
    app = report_app(ReportBuilder(catalog, SnapshotList(catalog, dossiers)), keys.path)
    ha_long = Keys.auth(keys.ha_long)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client:

        async def get(query: str, headers: dict[str, str] = ha_long) -> httpx.Response:
            return await client.get(f"/v1/reports/dossiers?period=2021-Q2&{query}", headers=headers)

        by_agency = (await get("group_by=agency")).json()
        assert {r["agency"] for r in by_agency["rows"]} == {
            code for code in catalog.agencies if code.endswith(".31.H49")
        }
        assert by_agency["total"]["received"]["total"] == 3
        for group_by, rows in (
            ("level", {"district": 1, "commune": 2}),
            ("procedure", {PROCEDURE: 2, "1.004222": 1}),
            ("field", {"Hộ tịch": 3}),
        ):
            body = (await get(f"group_by={group_by}")).json()
            assert {r[group_by]: r["received"]["total"] for r in body["rows"]} == rows, group_by
            assert body["total"]["received"]["total"] == 3
        for fmt in ("csv", "xlsx"):
            exported = await get(f"format={fmt}")
            assert exported.status_code == 200
            assert AGENCY.encode() not in exported.content
        assert (await get(f"agency={HONG_GAI}")).json()["total"]["received"]["total"] == 2
        everything = (await get("group_by=level", Keys.auth(keys.everything))).json()
        assert everything["total"]["received"]["total"] == 4
        for agency in (AGENCY, "000.00.00.H49", "000.99.99.H22"):
            refused = await get(f"agency={agency}")
            assert refused.status_code == 403
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["errors"] == [
                {"field": "agency", "message": "this key may not read that agency"}
            ]
            assert "Sở Tư pháp" not in refused.text


async def test_too_many_reports_at_once_is_a_503(catalog: Catalog, keys: Keys) -> None:
    gate = ReportGate(1, 7)
    app = report_app(ReportBuilder(catalog, SnapshotList(catalog, [])), keys.path, gate)
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://m", headers=Keys.auth(keys.everything)
        ) as client,
        gate.slot(),  # one report in flight
    ):
        response = await client.get("/v1/reports/dossiers?period=2021-Q2")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"] == "application/problem+json"
    assert gate.refused["busy"] == 1 and gate.running == 0


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
    assert values[5][0] == "1.004194" and values[5][2] == 2
    assert values[-1][0] == "Tổng cộng"


async def test_json_report_has_rows_total_and_period(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/reports/dossiers?period=2021-04&group_by=agency")
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"label": "2021-04", "from": "2021-03-15", "to": "2021-04-14"}
    assert body["total"]["received"]["total"] == 2 == body["total"]["pending"]["overdue"]
    assert body["pending_judged_at"] == "2021-04-15T00:00:00+07:00"


async def test_a_defect_is_a_problem_without_details(catalog: Catalog, keys: Keys) -> None:
    settings = MetricsSettings(api_keys_file=keys.path)
    app = create_app(settings)
    broken = ReportBuilder(catalog, BrokenSource(catalog, []))
    state = build_state(settings, catalog=catalog)
    STATE.put(app, replace(state, reports=broken, report_gate=ReportGate(2, 5)))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
        response = await client.get("/v1/reports/dossiers?period=2021-Q2", headers=Keys.auth(keys.everything))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal error",
        "status": 500,
        "instance": "/v1/reports/dossiers",
    }
    assert STATE.of_app(app).report_gate.running == 0
