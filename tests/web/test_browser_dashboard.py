"""The dashboard in Debian's Chromium (Playwright) against a real server: both languages, the charts
drawn, a phone-sized screen without sideways scrolling, and an inbox export downloaded."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.web.live import ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, Live, start
from tests.web.test_browser import sign_in

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian Chromium is not installed at /usr/bin/chromium (`make unit` installs it as root)",
    ),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    running = start(tmp_path_factory.mktemp("live-dashboard"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _charts_drawn(page: object) -> int:
    script = (
        "() => [...document.querySelectorAll('.chart img')]"
        ".filter(i => i.complete && i.naturalWidth > 0).length"
    )
    return int(page.evaluate(script))  # type: ignore[attr-defined]


def test_the_dashboard_in_both_languages_on_a_laptop_and_a_phone(
    live: Live, browser: object, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)  # type: ignore[attr-defined]
    page = context.new_page()
    sign_in(page, live, "admin", ADMIN_PASSWORD)
    page.wait_for_selector('[data-testid="inbox"]')
    page.click('a[href="/dashboard"]')
    page.wait_for_selector('[data-testid="tiles"]')
    assert "数据看板" in page.content() and "每日投诉量" in page.content()
    assert page.inner_text('[data-testid="total"]') == "3"
    assert _charts_drawn(page) == 8
    assert "示例小店" in page.inner_text('[data-testid="table-merchants"]')

    page.click('[data-testid="lang-en"]')
    page.wait_for_selector('[data-testid="tiles"]')
    assert "Complaints per day" in page.content() and "数据看板" not in page.content()
    page.select_option('select[name="period"]', "7d")
    page.click("text=Show")
    page.wait_for_selector('[data-testid="tiles"]')
    assert "period=7d" in page.url and page.inner_text('[data-testid="total"]') == "3"

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector('[data-testid="tiles"]')
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the dashboard scrolls sideways on a phone by {overflow}px"
    assert _charts_drawn(page) == 8

    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live.desk.url}/?status=&sort=newest")
    with page.expect_download() as download:
        page.click('[data-testid="export-csv"]')
    saved = tmp_path / "view.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "Complaint id" and len(rows) == 4
    context.close()
