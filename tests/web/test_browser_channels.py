"""The Mini Program and Huishouqian action forms in Debian's Chromium, against their real simulators.

Each step goes through the console's form; what reached the platform is read from the simulator's own
state (what WeChat or Huishouqian would see), never from our database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from tests.conftest import PG_ADMIN_URL, _postgres_available
from tests.e2e.test_api import png
from tests.web.live import CHROMIUM, CHROMIUM_ARGS
from tests.web.live_channels import ADMIN_PASSWORD, LiveChannels, start
from tests.web.test_browser import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian Chromium is not installed at /usr/bin/chromium (`make unit` installs it as root)",
    ),
]
_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"
CONSUMER_IMAGES = "#timeline li:not(.source-action) .thumbs img"
REFUSAL = "商品出库前已检验，破洞系穿着后造成，不同意退款。"
PROOF = "出库质检照片：商品完好无破损。"
APPEAL = "用户签收时未提出异议，申请平台复核。"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveChannels]:
    """The console and both simulators, on SQLite and on the session's PostgreSQL test database."""
    url = None
    if request.param == "postgresql":
        url = _postgres_available()
        if url is None:
            pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL.split('@')[-1]}")
    running = start(tmp_path_factory.mktemp("channels"), database_url=url)
    yield running
    running.stop()
    if url is not None:  # leave the shared test database empty for the next module
        engine = create_engine(url)
        with engine.begin() as conn:
            tables = conn.execute(text(_TABLES)).scalars()
            names = ", ".join(f'"{t}"' for t in tables)
            if names:
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(live: LiveChannels, browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live.desk.url}/login")
    page.fill('input[name="username"]', "admin")
    page.fill('input[name="password"]', ADMIN_PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_selector('[data-testid="inbox"]')
    yield page
    context.close()


def _open(page: Any, live: LiveChannels, external_id: str) -> None:
    page.goto(f"{live.desk.url}/complaints/{live.complaint(external_id).id}")
    page.wait_for_selector("#composer")


def _sent(page: Any, count: int) -> None:
    """Wait until ``count`` of our actions show as sent on the timeline (and say what it shows if not)."""
    try:
        page.wait_for_selector(f"#timeline .state.sent >> nth={count - 1}", timeout=30000)
    except Exception as exc:
        shown = page.inner_text("#timeline") + "\n" + page.inner_text("#composer")
        raise AssertionError(f"{count} sent actions expected; the page shows:\n{shown}") from exc


def _advance(live: LiveChannels, external_id: str, status: str) -> None:
    """Deliver the simulator's pushes and wait until the console stored ``status``."""
    live.deliver()
    live.wait_stored(external_id, lambda c: c.raw_status == status)


def test_a_mini_program_complaint_through_refusal_proof_and_appeal(
    live: LiveChannels, page: Any, tmp_path: Any
) -> None:
    cid = live.mp_complaint
    # A push carries no id: events are told apart by (complaint, status, CreateTime in seconds), so
    # evidence pushed in the same second as the complaint's creation, with its status unchanged, would
    # be a duplicate of that push (docs/miniprogram.md). A second later, it is an event of its own.
    later = live.mp_state.now() + timedelta(seconds=1)
    live.mp_state.user_evidence(cid, "破洞的照片", images=2, at=later)
    live.deliver()

    def archived() -> bool:  # the consumer's three images, downloaded by the background job
        _open(page, live, cid)
        return page.locator(CONSUMER_IMAGES).count() == 3

    wait_for(archived, "the consumer's images archived")
    assert page.is_checked('[data-testid="mp-respond"]')
    assert page.get_attribute("#reply", "data-limit") == "1000"

    # Refuse without a reason: the form says so next to the field, in Chinese, and sends nothing.
    page.select_option('[data-testid="mp-agree"]', "0")
    page.click('[data-testid="send-reply"]')
    error = page.locator('#reply-form [data-testid="error-content"]')
    error.wait_for()
    assert "拒绝" in error.inner_text() and "理由" in error.inner_text()
    assert live.mp_state.merchant_actions(cid) == []
    assert page.url.endswith(f"/complaints/{live.complaint(cid).id}"), "checked in the page: nothing posted"

    page.fill("#reply", REFUSAL)
    page.click('[data-testid="send-reply"]')
    _sent(page, 1)
    [refusal] = live.mp_state.merchant_actions(cid, api_only=True)
    assert (refusal["action"], refusal["bussi_handle"], refusal["content"]) == ("respond", 2, REFUSAL)
    assert live.mp_state.get(cid).status == 204  # the merchant refused; the user decides next
    actions = page.locator("#timeline li.source-action")
    assert "管理员" in actions.first.inner_text(), "our action names its operator"
    assert actions.first.locator('[data-testid="action-kind"]').inner_text() == "拒绝和解"

    # The user asks the platform in, the platform asks for evidence: supply proof with an image.
    live.mp_state.user_asks_platform(cid)
    live.mp_state.platform_requests_evidence(cid)
    _advance(live, cid, "106")
    _open(page, live, cid)
    assert page.locator('[data-testid="mp-respond"]').count() == 0
    page.check('[data-testid="mp-supply_proof"]')
    page.fill("#reply", PROOF)
    image = tmp_path / "proof.png"
    image.write_bytes(png(24, 16))
    page.set_input_files("#reply-images", str(image))
    page.wait_for_selector("#reply-thumbs img[data-sha]")
    page.click('[data-testid="send-reply"]')
    _sent(page, 2)
    proof = live.mp_state.merchant_actions(cid, api_only=True)[-1]
    assert (proof["action"], proof["content"], len(proof["media"])) == ("supply_proof", PROOF, 1)
    upload = live.mp_state.media.upload(proof["media"][0])
    assert upload is not None and upload.data == image.read_bytes(), "the platform got our image"
    assert live.mp_state.get(cid).status == 107

    # Our evidence image stays on the timeline after a refresh from upstream.
    page.click('[data-testid="refresh"]')
    page.wait_for_selector("#timeline")
    proof_entry = page.locator("#timeline li.source-action", has_text=PROOF)
    assert proof_entry.locator(".thumbs img").count() == 1
    page.reload()
    assert page.locator("#timeline li.source-action", has_text=PROOF).locator(".thumbs img").count() == 1
    assert page.locator(CONSUMER_IMAGES).count() == 3, "the consumer's images survive re-signed links"

    # The platform rules against the merchant: the appeal window opens; appeal from the console.
    live.mp_state.platform_rules(cid, liable=True)
    _advance(live, cid, "206")
    _open(page, live, cid)
    page.check('[data-testid="mp-appeal"]')
    page.fill("#reply", APPEAL)
    page.click('[data-testid="send-reply"]')
    _sent(page, 3)
    appeal = live.mp_state.merchant_actions(cid, api_only=True)[-1]
    assert (appeal["action"], appeal["content"]) == ("appeal", APPEAL)
    assert live.mp_state.get(cid).appeal_state == 403  # the appeal is in progress on the platform
    assert [a["action"] for a in live.mp_state.merchant_actions(cid)] == ["respond", "supply_proof", "appeal"]
    for entry in page.locator("#timeline li.source-action").all():
        assert "管理员" in entry.inner_text()
    kinds = page.locator('#timeline li.source-action [data-testid="action-kind"]').all_inner_texts()
    assert kinds == ["拒绝和解", "向平台补充凭证", "对平台判定提出申诉"]


def test_a_huishouqian_reply_within_its_limits_then_completion(
    live: LiveChannels, page: Any, tmp_path: Any
) -> None:
    cid = live.hs_complaint
    _open(page, live, cid)
    orders = page.locator('[data-testid="orders"]')
    assert "微信支付订单号" not in orders.inner_text(), "Huishouqian orders have no WeChat Pay transaction id"
    for cell in orders.locator("td").all():
        assert cell.inner_text().strip(), "no empty order column"
    assert page.get_attribute("#reply", "data-limit") == "200"
    assert page.get_attribute("#reply-images", "data-max-count") == "4"
    assert page.get_attribute("#reply-images", "data-max-bytes") == str(2 * 1024 * 1024)

    # Over the limits: refused next to the field, before anything is sent.
    page.fill("#reply", "退" * 201)
    error = page.locator('#reply-form [data-testid="error-content"]')
    error.wait_for()
    assert "200" in error.inner_text()
    assert page.is_disabled('[data-testid="send-reply"]')
    gif = {"name": "a.gif", "mimeType": "image/gif", "buffer": b"GIF89a" + b"\x00" * 32}
    page.set_input_files("#reply-images", files=[gif])
    assert "JPG" in page.inner_text("#upload-error")
    big = {"name": "big.png", "mimeType": "image/png", "buffer": png(4, 4, padding=2 * 1024 * 1024)}
    page.set_input_files("#reply-images", files=[big])
    assert "big.png" in page.inner_text("#upload-error")
    five = [{"name": f"{n}.png", "mimeType": "image/png", "buffer": png(2 + n, 2)} for n in range(5)]
    page.set_input_files("#reply-images", files=five)
    page.locator("#reply-thumbs img[data-sha]").nth(3).wait_for()
    page.wait_for_selector("#upload-error:not(:has-text('…'))")  # every upload answered
    assert page.locator("#reply-thumbs img[data-sha]").count() == 4
    assert "4" in page.inner_text("#upload-error")
    assert live.hs_state.merchant_actions(cid) == []

    # Within the limits: two images and 200 characters reach Huishouqian.
    page.reload()  # start again with an empty composer
    text = ("您好，已核实订单，扣费系归还未成功导致，已为您退款。" * 10)[:200]
    page.fill("#reply", text)
    assert page.locator('#reply-form [data-testid="error-content"]').inner_text() == ""
    page.set_input_files("#reply-images", files=five[:2])
    page.locator("#reply-thumbs img[data-sha]").nth(1).wait_for()
    page.click('[data-testid="send-reply"]')
    _sent(page, 1)
    [reply] = live.hs_state.merchant_actions(cid, api_only=True)
    assert (reply["operateType"], reply["operateDetails"]) == ("MERCHANT_RESPONSE", text)
    assert len(reply["imageList"]) == 2

    # Mark as complete: the completion message is part of the form; missing, it is asked for there.
    _open(page, live, cid)
    page.click('[data-testid="complete"]')
    message = page.locator('[data-testid="error-complete-content"]')
    message.wait_for()
    assert message.inner_text().strip()
    assert page.url.endswith(f"/complaints/{live.complaint(cid).id}"), "checked in the page: nothing posted"
    assert live.hs_state.complaint(cid)["complaintState"] != "PROCESSED"
    page.fill('[data-testid="complete-content"]', "已退款，问题已处理完毕。")
    page.click('[data-testid="complete"]')
    wait_for(lambda: live.hs_state.complaint(cid)["complaintState"] == "PROCESSED", "completion upstream")
    done = live.hs_state.merchant_actions(cid, api_only=True)[-1]
    assert (done["operateType"], done["operateDetails"]) == (
        "MERCHANT_CONFIRM_COMPLETE",
        "已退款，问题已处理完毕。",
    )
    _sent(page, 2)
    assert all("管理员" in e.inner_text() for e in page.locator("#timeline li.source-action").all())
