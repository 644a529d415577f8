"""Keyboard on the complaint page, in Debian's Chromium: j / k walk the inbox view, r focuses the composer,
letters typed in it stay text, Ctrl+Enter sends the reply (seen on the simulator), ? shows the shortcuts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
from tests.web.live import ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, Live, start
from tests.web.test_browser import sign_in, wait_for

from complaintdesk.core.complaints.models import Complaint

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian Chromium is not installed at /usr/bin/chromium (`make unit` installs it as root)",
    ),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    running = start(tmp_path_factory.mktemp("live-keys"), extra_complaints=2)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def test_an_operator_walks_the_view_by_keyboard_and_sends_with_ctrl_enter(
    live: Live, browser: object
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    sign_in(page, live, "admin", ADMIN_PASSWORD)
    page.wait_for_selector('[data-testid="inbox"]')
    page.goto(f"{live.desk.url}/?channel=wechatpay&sort=newest")
    hrefs = [unescape(h) for h in page.locator("table.inbox tbody tr[data-href]").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-href'))"
    )]  # fmt: skip
    order = [int(re.match(r"/complaints/(\d+)\?", h).group(1)) for h in hrefs]  # type: ignore[union-attr]
    assert len(order) >= 4 and all("sort=newest" in h for h in hrefs)

    page.locator("table.inbox tbody tr[data-href] td.problem a").first.click()
    page.wait_for_url(re.compile(rf"/complaints/{order[0]}\?.*sort=newest"))
    page.keyboard.press("j")
    page.wait_for_url(re.compile(rf"/complaints/{order[1]}\?.*sort=newest"))
    page.keyboard.press("j")
    page.wait_for_url(re.compile(rf"/complaints/{order[2]}\?"))
    page.keyboard.press("k")
    page.wait_for_url(re.compile(rf"/complaints/{order[1]}\?.*channel=wechatpay"))

    page.keyboard.press("?")
    page.wait_for_selector("#help[open]")
    assert "Ctrl" in page.inner_text("#help")
    page.keyboard.press("Escape")
    page.wait_for_selector("#help:not([open])", state="attached")

    page.keyboard.press("r")
    assert page.evaluate("document.activeElement && document.activeElement.id") == "reply"
    page.keyboard.type("jk 您好，已为您加急处理")  # j and k typed in the composer are text, not navigation
    assert page.input_value("#reply") == "jk 您好，已为您加急处理"
    assert f"/complaints/{order[1]}?" in page.url
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".state.sent", timeout=20000)
    external = live_external(live, order[1])
    wait_for(
        lambda: (
            [r["operate_details"] for r in live.state.merchant_actions(external, api_only=True)]
            == ["jk 您好，已为您加急处理"]
        ),
        "the reply on the simulator",
    )
    page.keyboard.press("j")  # after the send the page still knows its view
    page.wait_for_url(re.compile(rf"/complaints/{order[2]}\?.*sort=newest"))
    context.close()


def live_external(live: Live, complaint_id: int) -> str:
    """The upstream id of a stored complaint."""
    with live.ctx.session() as s:
        found = s.get(Complaint, complaint_id)
        assert found is not None
        return found.external_id
