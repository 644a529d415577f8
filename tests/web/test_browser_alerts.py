"""In Chromium: an admin adds a WeCom robot (a real receiver on loopback), presses "send test", and sees
the delivery with the robot's answer in the log; a misconfigured address is refused next to its field."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.alert_receivers import http_receiver
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
    running = start(tmp_path_factory.mktemp("live-alerts"))
    yield running
    running.stop()


def test_an_admin_adds_a_robot_sends_a_test_and_sees_it_in_the_log(live: Live) -> None:
    from playwright.sync_api import expect, sync_playwright

    with http_receiver() as rx, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        try:
            sign_in(page, live, "admin", ADMIN_PASSWORD)
            page.click('nav a[href="/admin/alerts"]')
            form = page.locator('[data-testid="add-destination"]')
            form.locator('select[name="kind"]').select_option("wecom")
            form.locator('input[name="name"]').fill("运营群")
            wrong = rx.url("wecom").split("?")[0]  # the key is missing
            form.locator('input[name="url"]').fill(wrong)
            form.locator('[data-testid="add-destination-submit"]').click()
            expect(page.locator('[data-testid="error-url"]')).to_contain_text("缺少 key")
            form = page.locator('[data-testid="add-destination"]')
            form.locator('select[name="kind"]').select_option("wecom")
            form.locator('input[name="url"]').fill(rx.url("wecom"))
            form.locator('input[value="sla_breach"]').check()
            form.locator('[data-testid="add-destination-submit"]').click()
            expect(page.locator("h1")).to_contain_text("运营群")
            expect(page.locator('[data-testid="url-hint"]')).not_to_contain_text("tok123")
            page.click('[data-testid="send-test"]')
            expect(page.locator('[data-testid="flash"]')).to_contain_text("测试消息已送达")
            row = page.locator('[data-testid="attempt"]').first
            expect(row).to_contain_text("测试已送达")
            expect(row).to_contain_text('"errcode":0')
            assert len(rx.accepted) == 1 and "测试消息" in rx.texts("wecom")[0]
            page.click("text=发送记录")
            expect(page.locator('[data-testid="attempt"]').first).to_contain_text("运营群")
        finally:
            browser.close()
