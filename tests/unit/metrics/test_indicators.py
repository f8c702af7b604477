"""Decision 766/QĐ-TTg indicators: the formulas, each dossier's contribution, the counters, the report
API's section (`/v1/reports/indicators`), the quarter's workbook with every sheet, and the Vietnamese
summary (`/v1/reports/summary`)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from dossier_core.catalog import Catalog
from dossier_core.codes import Channel
from dossier_core.dossier import Dossier
from dossier_core.feedback import FeedbackStage, FeedbackState
from dossier_core.indicators import RATES, IndicatorCounts, rate
from dossier_core.periods import Period, parse_period
from dossier_core.report import contribution
from dossier_core.report_facts import facts_of
from dossier_metrics.counters import COUNTER_COLUMNS, counted_from
from dossier_metrics.feedback import feedback_section
from dossier_metrics.quarter_sheets import (
    CATALOGUE_SHEET,
    FEEDBACK_HEADINGS,
    FEEDBACK_SHEET,
    INDICATOR_HEADINGS,
    INDICATOR_SHEET,
    INDICATOR_TITLE,
    NOT_COMPUTED_HEADING,
    ON_SITE_SHEET,
)
from dossier_metrics.reports import ReportBuilder
from dossier_metrics.summary import number, percent, period_name
from tests.unit.metrics.conftest import MakeDossier, vn
from tests.unit.metrics.report_doubles import HA_LONG, HONG_GAI, Keys, SnapshotList, report_app

Q2 = parse_period("2021-Q2")
DEPARTMENT = "000.00.12.H49"
FEE = ("fee_requested", vn("2021-04-05 10:00"), {"amount": 15000})


def paid(channel: str) -> tuple[Any, ...]:
    return ("fee_paid", vn("2021-04-05 11:00"), {"payment_channel": channel})


@pytest.fixture
def dossiers(make_dossier: MakeDossier) -> list[Dossier]:
    digitised = {"digitised": True}
    return [
        make_dossier(
            ("received", vn("2021-04-05 09:00"), digitised),
            FEE,
            paid("online"),
            ("resolved", vn("2021-04-06 10:00")),
            agency=DEPARTMENT,
        ),
        make_dossier(
            ("received", vn("2021-04-05 09:30")),
            FEE,
            paid("direct"),
            ("resolved", vn("2021-05-20 10:00")),
            agency=DEPARTMENT,
            channel="direct",
        ),
        make_dossier(("received", vn("2021-04-06 09:00"), digitised), agency=HONG_GAI, channel="direct"),
        make_dossier(
            ("received", vn("2021-04-07 09:00")), ("resolved", vn("2021-04-07 15:00")), agency=HA_LONG
        ),
        make_dossier(
            ("received", vn("2021-03-01 09:00"), digitised),
            ("resolved", vn("2021-04-01 09:00")),
            agency=HA_LONG,
        ),
        make_dossier(("received", vn("2021-06-20 09:00"), digitised), agency=HA_LONG),
    ]


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(tmp_path / "metrics-keys.csv")


@pytest.fixture
def client(catalog: Catalog, dossiers: list[Dossier], keys: Keys) -> httpx.AsyncClient:
    app = report_app(ReportBuilder(catalog, SnapshotList(catalog, dossiers)), keys.path)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://metrics", headers=keys.auth(keys.everything)
    )


def expected(catalog: Catalog, dossiers: list[Dossier]) -> dict[str, IndicatorCounts]:
    """Each agency's counts from the dossiers themselves and their Biểu 06 rows."""
    out: dict[str, IndicatorCounts] = {}
    for d in dossiers:
        assert d.received_at is not None
        new = Q2.start_instant <= d.received_at < Q2.end_instant
        row = contribution(d, Q2, catalog.calendar())
        counts = IndicatorCounts(
            received=int(new),
            received_online=int(new and d.channel is Channel.ONLINE),
            digitised=int(new and d.digitised),
            paid=int(new and d.payment_channel is not None),
            paid_online=int(new and d.payment_channel == "online"),
            resolved=row.resolved_total,
            resolved_in_time=row.early + row.on_time,
        )
        out[d.agency_code] = out.get(d.agency_code, IndicatorCounts()) + counts
    return out


def test_a_rate_is_a_percent_with_two_decimals_and_none_without_a_whole() -> None:
    assert rate(1, 3) == 33.33 and rate(2, 2) == 100.0 and rate(0, 5) == 0.0
    assert rate(0, 0) is None


