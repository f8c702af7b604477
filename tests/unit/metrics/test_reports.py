"""The Biểu 06 report: rows for carried-over, paused and rescheduled dossiers, the 14th/15th
cut-off, grouping, exports, problem responses for bad parameters and bounds, reader keys and their
agency scope, and text cells that cannot become spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import load_workbook

from dossier_contracts.snapshot_codec import dossier_to_snapshot
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog, default_catalog_dir, load_catalog
from dossier_core.dossier import Dossier
from dossier_core.periods import parse_period
from dossier_core.report import contribution
from dossier_metrics import reports
from dossier_metrics.app import build_state, create_app
from dossier_metrics.report_form import text_cell
from dossier_metrics.report_gate import ReportGate
from dossier_metrics.reports import ReportBuilder
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.state import STATE
from dossier_runtime.api_keys import create_key
from dossier_runtime.problems import install_problem_handlers
from tests.unit.metrics.conftest import dossier_factory

AGENCY = "000.00.12.H49"  # Sở Tư pháp
PROCEDURE = "1.004194"
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

    async def counted_agencies(self) -> set[str]:
        return {dossier.agency_code for dossier, _ in self.rows}


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


class Keys:
    """A keys file with a key that reads everything and one limited to Hạ Long and its wards."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.everything = create_key(path, "province-office", "*")
        self.ha_long = create_key(path, "ha-long", "*.31.H49")

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def report_app(builder: ReportBuilder, keys_file: Path | None, gate: ReportGate | None = None) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(reports.router)
    state = build_state(MetricsSettings(api_keys_file=keys_file), catalog=builder.catalog)
    STATE.put(app, replace(state, reports=builder, report_gate=gate or ReportGate(2, 5)))
    return app


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


def test_a_deadline_beyond_the_calendar_is_in_time_at_a_far_period(make_dossier: MakeDossier) -> None:
    # Received in 2000 with the latest appointment SPEC admits, paused the next day: at the end of
    # 2099 the time left (a century of working time) runs past the calendar's last year.
    paused = make_dossier(
        ("received", vn("2000-01-04 09:00"), {"due_at": "2099-12-31T17:00:00+07:00"}),
        ("supplement_requested", vn("2000-01-05 09:00"), {"reason": "thiếu giấy tờ"}),
    )
    calendar = load_catalog(default_catalog_dir()).calendar()
    row = contribution(paused, parse_period("2099"), calendar)
    assert row.to_dict()["pending"] == {"total": 1, "in_time": 1, "overdue": 0, "paused": 1}
    assert row.carried_over == 1 and row.received_total == 1
    first = contribution(paused, parse_period("2000-Q1"), calendar)
    assert first.to_dict()["pending"]["paused"] == 1 and first.direct + first.online + first.postal == 1


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


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Sở Tư pháp", "Sở Tư pháp"),
        ("1.004194", "1.004194"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_text_cell(value: str, cell: str) -> None:
    assert text_cell(value) == cell


FORMULAS = {
    AGENCY: '=HYPERLINK("http://x.example","Sở Tư pháp")',
    HONG_GAI: "@SUM(1+1)",
    HA_LONG: "-1+1 Hạ Long",
}
PROCEDURE_NAMES = {PROCEDURE: "+cmd|' /C calc'!A0", "1.004222": "-2+3"}


def hostile_catalog(directory: Path) -> Catalog:
    """The sample catalog with agency and procedure names that spreadsheets would run as formulas."""
    shutil.copytree(default_catalog_dir(), directory)
    for name, renames in (("agencies.csv", FORMULAS), ("procedures.csv", PROCEDURE_NAMES)):
        path = directory / name
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        for row in rows[1:]:
            row[1] = renames.get(row[0], row[1])
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        path.write_text(out.getvalue(), encoding="utf-8")
    return load_catalog(directory)


async def test_text_cells_never_become_formulas(tmp_path: Path, keys: Keys) -> None:
    catalog = hostile_catalog(tmp_path / "catalog")
    assert catalog.agencies[AGENCY].name.startswith("=")
    make = dossier_factory(catalog)
    dossiers = [
        make(("received", vn("2021-04-05 09:00"))),
        make(("received", vn("2021-04-05 09:00")), agency=HONG_GAI, procedure="1.004222"),
        make(("received", vn("2021-04-05 09:00")), agency=HA_LONG),
    ]
    app = report_app(ReportBuilder(catalog, SnapshotList(catalog, dossiers)), keys.path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://m", headers=Keys.auth(keys.everything)
    ) as client:
        for group_by, names in (("agency", FORMULAS), ("procedure", PROCEDURE_NAMES)):
            query = f"/v1/reports/dossiers?period=2021-Q2&group_by={group_by}"
            text = (await client.get(query + "&format=csv")).content.decode("utf-8-sig")
            rows = {row[0]: row for row in csv.reader(io.StringIO(text))}
            book = load_workbook(io.BytesIO((await client.get(query + "&format=xlsx")).content))
            sheet = book.active
            assert sheet is not None
            cells = {row[0].value: row for row in sheet.iter_rows(min_row=6)}
            for code, name in names.items():
                assert rows[code][1] == "'" + name, code
                assert rows[code][2] in ("1", "2")  # numbers stay numbers
                assert cells[code][1].value == "'" + name
                assert cells[code][1].data_type == "s"
                assert cells[code][2].value == int(rows[code][2]) and cells[code][2].data_type == "n"
            assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
            # JSON is data, not a spreadsheet: the names are as in the catalog
            body = (await client.get(query)).json()
            assert {r["name"] for r in body["rows"]} >= set(names.values())


class BrokenSource(SnapshotList):
    def snapshots_for_period(
        self, start: datetime, end: datetime, agencies: Sequence[str] | None
    ) -> AsyncIterator[tuple[str, bytes]]:
        raise RuntimeError("a defect")


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
