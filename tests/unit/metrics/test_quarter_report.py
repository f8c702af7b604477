"""The quarterly report beyond Biểu 06: "4 tại chỗ" by field and level (`group_by=field_level`, the
rate in every row), the catalogue section (`/v1/reports/catalogue`, scoped by the reader key), and the
quarter's workbook holding the form, "4 tại chỗ" and the catalogue."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from dossier_core.catalog import Catalog
from dossier_core.catalogue_facts import catalogue_summary
from dossier_core.dossier import Dossier
from dossier_core.periods import parse_period
from dossier_core.report import ReportRow, contribution
from dossier_metrics.quarter_sheets import CATALOGUE_SHEET, ON_SITE_SHEET, PROCEDURE_HEADINGS
from dossier_metrics.report_form import LEVEL_NAMES
from dossier_metrics.reports import ReportBuilder
from dossier_metrics.schemas import CatalogueReport, Report
from tests.unit.metrics.conftest import MakeDossier, vn
from tests.unit.metrics.report_doubles import HA_LONG, HONG_GAI, Keys, SnapshotList, report_app

Q2 = parse_period("2021-Q2")
DEPARTMENT = "000.00.12.H49"  # Sở Tư pháp, a province agency


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(tmp_path / "metrics-keys.csv")


@pytest.fixture
def dossiers(make_dossier: MakeDossier) -> list[Dossier]:
    on_site = {"on_site": True}
    return [
        make_dossier(("received", vn("2021-04-05 09:00"), on_site), agency=DEPARTMENT, channel="direct"),
        make_dossier(("received", vn("2021-04-05 10:00")), agency=DEPARTMENT),
        make_dossier(("received", vn("2021-04-06 09:00"), on_site), agency=HONG_GAI, channel="direct"),
        make_dossier(("received", vn("2021-04-07 09:00"), on_site), agency=HA_LONG, channel="direct"),
        make_dossier(("received", vn("2021-04-07 09:30")), agency=HA_LONG),
        make_dossier(("received", vn("2021-03-01 09:00"), on_site), agency=HA_LONG, channel="direct"),
    ]


@pytest.fixture
def client(catalog: Catalog, dossiers: list[Dossier], keys: Keys) -> httpx.AsyncClient:
    app = report_app(ReportBuilder(catalog, SnapshotList(catalog, dossiers)), keys.path)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://metrics", headers=keys.auth(keys.everything)
    )


def expected_by_level(catalog: Catalog, dossiers: list[Dossier]) -> dict[str, ReportRow]:
    rows: dict[str, ReportRow] = {}
    for d in dossiers:
        level = str(catalog.agencies[d.agency_code].level)
        rows[level] = rows.get(level, ReportRow()) + contribution(d, Q2, catalog.calendar())
    return rows


async def test_on_site_rates_by_field_and_level(
    client: httpx.AsyncClient, catalog: Catalog, dossiers: list[Dossier]
) -> None:
    response = await client.get("/v1/reports/dossiers?period=2021-Q2&group_by=field_level")
    assert response.status_code == 200, response.text
    report = Report.model_validate(response.json()).model_dump(by_alias=True)
    expected = expected_by_level(catalog, dossiers)
    assert {(r["field"], r["level"]) for r in report["rows"]} == {("Hộ tịch", level) for level in expected}
    for row in report["rows"]:
        want = expected[row["level"]]
        assert row["on_site"] == want.on_site
        assert row["on_site_rate"] == round(100 * want.on_site / want.received_new, 2)
    assert report["total"]["on_site"] == sum(d.on_site for d in dossiers if d.received_at >= Q2.start_instant)
    assert report["total"]["on_site"] < sum(d.on_site for d in dossiers)  # the one carried over is not new


async def test_every_grouping_carries_the_on_site_figures(client: httpx.AsyncClient) -> None:
    by_agency = (await client.get("/v1/reports/dossiers?period=2021-Q2")).json()
    by_level = (await client.get("/v1/reports/dossiers?period=2021-Q2&group_by=level")).json()
    assert by_agency["total"] == by_level["total"]
    assert sum(row["on_site"] for row in by_agency["rows"]) == by_agency["total"]["on_site"]
    quiet = [row for row in by_agency["rows"] if row["received"]["total"] == 0]
    assert quiet and all(row["on_site_rate"] is None for row in quiet)


def sheet_rows(sheet: Any) -> list[tuple[Any, ...]]:
    return [row for row in sheet.iter_rows(values_only=True)]


async def test_the_quarter_workbook_holds_the_form_on_site_and_the_catalogue(
    client: httpx.AsyncClient, catalog: Catalog
) -> None:
    response = await client.get("/v1/reports/dossiers?period=2021-Q2&format=xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[:3] == ["Bieu06", ON_SITE_SHEET, CATALOGUE_SHEET]
    on_site = (await client.get("/v1/reports/dossiers?period=2021-Q2&group_by=field_level")).json()
    rows = sheet_rows(book[ON_SITE_SHEET])
    body = rows[4 : 4 + len(on_site["rows"])]
    assert [(r[0], r[1], r[3], r[4]) for r in body] == [
        (row["field"], LEVEL_NAMES[row["level"]], row["on_site"], row["on_site_rate"])
        for row in on_site["rows"]
    ]
    assert rows[4 + len(on_site["rows"])][3] == on_site["total"]["on_site"]

    section = (await client.get("/v1/reports/catalogue")).json()
    cells = sheet_rows(book[CATALOGUE_SHEET])
    assert cells[2][:2] == ("Tổng số thủ tục hành chính", len(catalog.procedures))
    heading = cells.index(PROCEDURE_HEADINGS)
    listed = cells[heading + 1 :]
    assert (
        [r[0] for r in listed] == [row["procedure"] for row in section["rows"]] == sorted(catalog.procedures)
    )
    cuts = {r[0]: r[2:6] for r in cells if r[0] in {c["agency"] for c in section["time_cuts"]}}
    assert cuts == {
        c["agency"]: (c["procedures"], c["with_duration"], c["shortened"], c["average_cut_percent"])
        for c in section["time_cuts"]
    }


async def test_the_catalogue_section(client: httpx.AsyncClient, catalog: Catalog) -> None:
    response = await client.get("/v1/reports/catalogue")
    assert response.status_code == 200, response.text
    section = CatalogueReport.model_validate(response.json()).model_dump()
    whole = catalogue_summary(catalog)
    assert {k: section[k] for k in whole if k != "time_cuts"} == {
        k: v for k, v in whole.items() if k != "time_cuts"
    }
    assert [{k: v for k, v in c.items() if k != "name"} for c in section["time_cuts"]] == whole["time_cuts"]
    names = {c["agency"]: c["name"] for c in section["time_cuts"]}
    assert names[DEPARTMENT] == catalog.agencies[DEPARTMENT].name

    own = (await client.get(f"/v1/reports/catalogue?agency={DEPARTMENT}")).json()
    in_charge = sorted(code for code, p in catalog.procedures.items() if p.agency == DEPARTMENT)
    assert [row["procedure"] for row in own["rows"]] == in_charge
    assert own["procedures"] == len(in_charge) and [c["agency"] for c in own["time_cuts"]] == [DEPARTMENT]

    text = (await client.get("/v1/reports/catalogue?format=csv")).content.decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text[1:])))
    assert tuple(table[0]) == PROCEDURE_HEADINGS and len(table) == len(catalog.procedures) + 1


async def test_the_catalogue_follows_the_key(client: httpx.AsyncClient, keys: Keys) -> None:
    ha_long = keys.auth(keys.ha_long)
    response = await client.get("/v1/reports/catalogue", headers=ha_long)
    assert response.status_code == 200
    assert response.json()["procedures"] == 0  # no procedure in the sample is in a district's charge
    assert (
        await client.get(f"/v1/reports/catalogue?agency={DEPARTMENT}", headers=ha_long)
    ).status_code == 403
    assert (await client.get("/v1/reports/catalogue?agency=000.99.99.H49")).status_code == 422
    assert (await client.get("/v1/reports/catalogue?format=pdf")).status_code == 422
    assert (await client.get("/v1/reports/catalogue", headers={"Authorization": ""})).status_code == 401
