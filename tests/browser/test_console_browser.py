"""The console in a real headless Chromium: log in with the printed kind of key, every page, its
figures against the report and live APIs on the same data, the overdue dossiers of an agency in two
clicks, the CSV and XLSX downloads against the API's, a key for one agency seeing no other agency's
names or numbers, and logout ending the session (its old cookie refused)."""

from __future__ import annotations

import csv
import io
import signal
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from dossier_core.calendar import VN_TZ
from dossier_metrics.console.figures import current_quarter
from dossier_runtime.api_keys import create_key
from tests.browser.conftest import PHONE, SCREENSHOTS, shoot
from tests.e2e.traffic import CATALOG, Traffic
from tests.support import System

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

FIGURES = ("in_time", "overdue", "paused", "due_soon")
#: How long a wait may last before the test fails. The waits end as soon as their condition holds, so
#: this only bounds how long a broken console takes to fail; it is generous because the suite shares
#: two cores with the three services, Kafka and PostgreSQL (a report or a download may take seconds).
WAIT_S = 120.0


def api(system: System, path: str, key: str | None = None, **params: Any) -> httpx.Response:
    """GET from the metrics API; a busy report limit (429/503 with Retry-After) is waited out."""
    headers = {"Authorization": f"Bearer {key or system.metrics_key}"}
    deadline = time.monotonic() + WAIT_S
    while True:
        answer = httpx.get(f"{system.metrics.url}{path}", params=params, headers=headers, timeout=WAIT_S)
        if answer.status_code not in (429, 503) or time.monotonic() > deadline:
            break
        time.sleep(min(5.0, float(answer.headers.get("retry-after", "1"))))
    assert answer.status_code == 200, answer.text
    return answer


def login(driver: webdriver.Chrome, system: System, key: str) -> None:
    driver.get(system.metrics.url + "/")
    assert "/dang-nhap" in driver.current_url
    field = driver.find_element(By.CSS_SELECTOR, "label[for=khoa] + input#khoa")
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "form[action='/dang-nhap'] button").click()
    WebDriverWait(driver, WAIT_S).until(lambda d: d.current_url.endswith("/tong-quan"))


def logout(driver: webdriver.Chrome) -> None:
    driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
    WebDriverWait(driver, WAIT_S).until(lambda d: d.current_url.endswith("/dang-nhap"))


def row_figures(driver: webdriver.Chrome, agency: str) -> dict[str, int]:
    row = driver.find_element(By.CSS_SELECTOR, f"tr[data-agency='{agency}']")
    cells = row.find_elements(By.CSS_SELECTOR, "td[data-figure]")
    return {
        cell.get_attribute("data-figure") or "": int(cell.text.replace(".", ""))
        for cell in cells
        if cell.get_attribute("data-figure") != "rate"
    }


def wait_for_file(folder: Path, suffix: str, before: set[Path], timeout: float = WAIT_S) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in folder.glob(f"*{suffix}") if p not in before]
        if found and not any(folder.glob("*.crdownload")) and found[0].stat().st_size:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} downloaded into {folder}")


def download(driver: webdriver.Chrome, folder: Path, link: str, suffix: str) -> Path:
    """Click `link` and wait for its file, downloaded into a folder of its own."""
    into = folder / str(len(list(folder.iterdir())))
    into.mkdir()
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(into)})
    driver.find_element(By.CSS_SELECTOR, link).click()
    return wait_for_file(into, suffix, set())


