"""The report in a real browser: headless Chromium opens index.html from disk, logs no error, shows one
leaderboard row per entry, and every image loads. Skipped (with the reason) where Chromium, its driver or
selenium is missing; CI installs Chromium (.ci/run)."""
from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium chromium-driver): browser test not run")
    if not shutil.which(CHROMEDRIVER):
        pytest.skip("chromedriver is not installed (apt-get install chromium-driver): browser test not run")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e .[test])")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}", "--window-size=1280,1600"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_the_report_loads_in_chromium(browser, report, results_db):
    browser.get(report.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert browser.title == "drivebench test report"
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    rows = browser.execute_script("return document.querySelectorAll('table.leaderboard tbody tr').length")
    assert rows == len(results_db.entries())
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
    assert len(images) >= 7
    broken = [src for src, complete, width in images if not (complete and width > 0)]
    assert broken == []


def test_the_check_sees_a_missing_image(browser, report, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(report.parent, copy)
    (copy / "scores.png").unlink()
    browser.get((copy / "index.html").as_uri())
    broken = browser.execute_script(
        "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
        ".map(i => i.getAttribute('src'))")
    assert broken == ["scores.png"]
