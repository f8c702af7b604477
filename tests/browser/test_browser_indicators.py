"""The console's "Chỉ số" page in a real headless Chromium: the Decision 766/QĐ-TTg indicators, the
"4 tại chỗ" rows by field and level, citizen feedback and the catalogue facts it shows are the report
API's for the same data and the same key, figure by figure; it is reached from the navigation; and a
key for one agency sees that agency's figures (equal to the API's for that key) and no other agency's
names or codes."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from dossier_core.calendar import VN_TZ
from dossier_core.periods import Period
from dossier_runtime.api_keys import create_key
from dossier_sim.__main__ import feedback_plan
from dossier_sim.feedback import (
    DEFAULT_FEEDBACK_MIX,
    FeedbackGenerator,
    SimulatedFeedback,
    feedback_happened_by,
    parse_feedback_mix,
)
from dossier_sim.sender import IntakeSender
from tests.browser.conftest import shoot
from tests.e2e.traffic import CATALOG, Traffic
from tests.support import System

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PAGE = "/chi-so"
FEEDBACK_ITEMS = 16


def api(system: System, path: str, key: str, **params: Any) -> dict[str, Any]:
    answer = httpx.get(
        f"{system.metrics.url}{path}", params=params, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def until(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def feedback(system: System, traffic: Traffic) -> list[SimulatedFeedback]:
    """Citizen feedback items of the current quarter so far, sent through intake and stored by metrics."""
    now = datetime.now(VN_TZ)
    so_far = Period.between(traffic.period.start, now.date())
    generated = FeedbackGenerator(CATALOG, so_far, parse_feedback_mix(DEFAULT_FEEDBACK_MIX), seed=17).items(
        FEEDBACK_ITEMS
    )
    items = feedback_happened_by(generated, now)
    sender = IntakeSender(system.intake.url, system.intake_key)
    sent = asyncio.run(
        sender.send_feedback(feedback_plan(items, duplicate=False, shuffle=False, seed=17), lambda _: None)
    )
    assert sent.rejected == 0 and not sent.errors, sent.errors

    def stored() -> bool:
        section = api(system, "/v1/reports/feedback", system.metrics_key, period=traffic.period.label)
        return bool(section["total"]["received"] == len(items))

    until(stored)
    return items


def login(driver: webdriver.Chrome, system: System, key: str) -> None:
    driver.get(system.metrics.url + "/")
    driver.find_element(By.CSS_SELECTOR, "label[for=khoa] + input#khoa").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "form[action='/dang-nhap'] button").click()
    WebDriverWait(driver, 20).until(lambda d: d.current_url.endswith("/tong-quan"))


def logout(driver: webdriver.Chrome) -> None:
    driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
    WebDriverWait(driver, 20).until(lambda d: d.current_url.endswith("/dang-nhap"))


def value(cell: WebElement) -> int | float | None:
    """A cell's figure as the API gives it: an int, a rate in percent, or None (no rate)."""
    raw = cell.get_attribute("data-value") or ""
    if raw == "":
        return None
    return float(raw) if "." in raw else int(raw)


def figures(row: WebElement) -> dict[str, int | float | None]:
    return {
        c.get_attribute("data-figure") or "": value(c)
        for c in row.find_elements(By.CSS_SELECTOR, "[data-figure]")
    }


def table(driver: webdriver.Chrome, table_id: str, key: str) -> dict[str, dict[str, int | float | None]]:
    """Each body row's figures by its `data-<key>`, and the total row under ''."""
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr, #{table_id} tfoot tr")
    return {row.get_attribute(f"data-{key}") or "": figures(row) for row in rows}


def new(row: dict[str, Any]) -> int:
    received = row["received"]
    return int(received["online"] + received["direct"] + received["postal"])


def page_equals_api(driver: webdriver.Chrome, system: System, key: str, quarter: str) -> dict[str, Any]:
    """Every figure of the page against the four API sections read with `key`; the sections."""
    indicators = api(system, "/v1/reports/indicators", key, period=quarter)
    columns = [k for k in indicators["total"] if k not in ("agency", "name", "level", "sync_as_of")]
    shown = table(driver, "bang-chi-so", "agency")
    as_of = driver.find_element(By.ID, "dong-bo-tinh-den").get_attribute("data-value")
    assert as_of == (indicators["total"]["sync_as_of"] or "")
    assert shown == {
        **{r["agency"]: {k: r[k] for k in columns} for r in indicators["rows"]},
        "": {k: indicators["total"][k] for k in columns},
    }

    on_site = api(system, "/v1/reports/dossiers", key, period=quarter, group_by="field_level")
    assert table(driver, "bang-4-tai-cho", "key") == {
        **{
            f"{r['field']}|{r['level']}": {
                "new": new(r),
                "on_site": r["on_site"],
                "on_site_rate": r["on_site_rate"],
            }
            for r in on_site["rows"]
        },
        "": {
            "new": new(on_site["total"]),
            "on_site": on_site["total"]["on_site"],
            "on_site_rate": on_site["total"]["on_site_rate"],
        },
    }

    pakn = api(system, "/v1/reports/feedback", key, period=quarter)
    figures_of = pakn["figures"]
    assert table(driver, "bang-phan-anh", "agency") == {
        **{r["agency"]: {k: r[k] for k in figures_of} for r in pakn["rows"]},
        "": {k: pakn["total"][k] for k in figures_of},
    }

    catalogue = api(system, "/v1/reports/catalogue", key)
    facts = figures(driver.find_element(By.ID, "danh-muc-so-lieu"))
    assert facts == {
        "procedures": catalogue["procedures"],
        **{f"by_level.{k}": v for k, v in catalogue["by_level"].items()},
        "online_services": catalogue["online_services"],
        **{f"by_online_level.{k}": v for k, v in catalogue["by_online_level"].items()},
        "portal_integrated.count": catalogue["portal_integrated"]["count"],
    }
    cut_columns = ("procedures", "with_duration", "shortened", "average_cut_percent")
    assert table(driver, "bang-cat-giam", "agency") == {
        **{c["agency"]: {k: c[k] for k in cut_columns} for c in catalogue["time_cuts"]},
        "": {k: catalogue["time_cuts_total"][k] for k in cut_columns},
    }
    return {"indicators": indicators, "on_site": on_site, "feedback": pakn, "catalogue": catalogue}


