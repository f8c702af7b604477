"""Browser tests of the console: Debian's chromium, headless, driven by Selenium through Debian's
chromium-driver (`deploy/scripts/browser.sh install`; never a downloaded browser), against the three
services run as processes with traffic sent through intake. Screenshots of every page, at desktop and
phone width, go to `.run/screenshots/` (printed at the end of the session)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from dossier_core.calendar import VN_TZ
from dossier_core.periods import Period
from dossier_metrics.console.figures import current_quarter
from dossier_sim.expect import expected_rows
from dossier_sim.generator import ProvinceGenerator, happened_by
from dossier_sim.mix import DEFAULT_MIX, OutcomeMix
from tests.e2e.traffic import CATALOG, Traffic
from tests.support import ROOT, System, running_system

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / ".run" / "screenshots"
DESKTOP, PHONE = (1440, 1000), (390, 844)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the console in a real headless Chromium")


def pytest_sessionfinish(session: pytest.Session) -> None:
    if SCREENSHOTS.exists() and any(SCREENSHOTS.iterdir()):
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"[browser] screenshots of the console: {SCREENSHOTS}")


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    """Dossiers of the last five weeks as they stand now: received today (on a working day), overdue,
    due soon, paused, resolved early, on time and late in the current period."""
    now = datetime.now(VN_TZ)
    weeks = Period.between(now.date() - timedelta(days=35), now.date())
    generated = ProvinceGenerator(CATALOG, weeks, OutcomeMix.parse(DEFAULT_MIX), seed=15).dossiers(400)
    dossiers = happened_by(list(generated), now)
    quarter = current_quarter(now.date())
    return Traffic(dossiers, expected_rows(dossiers, CATALOG, quarter), period=quarter)


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, database_url: str, traffic: Traffic
) -> Iterator[System]:
    """The three services with the traffic sent through intake and counted by metrics."""
    tmp = tmp_path_factory.mktemp("console")
    with running_system(tmp, kafka_bootstrap, database_url) as started:
        sent = traffic.send(started.intake.url, started.intake_key, traffic.plan())
        assert sent.rejected == 0 and not sent.errors, sent
        assert traffic.report_differences(started.metrics.url, started.metrics_key, timeout=120) == []
        yield started


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """`.run/screenshots/`, emptied once a session (every module's browser adds its pages)."""
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.fixture(scope="module")
def browser(downloads: Path, screenshots: Path) -> Iterator[webdriver.Chrome]:
    assert CHROMEDRIVER.exists() and CHROMIUM.exists(), (
        "Debian's chromium and chromium-driver are needed: deploy/scripts/browser.sh install"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=vi-VN"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def shoot(driver: webdriver.Chrome, name: str) -> None:
    """Screenshots of the page at desktop and at phone width."""
    for label, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
        driver.set_window_size(width, height)
        full = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(height, int(full) + 120), 4000))
        driver.save_screenshot(os.fspath(SCREENSHOTS / f"{name}-{label}.png"))
    driver.set_window_size(*DESKTOP)