@given(st.lists(st.integers(0, 50), min_size=7, max_size=7))
def test_every_rate_is_its_counts_ratio(values: list[int]) -> None:
    counts = IndicatorCounts(*values)
    for name, (part, whole) in RATES.items():
        got = counts.rates()[name]
        if getattr(counts, whole) == 0:
            assert got is None
        else:
            assert got == round(100 * getattr(counts, part) / getattr(counts, whole), 2)
    assert (counts + counts).to_dict()["received"] == 2 * counts.received


def test_the_counters_count_digitised_receipts_and_payments(
    catalog: Catalog, dossiers: list[Dossier]
) -> None:
    calendar = catalog.calendar()
    totals = [
        sum(column) for column in zip(*(counted_from(facts_of(d, calendar)) for d in dossiers), strict=True)
    ]
    by_name = dict(zip(COUNTER_COLUMNS, totals, strict=True))
    assert by_name["received_digitised"] == sum(d.digitised for d in dossiers)
    assert by_name["fee_paid"] == sum(d.payment_channel is not None for d in dossiers) == 2
    assert by_name["fee_paid_online"] == sum(d.payment_channel == "online" for d in dossiers) == 1


async def test_the_indicator_section_per_agency_and_in_total(
    client: httpx.AsyncClient, catalog: Catalog, dossiers: list[Dossier]
) -> None:
    response = await client.get("/v1/reports/indicators?period=2021-Q2")
    assert response.status_code == 200, response.text
    section = response.json()
    want = expected(catalog, dossiers)
    rows = {row["agency"]: row for row in section["rows"]}
    for agency, counts in want.items():
        assert rows[agency] == {**rows[agency], **counts.to_dict()}
    total = IndicatorCounts()
    for counts in want.values():
        total = total + counts
    no_sync = {"portal_received": None, "portal_synced": None, "sync_rate": None, "sync_as_of": None}
    assert section["total"] == {**total.to_dict(), **no_sync}  # no sync record here (no push worker)
    assert total.resolved == 4 and total.paid == 2 and total.received == 4  # the fixture's shape
    quiet = [row for row in section["rows"] if row["agency"] not in want]
    assert quiet and all(row["received"] == 0 and row["online_rate"] is None for row in quiet)
    assert {i["key"] for i in section["indicators"]} == set(RATES)
    assert [i["key"] for i in section["elsewhere"]] == ["sync_rate"] and section["not_computed"]


async def test_the_section_follows_the_key_and_the_agency(
    client: httpx.AsyncClient, keys: Keys, catalog: Catalog, dossiers: list[Dossier]
) -> None:
    own = (await client.get("/v1/reports/indicators?period=2021-Q2", headers=keys.auth(keys.ha_long))).json()
    assert {row["agency"] for row in own["rows"]} <= {c for c in catalog.agencies if c.endswith(".31.H49")}
    want = expected(catalog, [d for d in dossiers if d.agency_code.endswith(".31.H49")])
    assert own["total"]["received"] == sum(c.received for c in want.values())
    assert (
        await client.get(
            f"/v1/reports/indicators?period=2021-Q2&agency={DEPARTMENT}", headers=keys.auth(keys.ha_long)
        )
    ).status_code == 403
    assert (await client.get("/v1/reports/indicators?period=2021-Q5")).status_code == 422
    assert (await client.get("/v1/reports/indicators?period=2021-Q2&agency=000.99.99.H49")).status_code == 422


def cells(sheet: Any) -> list[tuple[Any, ...]]:
    return list(sheet.iter_rows(values_only=True))


