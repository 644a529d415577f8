"""The live console in Debian's Chromium: rows and messages arrive without a reload, and two operators on
one complaint see each other, the second reply being refused until its operator confirms it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from tests.web.live import ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, Live, _deliver, start
from tests.web.test_browser import sign_in, wait_for

from complaintdesk.core.users import service as user_service

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian Chromium is not installed at /usr/bin/chromium (`make unit` installs it as root)",
    ),
]
BOB_PASSWORD = "bob password 1"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    running = start(tmp_path_factory.mktemp("live"))
    with running.ctx.session() as s:
        shop_ids = user_service.account_ids_for(session=s, names=["shop"])
        now = running.ctx.clock.now()
        user_service.create(session=s, username="bob", password=BOB_PASSWORD, role="agent", now=now,
                            account_ids=shop_ids, display_name="小白")  # fmt: skip
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _page(browser: object, live: Live, username: str, password: str) -> object:
    context = browser.new_context(viewport={"width": 1366, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    sign_in(page, live, username, password)
    page.wait_for_selector('[data-testid="inbox"]')
    return page


def _notify(live: Live) -> None:
    """Let the simulator deliver its notifications (its own event loop, off Playwright's thread)."""
    worker = threading.Thread(target=lambda: asyncio.run(_deliver(live.state)))
    worker.start()
    worker.join(timeout=60)


def _mark(page: object) -> None:
    """Tag the document: a reload would lose the tag."""
    page.evaluate("window.__notReloaded = true")  # type: ignore[attr-defined]


def _not_reloaded(page: object) -> bool:
    return bool(page.evaluate("window.__notReloaded === true"))  # type: ignore[attr-defined]


def test_a_new_complaint_appears_in_an_open_inbox_without_reload(live: Live, browser: object) -> None:
    page = _page(browser, live, "admin", ADMIN_PASSWORD)
    page.goto(f"{live.desk.url}/?view=all")  # type: ignore[attr-defined]
    page.wait_for_selector("[data-live-ready]")  # type: ignore[attr-defined]
    _mark(page)
    shop = live.complaint(live.plain).merchant_id
    new = live.state.create_complaint(shop, problem_type="OTHERS", detail="刚刚提交的投诉：商品与描述不符")
    _notify(live)
    page.wait_for_selector(f"table.inbox tbody tr:has-text('{new}')", timeout=30000)  # type: ignore[attr-defined]
    assert _not_reloaded(page)
    page.context.close()  # type: ignore[attr-defined]


def test_a_consumer_message_appears_on_an_open_complaint_page(live: Live, browser: object) -> None:
    page = _page(browser, live, "admin", ADMIN_PASSWORD)
    page.goto(f"{live.desk.url}/complaints/{live.complaint(live.plain).id}")  # type: ignore[attr-defined]
    page.wait_for_selector("[data-live-ready]")  # type: ignore[attr-defined]
    page.fill("#reply", "草稿：还没写完")  # type: ignore[attr-defined]
    _mark(page)
    live.state.user_message(live.plain, "我还在等，请尽快处理")
    _notify(live)
    page.wait_for_selector("#timeline :text('我还在等，请尽快处理')", timeout=30000)  # type: ignore[attr-defined]
    assert page.is_visible('[data-testid="live-notice"]')  # type: ignore[attr-defined]
    assert _not_reloaded(page)
    assert page.input_value("#reply") == "草稿：还没写完", "the draft survives the update"  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]


def test_two_operators_see_each_other_and_the_second_reply_waits_for_confirmation(
    live: Live, browser: object
) -> None:
    complaint = live.complaint(live.refund)
    url = f"{live.desk.url}/complaints/{complaint.id}"
    admin = _page(browser, live, "admin", ADMIN_PASSWORD)
    bob = _page(browser, live, "bob", BOB_PASSWORD)
    for page in (admin, bob):
        page.goto(url)  # type: ignore[attr-defined]
        page.wait_for_selector("[data-live-ready]")  # type: ignore[attr-defined]
    admin.wait_for_selector('[data-testid="presence"] :text("小白 正在查看")')  # type: ignore[attr-defined]
    bob.wait_for_selector('[data-testid="presence"] :text("管理员 正在查看")')  # type: ignore[attr-defined]

    bob.fill("#reply", "您好，我们已安排补发。")  # type: ignore[attr-defined]
    bob.type("#reply", " ")  # type: ignore[attr-defined]  # an input event: composing
    admin.wait_for_selector('[data-testid="presence"] [data-state="composing"]')  # type: ignore[attr-defined]

    admin.fill("#reply", "您好，已为您登记退款申请。")  # type: ignore[attr-defined]
    admin.click('[data-testid="send-reply"]')  # type: ignore[attr-defined]
    admin.wait_for_selector(".state.sent", timeout=30000)  # type: ignore[attr-defined]
    bob.wait_for_selector("#timeline :text('您好，已为您登记退款申请。')", timeout=30000)  # type: ignore[attr-defined]

    bob.click('[data-testid="send-reply"]')  # type: ignore[attr-defined]
    bob.wait_for_selector('[data-testid="conversation-moved"]')  # type: ignore[attr-defined]
    replies = live.state.merchant_actions(live.refund, api_only=True)
    assert [r["operate_details"] for r in replies] == ["您好，已为您登记退款申请。"], "refused: nothing sent"
    assert bob.input_value("#reply").strip() == "您好，我们已安排补发。"  # type: ignore[attr-defined]

    bob.click('[data-testid="send-reply"]')  # type: ignore[attr-defined]  # seen it: confirm
    wait_for(lambda: len(live.state.merchant_actions(live.refund, api_only=True)) == 2, "the confirmed reply")
    texts = [r["operate_details"] for r in live.state.merchant_actions(live.refund, api_only=True)]
    assert texts == ["您好，已为您登记退款申请。", "您好，我们已安排补发。"]
    for page in (admin, bob):
        page.context.close()  # type: ignore[attr-defined]