def test_the_page_shows_the_report_apis_figures(
    system: System, traffic: Traffic, feedback: list[SimulatedFeedback], browser: webdriver.Chrome
) -> None:
    driver = browser
    login(driver, system, system.metrics_key)
    driver.find_element(By.LINK_TEXT, "Chỉ số").click()
    assert driver.current_url.endswith(PAGE)
    assert driver.find_element(By.CSS_SELECTOR, "nav a[aria-current=page]").text == "Chỉ số"
    quarter = traffic.period.label
    assert driver.find_element(By.ID, "ky").get_attribute("value") == quarter
    headings = [h.text for h in driver.find_elements(By.TAG_NAME, "h2")]
    assert headings == [
        "KẾT QUẢ BỘ CHỈ SỐ CHỈ ĐẠO, ĐIỀU HÀNH VÀ ĐÁNH GIÁ CHẤT LƯỢNG PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP"
        " (QUYẾT ĐỊNH SỐ 766/QĐ-TTg)",
        'KẾT QUẢ GIẢI QUYẾT HỒ SƠ THEO PHƯƠNG THỨC "4 TẠI CHỖ"',
        "TÌNH HÌNH TIẾP NHẬN, XỬ LÝ PHẢN ÁNH, KIẾN NGHỊ",
        "DANH MỤC THỦ TỤC HÀNH CHÍNH VÀ DỊCH VỤ CÔNG TRỰC TUYẾN",
    ]
    sections = page_equals_api(driver, system, system.metrics_key, quarter)
    assert sections["indicators"]["total"]["received"] > 0 and sections["indicators"]["total"]["resolved"] > 0
    assert sections["feedback"]["total"]["received"] == len(feedback) > 0
    assert sections["catalogue"]["procedures"] == len(CATALOG.procedures)
    shoot(driver, "8-chi-so")

    # a range of days instead of the quarter: the page asks the API for the same days
    start = traffic.period.start.isoformat()
    driver.get(f"{system.metrics.url}{PAGE}?from={start}&to={datetime.now(VN_TZ).date().isoformat()}")
    ranged = api(
        system,
        "/v1/reports/indicators",
        system.metrics_key,
        **{"from": start, "to": datetime.now(VN_TZ).date().isoformat()},
    )
    assert table(driver, "bang-chi-so", "agency")[""]["received"] == ranged["total"]["received"]

    # a bad range is the API's 422, shown in Vietnamese, never a 500
    driver.get(f"{system.metrics.url}{PAGE}?from=2021-06-01&to=2021-05-01")
    assert "Không lập được số liệu" in driver.find_element(By.CSS_SELECTOR, "p.error").text
    logout(driver)


def test_a_key_for_one_agency_sees_its_own_figures_only(
    system: System, traffic: Traffic, feedback: list[SimulatedFeedback], browser: webdriver.Chrome
) -> None:
    driver = browser
    by_agency: dict[str, int] = {}
    for item in feedback:
        by_agency[item.agency] = by_agency.get(item.agency, 0) + 1
    agency = max(sorted(by_agency), key=lambda code: by_agency[code])
    keys = Path(system.env["METRICS_API_KEYS_FILE"])
    scoped = create_key(keys, "chi-so-mot-don-vi", agency)
    assert system.metrics.process is not None
    system.metrics.process.send_signal(signal.SIGHUP)  # the service reloads its keys
    until(
        lambda: (
            httpx.get(
                f"{system.metrics.url}/v1/reports/catalogue", headers={"Authorization": f"Bearer {scoped}"}
            ).status_code
            == 200
        ),
        20,
    )

    login(driver, system, scoped)
    driver.get(system.metrics.url + PAGE)
    quarter = traffic.period.label
    sections = page_equals_api(driver, system, scoped, quarter)
    assert [r["agency"] for r in sections["feedback"]["rows"]] == [agency]
    assert sections["feedback"]["total"]["received"] == by_agency[agency]
    assert {r["agency"] for r in sections["indicators"]["rows"]} <= {agency}
    own = CATALOG.agencies[agency].name
    # another agency's name, unless it is part of this one's (Văn phòng Ủy ban nhân dân tỉnh … holds
    # Ủy ban nhân dân tỉnh …)
    others = {a.name for a in CATALOG.agencies.values() if a.code != agency and a.name not in own}
    text = driver.find_element(By.TAG_NAME, "body").text
    assert [name for name in others if name in text] == []
    assert [code for code in CATALOG.agencies if code != agency and code in driver.page_source] == []
    shoot(driver, "9-chi-so-mot-don-vi")

    other = next(code for code in sorted(by_agency) if code != agency)
    driver.get(f"{system.metrics.url}{PAGE}?agency={other}")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Không tìm thấy đơn vị"
    assert CATALOG.agencies[other].name not in driver.page_source
    driver.get(system.metrics.url + PAGE)
    logout(driver)
