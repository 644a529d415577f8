"""The console in Debian's Chromium (Playwright), against a real server and the WeChat Pay simulator.

One walk through an operator's day, kept short: sign in, find a complaint by order number, reply with a
template and an image, see it sent (timeline and simulator), approve a refund, complete; then an agent of
another merchant fails to see the complaint.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.test_api import png
from tests.web.live import ADMIN_PASSWORD, AGENT_PASSWORD, CHROMIUM, CHROMIUM_ARGS, Live, start

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian Chromium is not installed at /usr/bin/chromium (`make unit` installs it as root)",
    ),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    running = start(tmp_path_factory.mktemp("live"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def sign_in(page: object, live: Live, username: str, password: str) -> None:
    page.goto(f"{live.desk.url}/login")  # type: ignore[attr-defined]
    page.fill('input[name="username"]', username)  # type: ignore[attr-defined]
    page.fill('input[name="password"]', password)  # type: ignore[attr-defined]
    page.click('button[type="submit"]')  # type: ignore[attr-defined]


def wait_for(condition: object, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_an_operator_replies_with_a_template_and_an_image_approves_a_refund_and_completes(
    live: Live, browser: object, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live, "admin", ADMIN_PASSWORD)
    page.wait_for_selector('[data-testid="inbox"]')
    assert "收件箱" in page.content()

    order_no = live.complaint(live.plain).orders[0]["out_trade_no"]
    page.fill('[data-testid="search"]', order_no)
    page.press('[data-testid="search"]', "Enter")
    page.wait_for_url(re.compile(r"q="))
    rows = page.locator("table.inbox tbody tr[data-href]")
    assert rows.count() == 1
    rows.first.locator("td.problem a").click()
    page.wait_for_selector("#reply")

    page.select_option("#template", label="发货致歉")
    page.wait_for_selector("#use-template:not([hidden])")
    page.click("#use-template")
    assert page.input_value("#reply") == f"您好，订单{order_no}已加急发货，请留意物流。"
    assert re.match(r"\d+ / 200", page.inner_text("#reply-counter"))
    image = tmp_path / "proof.png"
    image.write_bytes(png(4, 4))
    page.set_input_files("#reply-images", str(image))
    page.wait_for_selector("#reply-thumbs img[data-sha]")
    page.click('[data-testid="send-reply"]')
    page.wait_for_selector(".state.sent", timeout=20000)
    replies = live.state.merchant_actions(live.plain, api_only=True)
    assert [r["operate_details"] for r in replies] == [f"您好，订单{order_no}已加急发货，请留意物流。"]
    assert page.locator("#timeline .source-action .thumbs img").count() == 1

    page.goto(f"{live.desk.url}/complaints/{live.complaint(live.refund).id}")
    page.click('[data-testid="approve-refund"]')
    page.wait_for_selector(".state.sent", timeout=20000)
    wait_for(
        lambda: (
            [a["operate_type"] for a in live.state.merchant_actions(live.refund, api_only=True)]
            == ["MERCHANT_APPROVE_REFUND"]
        ),
        "the refund approval in the simulator",
    )

    page.goto(f"{live.desk.url}/complaints/{live.complaint(live.plain).id}")
    page.click('[data-testid="complete"]')
    wait_for(
        lambda: live.state.complaint(live.plain)["complaint_state"] == "PROCESSED", "completion upstream"
    )
    page.wait_for_selector(".state.sent >> nth=1", timeout=20000)
    context.close()


def test_an_agent_of_another_merchant_cannot_see_the_complaint(live: Live, browser: object) -> None:
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    sign_in(page, live, "sp-agent", AGENT_PASSWORD)
    page.wait_for_selector('[data-testid="inbox"]')
    page.goto(f"{live.desk.url}/?view=all")
    assert f"/complaints/{live.complaint(live.sub).id}" in page.content()
    assert f'/complaints/{live.complaint(live.plain).id}"' not in page.content()
    answer = page.goto(f"{live.desk.url}/complaints/{live.complaint(live.plain).id}")
    assert answer is not None and answer.status == 404
    assert "未找到" in page.content()
    context.close()
