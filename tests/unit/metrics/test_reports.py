"""The Biểu 06 report rows: carried-over, paused and rescheduled dossiers, the 14th/15th cut-off,
rows by level and an agency with its sub-agencies, a deadline beyond the calendar, and text cells that
cannot become spreadsheet formulas (CSV and XLSX)."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from dossier_core.catalog import Catalog, default_catalog_dir, load_catalog
from dossier_core.periods import parse_period
from dossier_core.report import contribution
from dossier_metrics.report_form import text_cell
from dossier_metrics.reports import ReportBuilder
from tests.unit.metrics.conftest import AGENCY, PROCEDURE, MakeDossier, dossier_factory, vn
from tests.unit.metrics.report_doubles import HA_LONG, HONG_GAI, Keys, SnapshotList, report_app


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


async def test_text_cells_never_become_formulas(tmp_path: Path) -> None:
    keys = Keys(tmp_path / "metrics-keys.csv")
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