async def test_the_quarter_workbook_holds_every_section(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/reports/dossiers?period=2021-Q2&format=xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Bieu06", ON_SITE_SHEET, CATALOGUE_SHEET, INDICATOR_SHEET]
    section = (await client.get("/v1/reports/indicators?period=2021-Q2")).json()
    rows = cells(book[INDICATOR_SHEET])
    assert rows[0][0] == INDICATOR_TITLE and "Quyết định 766/QĐ-TTg" in rows[2][0]
    heading = rows.index(INDICATOR_HEADINGS)
    body = rows[heading + 1 : heading + 1 + len(section["rows"])]
    assert [r[0] for r in body] == [row["agency"] for row in section["rows"]]
    total = rows[heading + 1 + len(section["rows"])]
    assert total[0] == "Tổng cộng"
    assert total[3:14] == (
        section["total"]["received"],
        section["total"]["received_online"],
        section["total"]["online_rate"],
        section["total"]["resolved"],
        section["total"]["resolved_in_time"],
        section["total"]["on_time_rate"],
        section["total"]["paid"],
        section["total"]["paid_online"],
        section["total"]["online_payment_rate"],
        section["total"]["digitised"],
        section["total"]["digitisation_rate"],
    )
    listed = [r[0] for r in rows[rows.index((NOT_COMPUTED_HEADING,) + (None,) * (len(rows[0]) - 1)) + 1 :]]
    assert listed == [item["name"] for item in section["not_computed"]]


def test_vietnamese_numbers_and_periods() -> None:
    assert number(270990) == "270.990" and number(7) == "7"
    assert percent(99.88) == "99,88%" and percent(35.7) == "35,7%" and percent(100.0) == "100%"
    assert percent(None) == "chưa có số liệu"
    assert period_name({"label": "2021-Q2", "from": "2021-03-15", "to": "2021-06-14"}) == "quý II năm 2021"
    assert period_name({"label": "2021-H1", "from": "", "to": ""}) == "6 tháng đầu năm 2021"
    assert period_name({"label": "2021-05", "from": "", "to": ""}) == "tháng 5 năm 2021"
    assert period_name({"label": "2021", "from": "", "to": ""}) == "năm 2021"


async def test_the_summary_states_the_quarters_figures(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/reports/summary?period=2021-Q2")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    report = (await client.get("/v1/reports/dossiers?period=2021-Q2")).json()["total"]
    catalogue = (await client.get("/v1/reports/catalogue")).json()
    kpi = (await client.get("/v1/reports/indicators?period=2021-Q2")).json()["total"]
    assert text.startswith("# Kết quả giải quyết thủ tục hành chính quý II năm 2021\n")
    assert f"Tổng số thủ tục hành chính: {number(catalogue['procedures'])} thủ tục" in text
    assert f"Tổng số hồ sơ tiếp nhận: {number(report['received']['total'])} hồ sơ" in text
    resolved = report["resolved"]
    assert (
        f"Đã giải quyết {resolved['total']} hồ sơ: trước hạn {resolved['early']}, đúng hạn "
        f"{resolved['on_time']}, quá hạn {resolved['late']}"
    ) in text
    assert f"Đang giải quyết {report['pending']['total']} hồ sơ" in text
    assert f"tỷ lệ thanh toán trực tuyến {percent(kpi['online_payment_rate'])}" in text
    assert f"tỷ lệ hồ sơ được số hóa {percent(kpi['digitisation_rate'])};" in text
    # no push worker publishes here: the sync rate is said to be missing, not 0
    assert "tỷ lệ hồ sơ đồng bộ lên Cổng Dịch vụ công quốc gia chưa có số liệu." in text
    assert "Phản ánh, kiến nghị: chưa có số liệu" in text


@pytest.fixture
def with_feedback(catalog: Catalog, dossiers: list[Dossier], keys: Keys) -> httpx.AsyncClient:
    """The report app whose builder reads a feedback section: the Quảng Ninh quarter's two items
    (one answered and published, one in progress), through the metrics' own section builder."""
    items = [
        FeedbackState(
            "PAKN-0001",
            DEPARTMENT,
            FeedbackStage.PUBLISHED,
            received_at=vn("2021-04-05 09:00"),
            answered_at=vn("2021-04-09 09:00"),
            published_at=vn("2021-04-10 09:00"),
        ),
        FeedbackState("PAKN-0002", HA_LONG, FeedbackStage.ASSIGNED, received_at=vn("2021-06-01 09:00")),
    ]

    async def feedback(period: Period, agency: str | None, key: Any) -> dict[str, Any]:
        mine = [i for i in items if key.allows(i.agency_code)]
        section = feedback_section(mine, period.start_instant, period.end_instant)
        for row in section["rows"]:
            row["name"] = catalog.agencies[row["agency"]].name
        return section

    builder = ReportBuilder(catalog, SnapshotList(catalog, dossiers), feedback=feedback)
    app = report_app(builder, keys.path)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://metrics", headers=keys.auth(keys.everything)
    )


async def test_the_feedback_section_in_the_workbook_and_the_summary(with_feedback: httpx.AsyncClient) -> None:
    book = load_workbook(
        io.BytesIO((await with_feedback.get("/v1/reports/dossiers?period=2021-Q2&format=xlsx")).content)
    )
    assert book.sheetnames == ["Bieu06", ON_SITE_SHEET, CATALOGUE_SHEET, INDICATOR_SHEET, FEEDBACK_SHEET]
    rows = cells(book[FEEDBACK_SHEET])
    heading = rows.index(FEEDBACK_HEADINGS)
    assert [r[0] for r in rows[heading + 1 : heading + 3]] == [DEPARTMENT, HA_LONG]
    total = rows[heading + 3]
    assert total[0] == "Tổng cộng" and total[2:] == (2, 1, 1, 1, 0, 0, 0)
    text = (await with_feedback.get("/v1/reports/summary?period=2021-Q2")).text
    assert "- Tiếp nhận 2 phản ánh, kiến nghị: đã xử lý 1 (đã công khai kết quả 1), đang xử lý 1." in text