def cells(xlsx: bytes | Path) -> list[list[Any]]:
    book = openpyxl.load_workbook(io.BytesIO(xlsx) if isinstance(xlsx, bytes) else xlsx)
    return [[list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets]


def subtree_sum(stats: dict[str, dict[str, Any]], codes: list[str]) -> dict[str, int]:
    out = dict.fromkeys(FIGURES, 0)
    for code in codes:
        s = stats.get(code)
        if s is not None:
            for name in FIGURES[:3]:
                out[name] += s["pending"][name]
            out["due_soon"] += s["due_soon"]
    return out


def below(code: str) -> list[str]:
    found, todo = [], [code]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(a.code for a in CATALOG.agencies.values() if a.parent_code == current)
    return found


def test_every_page_with_the_apis_figures_downloads_and_logout(
    system: System, traffic: Traffic, browser: webdriver.Chrome, downloads: Path
) -> None:
    driver = browser
    driver.get(system.metrics.url + "/tong-quan")
    assert (
        "/dang-nhap" in driver.current_url
        and driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "vi"
    )
    shoot(driver, "1-dang-nhap")
    login(driver, system, system.metrics_key)

    # Tổng quan: every root's row against the live API (pending now) and the report API (the period)
    live = {a["agency"]: a for a in api(system, "/v1/stats/live").json()["agencies"]}
    quarter = traffic.period.label
    report = api(system, "/v1/reports/dossiers", period=quarter, live="true").json()
    total = row_figures(driver, "")
    assert {k: total[k] for k in FIGURES} == subtree_sum(live, list(live))
    assert total["overdue"] > 0
    for channel in ("online", "direct", "postal"):
        assert total[f"period_{channel}"] == report["total"]["received"][channel]
    for timeliness in ("early", "on_time", "late"):
        assert total[timeliness] == report["total"]["resolved"][timeliness]

    # two clicks: a department's row in the tree, then its overdue count → its worklist
    province = driver.find_element(By.CSS_SELECTOR, "tbody tr[data-agency] th a")
    root = province.find_element(By.XPATH, "./ancestor::tr").get_attribute("data-agency") or ""
    province.click()
    shoot(driver, "2-tong-quan")
    rows = driver.find_elements(
        By.CSS_SELECTOR, "tbody tr[data-agency]:not([data-own]) td[data-figure=overdue] a"
    )
    assert rows, "no agency below the province has an overdue dossier"
    department = rows[0].find_element(By.XPATH, "./ancestor::tr").get_attribute("data-agency") or ""
    expected = subtree_sum(live, below(department))
    assert {k: row_figures(driver, department)[k] for k in FIGURES} == expected
    rows[0].click()
    assert "/viec-can-xu-ly" in driver.current_url
    listed = driver.find_elements(By.CSS_SELECTOR, "#viec-can-xu-ly tbody tr[data-dossier]")
    summary = int(driver.find_element(By.CSS_SELECTOR, "[data-summary=overdue]").text.replace(".", ""))
    assert summary == expected["overdue"] and len(listed) == min(summary, 100)
    assert all(r.get_attribute("data-overdue") == "1" for r in listed)
    shoot(driver, "3-viec-can-xu-ly")
    exported = download(driver, downloads, "a.download[href^='/viec-can-xu-ly.csv']", ".csv")
    lines = list(csv.reader(io.StringIO(exported.read_text(encoding="utf-8-sig"))))
    assert lines[0][0] == "Mã hồ sơ" and len(lines) - 1 == expected["overdue"]
    assert {line[0] for line in lines[1:]} >= {r.get_attribute("data-dossier") for r in listed}

    # Hồ sơ: the first overdue dossier's timeline
    code = listed[0].get_attribute("data-dossier")
    listed[0].find_element(By.CSS_SELECTOR, "th a").click()
    assert driver.find_element(By.TAG_NAME, "h1").text == f"Hồ sơ {code}"
    assert "Tiếp nhận hồ sơ" in driver.find_element(By.ID, "dong-thoi-gian").text
    assert driver.find_element(By.CSS_SELECTOR, "[data-fact=state]").text.startswith("Quá hạn")
    shoot(driver, "4-ho-so")

    # Báo cáo: the current quarter's form, its totals row and its downloads are the API's
    driver.find_element(By.LINK_TEXT, "Báo cáo").click()
    assert driver.find_element(By.ID, "ky").get_attribute("value") == quarter
    filed = api(system, "/v1/reports/dossiers", period=quarter).json()
    shown = {
        cell.get_attribute("data-figure"): int(cell.text.replace(".", ""))
        for cell in driver.find_elements(By.CSS_SELECTOR, "#bao-cao tfoot td[data-figure]")
    }
    assert shown["received.total"] == filed["total"]["received"]["total"] > 0
    assert shown["pending.overdue"] == filed["total"]["pending"]["overdue"]
    assert shown["resolved.on_time"] == filed["total"]["resolved"]["on_time"]
    shoot(driver, "5-bao-cao")
    xlsx = download(driver, downloads, "#tai-xlsx", ".xlsx")
    assert cells(xlsx) == cells(api(system, "/v1/reports/dossiers", period=quarter, format="xlsx").content)
    plain = download(driver, downloads, "#tai-csv", ".csv")
    assert plain.read_bytes() == api(system, "/v1/reports/dossiers", period=quarter, format="csv").content

    # Vận hành
    driver.find_element(By.LINK_TEXT, "Vận hành").click()
    assert driver.find_element(By.CSS_SELECTOR, "[data-op=progressing]").text == "Đang ghi nhận"
    shoot(driver, "6-van-hanh")

    # logout ends the session: the old cookie brings back the login page
    old = driver.get_cookie("dossier_console")
    assert old is not None and old["httpOnly"] and old["sameSite"] == "Strict"
    logout(driver)
    driver.add_cookie({"name": old["name"], "value": old["value"], "path": "/"})
    driver.get(system.metrics.url + "/tong-quan")
    assert "/dang-nhap" in driver.current_url
    assert root


def test_a_key_for_one_agency_never_sees_another(
    system: System, browser: webdriver.Chrome, downloads: Path, tmp_path: Path
) -> None:
    driver = browser
    live = {a["agency"]: a for a in api(system, "/v1/stats/live").json()["agencies"]}
    agency = max(live, key=lambda code: live[code]["pending"]["overdue"])
    keys = Path(system.env["METRICS_API_KEYS_FILE"])
    scoped = create_key(keys, "one-agency", agency)
    assert system.metrics.process is not None
    system.metrics.process.send_signal(signal.SIGHUP)  # the service reloads its keys
    _until(
        lambda: (
            httpx.get(
                f"{system.metrics.url}/v1/stats/live", headers={"Authorization": f"Bearer {scoped}"}
            ).status_code
            == 200
        )
    )

    login(driver, system, scoped)
    others = {a.name for a in CATALOG.agencies.values() if a.code != agency} - {CATALOG.agencies[agency].name}
    other_codes = [code for code in CATALOG.agencies if code != agency]
    quarter = current_quarter(time_now_date()).label
    mine = api(system, "/v1/stats/live", key=scoped).json()["agencies"]
    assert [a["agency"] for a in mine] == [agency]
    for path in ("/tong-quan", "/viec-can-xu-ly", f"/bao-cao?period={quarter}", "/van-hanh"):
        driver.get(system.metrics.url + path)
        text = driver.find_element(By.TAG_NAME, "body").text
        assert [name for name in others if name in text] == [], path
        assert [code for code in other_codes if code in driver.page_source] == [], path
    driver.get(system.metrics.url + "/tong-quan")
    figures = row_figures(driver, agency)
    assert {k: figures[k] for k in FIGURES} == subtree_sum({agency: mine[0]}, [agency])
    shoot(driver, "7-tong-quan-mot-don-vi")
    driver.get(system.metrics.url + f"/bao-cao?period={quarter}")
    exported = download(driver, downloads, "#tai-csv", ".csv")
    rows = list(csv.reader(io.StringIO(exported.read_text(encoding="utf-8-sig"))))
    assert [r[0] for r in rows[1:-1]] == [agency] and rows[-1][0] == "Tổng cộng"
    other = next(code for code in live if code != agency)
    driver.get(system.metrics.url + f"/tong-quan?agency={other}")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Không tìm thấy đơn vị"
    assert CATALOG.agencies[other].name not in driver.page_source
    driver.get(system.metrics.url + "/tong-quan")
    logout(driver)


def test_the_worklist_is_a_list_of_cards_at_phone_width(system: System, browser: webdriver.Chrome) -> None:
    """At 390 px the page never scrolls sideways: each dossier is a card whose cells name their column,
    the column headers stay for screen readers, the keyboard focus shows, and the labels keep AA
    contrast."""
    driver = browser
    login(driver, system, system.metrics_key)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        driver.get(system.metrics.url + "/viec-can-xu-ly")
        WebDriverWait(driver, WAIT_S).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )
        assert driver.execute_script("return window.innerWidth") == PHONE[0]
        assert driver.execute_script("return document.scrollingElement.scrollWidth <= window.innerWidth"), (
            driver.execute_script("return [document.scrollingElement.scrollWidth, window.innerWidth]")
        )

        rows = driver.find_elements(By.CSS_SELECTOR, "#viec-can-xu-ly tbody tr[data-dossier]")
        assert rows, "the worklist of the traffic has overdue or due-soon dossiers"
        headers = [
            (h.get_attribute("textContent") or "").strip()
            for h in driver.find_elements(By.CSS_SELECTOR, "#viec-can-xu-ly thead th")
        ]
        card = rows[0]
        labels = [c.get_attribute("data-label") for c in card.find_elements(By.CSS_SELECTOR, "th, td")]
        assert labels == headers  # every cell names its column, in the columns' order
        assert card.value_of_css_property("display") == "block"
        assert card.size["width"] <= PHONE[0]
        shown = driver.execute_script(
            "return getComputedStyle(arguments[0], '::before').content",
            card.find_element(By.CSS_SELECTOR, "td"),
        )
        assert headers[1] in shown
        # the header row is still there for screen readers, visually hidden, and the roles stay
        head = driver.find_element(By.CSS_SELECTOR, "#viec-can-xu-ly thead")
        assert head.size["width"] <= 1 and head.get_attribute("role") == "rowgroup"
        assert driver.find_element(By.ID, "viec-can-xu-ly").get_attribute("role") == "table"
        assert card.get_attribute("role") == "row"

        # AA contrast of the labels and the values on the card
        for selector, pseudo in (("td", "::before"), ("td", None)):
            cell = card.find_element(By.CSS_SELECTOR, selector)
            colour = driver.execute_script(
                "return getComputedStyle(arguments[0], arguments[1]).color", cell, pseudo
            )
            assert contrast(colour, "rgb(255, 255, 255)") >= 4.5, (selector, pseudo, colour)

        # the keyboard reaches the first dossier's link and its focus is drawn
        link = card.find_element(By.CSS_SELECTOR, "th a")
        for _ in range(80):
            ActionChains(driver).send_keys(Keys.TAB).perform()
            if driver.switch_to.active_element == link:
                break
        assert driver.switch_to.active_element == link, "the keyboard never reached the first dossier"
        assert link.value_of_css_property("outline-style") == "solid"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.execute_script("window.scrollTo(0, 0)")
        full = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": PHONE[0], "height": min(int(full), 4000), "deviceScaleFactor": 1, "mobile": True},
        )
        driver.save_screenshot(str(SCREENSHOTS / "8-viec-can-xu-ly-the-dien-thoai.png"))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    logout(driver)


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two CSS `rgb()`/`rgba()` colours (opaque)."""

    def luminance(colour: str) -> float:
        channels = [float(v) / 255 for v in colour[colour.index("(") + 1 : colour.index(")")].split(",")[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def time_now_date() -> date:
    return datetime.now(VN_TZ).date()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _until(condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)
