"""The console on the real PostgreSQL and Kafka, in-process: login and sessions, every page's figures
against the report and live APIs on the same data at the same instant, the downloads against the
API's, a key scoped to one agency seeing nothing of the others, and logout ending the session."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from fastapi import FastAPI

from dossier_contracts.snapshot_codec import dossier_to_snapshot
from dossier_core.calendar import VN_TZ
from dossier_core.catalog import Catalog
from dossier_core.events import DossierEvent, EventType
from dossier_core.lifecycle import fold
from dossier_metrics.console.figures import RESOLVED, Figures, current_quarter, overview_figures
from dossier_metrics.console.sessions import COOKIE
from dossier_metrics.console.worklist import (
    KINDS,
    PAUSE_FILTERS,
    SORTS,
    Kind,
    filtered,
    ordered,
    read_worklist,
    read_worklist_page,
)
from dossier_metrics.counters import CHANNELS
from dossier_metrics.settings import MetricsSettings
from dossier_metrics.state import STATE
from dossier_runtime.api_keys import create_key

pytestmark = pytest.mark.integration

NOW = datetime(2021, 4, 21, 10, 30, tzinfo=VN_TZ)  # a Wednesday inside the stream's weeks
ONE = "000.00.12.H49"  # Sở Tư pháp: the scoped key's one agency
Produce = Callable[[list[tuple[str, bytes]]], Awaitable[None]]


def today_dossiers(catalog: Catalog) -> list[tuple[str, bytes]]:
    """A few dossiers received on NOW's day before NOW (the stream rarely has any then)."""
    calendar = catalog.calendar()
    out = []
    for n, (agency, channel) in enumerate([(ONE, "online"), (ONE, "direct"), ("000.00.14.H49", "postal")]):
        code = f"{agency}-210421-9{n:03d}"
        at = NOW - timedelta(hours=2, minutes=n)
        data = {"procedure_code": "1.004194", "channel": channel}
        event = DossierEvent(str(uuid.uuid4()), EventType.RECEIVED, code, agency, at, data, 0)
        snapshot = dossier_to_snapshot(
            fold([event], catalog), version=1, changed_at=at, field="Cư trú", calendar=calendar
        )
        out.append((code, snapshot.SerializeToString()))
    return out


@pytest.fixture
async def console(
    catalog: Catalog,
    settings: MetricsSettings,
    produce: Produce,
    stream_builder: Callable[..., Any],
    run_app: Callable[..., Any],
    wait: Callable[..., Awaitable[None]],
) -> AsyncIterator[FastAPI]:
    stream = stream_builder(catalog, dossiers=150, seed=11)
    messages = stream.messages + today_dossiers(catalog)
    await produce(messages)
    async with run_app(settings, clock=lambda: NOW) as app:

        async def applied() -> bool:
            store = STATE.of_app(app).projection.store
            return len(await store.snapshot_versions()) == len({code for code, _ in messages})

        await wait(applied, within=60)
        yield app


def client(app: FastAPI, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://metrics", headers=headers, timeout=30
    )


async def logged_in(app: FastAPI, key: str) -> httpx.AsyncClient:
    browser = client(app)
    answer = await browser.post("/dang-nhap", data={"key": key, "tiep": "/tong-quan"})
    assert answer.status_code == 303 and answer.headers["location"] == "/tong-quan"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    return browser


def _remove_key(keys_file: Path, name: str) -> None:
    lines = keys_file.read_text().splitlines()
    keys_file.write_text("\n".join(line for line in lines if not line.startswith(name + ",")) + "\n")


def figures_in(html: str) -> dict[str, dict[str, int]]:
    """{agency code: {figure: value}} of the overview's rows ('' for the total row)."""
    out: dict[str, dict[str, int]] = {}
    for row in re.findall(r'<tr data-agency="([^"]*)"(?: data-own="1")?[^>]*>(.*?)</tr>', html, re.S):
        code, body = row
        cells = re.findall(r'data-figure="(\w+)"[^>]*>\s*(?:<a [^>]*>)?([\d.]+)', body)
        out[code] = {name: int(value.replace(".", "")) for name, value in cells}
    return out


async def test_login_sessions_and_logout(console: FastAPI, metrics_key: str, keys_file: Path) -> None:
    anonymous = client(console)
    answer = await anonymous.get("/viec-can-xu-ly?kind=overdue")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dang-nhap?tiep=%2Fviec-can-xu-ly%3Fkind%3Doverdue"
    page = await anonymous.get("/dang-nhap")
    assert page.status_code == 200 and '<html lang="vi">' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    wrong = await anonymous.post("/dang-nhap", data={"key": "dk_not-a-key"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    foreign = await anonymous.post("/dang-nhap", data={"key": metrics_key}, headers={"Origin": "http://evil"})
    assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
    offsite = await anonymous.post("/dang-nhap", data={"key": metrics_key, "tiep": "//evil.example/x"})
    assert offsite.headers["location"] == "/tong-quan"

    browser = await logged_in(console, metrics_key)
    old = browser.cookies[COOKIE]
    page = await browser.get("/tong-quan")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    refused = await browser.post("/dang-xuat", data={"csrf": "forged"})
    assert refused.status_code == 403
    assert (await browser.get("/tong-quan")).status_code == 200  # a refused logout ends nothing
    out = await browser.post("/dang-xuat", data={"csrf": csrf.group(1)})
    assert out.status_code == 303 and out.headers["location"] == "/dang-nhap"
    replay = client(console)
    replay.cookies.set(COOKIE, old)
    assert (await replay.get("/tong-quan")).status_code == 303  # the old cookie is refused

    # a key removed from the keys file ends its sessions at their next request
    other = create_key(keys_file, "short-lived", "*")
    STATE.of_app(console).keys.reload()
    browser = await logged_in(console, other)
    assert (await browser.get("/tong-quan")).status_code == 200
    _remove_key(keys_file, "short-lived")
    assert STATE.of_app(console).keys.reload()
    assert (await browser.get("/tong-quan")).status_code == 303


async def test_pages_show_the_apis_figures(console: FastAPI, metrics_key: str) -> None:
    api = client(console, Authorization=f"Bearer {metrics_key}")
    live = {a["agency"]: a for a in (await api.get("/v1/stats/live")).json()["agencies"]}
    quarter = current_quarter(NOW.date()).label
    report = (await api.get(f"/v1/reports/dossiers?period={quarter}&live=true")).json()
    day = NOW.date().isoformat()
    today = (await api.get(f"/v1/reports/dossiers?from={day}&to={day}")).json()
    period_rows = {r["agency"]: r for r in report["rows"]}
    today_rows = {r["agency"]: r for r in today["rows"]}

    state = STATE.of_app(console)
    figures, period, months = await overview_figures(state.report_engine, state.catalog.calendar(), None, NOW)
    assert period.label == quarter
    checked = 0
    for code in set(live) | set(figures):
        f = figures.get(code) or Figures()
        stats = live.get(code, {"pending": {"in_time": 0, "overdue": 0, "paused": 0}, "due_soon": 0})
        pending = stats["pending"]
        assert (f.in_time, f.overdue, f.paused, f.due_soon) == (
            pending["in_time"],
            pending["overdue"],
            pending["paused"],
            stats["due_soon"],
        ), code
        zero = {"received": dict.fromkeys(CHANNELS, 0), "resolved": dict.fromkeys(RESOLVED, 0)}
        row, day_row = period_rows.get(code, zero), today_rows.get(code, zero)
        assert f.period == [row["received"][c] for c in CHANNELS], code
        assert f.resolved == [row["resolved"][t] for t in RESOLVED], code
        assert f.today == [day_row["received"][c] for c in CHANNELS], code
        checked += 1
    assert checked and sum(f.today_total for f in figures.values()) == 3
    assert sum(f.overdue for f in figures.values()) > 0

    # the on-time trend: each reporting month's resolved early or on time, and resolved, per agency
    # as the report of that month counts them
    resolved_somewhere = 0
    for k, month in enumerate(months):
        rows = (await api.get(f"/v1/reports/dossiers?period={month.label}&live=true")).json()["rows"]
        by_agency = {r["agency"]: r["resolved"] for r in rows}
        for code in set(by_agency) | set(figures):
            counts = by_agency.get(code, dict.fromkeys(RESOLVED, 0))
            good, total = counts["early"] + counts["on_time"], sum(counts[t] for t in RESOLVED)
            trend = (figures.get(code) or Figures()).trend[k]
            assert trend == [good, total], (month.label, code)
            resolved_somewhere += total
    assert resolved_somewhere > 0

    # the page shows those figures: the total row is their sum over the key's agencies
    browser = await logged_in(console, metrics_key)
    page = await browser.get("/tong-quan")
    total = figures_in(page.text)[""]
    assert total["overdue"] == sum(f.overdue for f in figures.values())
    assert total["due_soon"] == sum(f.due_soon for f in figures.values())
    assert total["today_online"] + total["today_direct"] + total["today_postal"] == 3
    assert total["period_online"] == report["total"]["received"]["online"]
    assert total["late"] == report["total"]["resolved"]["late"]

    # the worklist of each agency: its overdue and due-soon dossiers, as many as the live API says
    for code, stats in live.items():
        items = await read_worklist(state.report_engine, state.catalog.calendar(), [code], NOW)
        assert sum(1 for i in items if i.overdue) == stats["pending"]["overdue"], code
        assert sum(1 for i in items if not i.overdue) == stats["due_soon"], code
    busiest = max(live, key=lambda code: live[code]["pending"]["overdue"])
    page = await browser.get(f"/viec-can-xu-ly?agency={busiest}&scope=own&kind=overdue")
    assert page.status_code == 200
    shown = re.search(r'data-summary="overdue">([\d.]+)<', page.text)
    assert shown is not None and int(shown.group(1).replace(".", "")) == live[busiest]["pending"]["overdue"]
    exported = await browser.get(f"/viec-can-xu-ly.csv?agency={busiest}&scope=own&kind=overdue")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Mã hồ sơ" and len(rows) - 1 == live[busiest]["pending"]["overdue"]
    assert {r[1] for r in rows[1:]} == {busiest}

    # a dossier's timeline
    code = rows[1][0]
    page = await browser.get(f"/ho-so/{code}")
    assert page.status_code == 200 and "Tiếp nhận hồ sơ" in page.text and "Quá hạn" in page.text

    # the report page and its downloads are the API's
    page = await browser.get(f"/bao-cao?period={quarter}")
    assert page.status_code == 200 and "Tổng cộng" in page.text
    for kind in ("csv", "xlsx"):
        mine = await browser.get(f"/bao-cao/tai-ve?period={quarter}&format={kind}")
        theirs = await api.get(f"/v1/reports/dossiers?period={quarter}&format={kind}")
        assert (
            mine.status_code == 200
            and mine.headers["content-disposition"] == theirs.headers["content-disposition"]
        )
        if kind == "csv":
            assert mine.content == theirs.content
        else:
            assert _cells(mine.content) == _cells(theirs.content)

    page = await browser.get("/van-hanh")
    assert page.status_code == 200 and "Phiên bản này giữ các phân vùng: 0, 1, 2" in page.text


async def test_a_worklist_page_is_that_page_of_the_whole_list(console: FastAPI) -> None:
    """A page of the worklist (PostgreSQL counts and returns only the first rows, the domain's few
    merged in) against the whole list filtered and sorted in Python: every kind, pause filter, sort
    and order, with and without a procedure, the first, second and last pages."""
    state = STATE.of_app(console)
    engine, calendar = state.report_engine, state.catalog.calendar()
    everything = await read_worklist(engine, calendar, None, NOW)
    assert any(i.pause for i in everything) and any(not i.pause for i in everything)
    assert any(i.overdue for i in everything) and any(not i.overdue for i in everything)
    procedure = max(
        {i.procedure_code for i in everything}, key=lambda c: sum(i.procedure_code == c for i in everything)
    )
    size = 7
    kinds: list[Kind] = ["all", "overdue", "due_soon"]
    assert set(kinds) == set(KINDS)
    for kind in kinds:
        whole = await read_worklist(engine, calendar, None, NOW, kind)
        for pause in PAUSE_FILTERS:
            for chosen in (None, procedure):
                kept = filtered(whole, chosen, pause)
                for sort in SORTS:
                    for desc in (False, True):
                        expected = ordered(kept, sort, desc)
                        for offset in sorted({0, size, len(expected) - len(expected) % size}):
                            page = await read_worklist_page(
                                engine,
                                calendar,
                                None,
                                NOW,
                                kind,
                                chosen,
                                pause,
                                sort,
                                desc,
                                offset,
                                size,
                            )
                            where = (kind, pause, chosen, sort, desc, offset)
                            assert page.rows == expected[offset : offset + size], where
                            assert page.count == len(kept), where
                            assert page.overdue == sum(1 for i in whole if i.overdue), where
                            assert page.due_soon == sum(1 for i in whole if not i.overdue), where
                            assert page.procedures == sorted({i.procedure_code for i in whole}), where


def _cells(xlsx: bytes) -> list[list[Any]]:
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    return [[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets]


async def test_a_key_for_one_agency_sees_nothing_of_the_others(
    console: FastAPI, catalog: Catalog, keys_file: Path, metrics_key: str
) -> None:
    scoped = create_key(keys_file, "so-tu-phap", ONE)
    STATE.of_app(console).keys.reload()
    browser = await logged_in(console, scoped)
    others = {a.name for a in catalog.agencies.values() if a.code != ONE}
    other_codes = [code for code in catalog.agencies if code != ONE]
    quarter = current_quarter(NOW.date()).label
    pages = {
        path: await browser.get(path)
        for path in (
            "/tong-quan",
            f"/tong-quan?agency={ONE}",
            "/viec-can-xu-ly",
            "/viec-can-xu-ly.csv",
            f"/bao-cao?period={quarter}",
            f"/bao-cao/tai-ve?period={quarter}&format=csv",
            "/van-hanh",
        )
    }
    for path, page in pages.items():
        assert page.status_code == 200, path
        text = page.content.decode("utf-8-sig")
        assert catalog.agencies[ONE].name in text or path in ("/van-hanh", "/viec-can-xu-ly.csv"), path
        assert [name for name in others if name in text] == [], path
        assert [code for code in other_codes if code in text] == [], path
    figures = figures_in(pages["/tong-quan"].text)
    api = client(console, Authorization=f"Bearer {scoped}")
    live = (await api.get("/v1/stats/live")).json()["agencies"]
    assert [a["agency"] for a in live] == [ONE]
    assert figures[ONE]["overdue"] == live[0]["pending"]["overdue"]
    assert figures[ONE]["today_online"] + figures[ONE]["today_direct"] == 2

    # another agency, its dossiers and its report: the same "not found" as for what does not exist
    everything = client(console, Authorization=f"Bearer {metrics_key}")
    rows = (await everything.get(f"/v1/reports/dossiers?period={quarter}")).json()["rows"]
    other = next(r["agency"] for r in rows if r["agency"] != ONE and r["received"]["total"])
    for path in (
        f"/tong-quan?agency={other}",
        f"/viec-can-xu-ly?agency={other}",
        f"/bao-cao?period={quarter}&agency={other}",
        f"/bao-cao/tai-ve?period={quarter}&agency={other}&format=xlsx",
        f"/ho-so/{other}-210421-9002",
        "/ho-so/000.00.14.H49-210421-9002",
        "/ho-so/no-such-dossier",
    ):
        answer = await browser.get(path)
        assert answer.status_code == 404, path
        assert [name for name in others if name in answer.text] == [], path
    assert (await browser.get(f"/ho-so/{ONE}-210421-9000")).status_code == 200
