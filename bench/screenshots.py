"""Take the console screenshots in ``docs/screenshots/``, each in zh-CN and en.

Runs real servers on loopback (the console with the WeChat Pay simulator; for ``miniprogram`` also the
Mini Program and Huishouqian simulators) with seeded complaints, drives Debian's Chromium (Playwright,
``/usr/bin/chromium``) and saves PNGs. Groups:

* ``console``: the inbox and a WeChat Pay complaint (and the inbox on a phone);
* ``miniprogram``: a Mini Program complaint page with its platform-action forms;
* ``collision``: two operators on one complaint, the second one's reply held until confirmed;
* ``dashboard``: the dashboard (zh-CN, en, and en on a phone);
* ``audit``: the admin audit view.

Run from the repository root (all groups, or the ones named)::

    .venv/bin/python bench/screenshots.py [console] [miniprogram] [collision] [dashboard] [audit]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from tests.e2e.test_api import png  # noqa: E402
from tests.web import live_channels  # noqa: E402
from tests.web.live import ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, Live, start  # noqa: E402

from complaintdesk.core.users import service as user_service  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
LANGUAGES = (("zh-CN", "zh"), ("en", "en"))
BOB_PASSWORD = "bob password 1"


def _page(browser: Any, url: str, username: str, password: str, width: int = 1440) -> Any:
    """A new browser context signed in as ``username``."""
    page = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=1)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{url}/login")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_selector('[data-testid="inbox"]')
    return page


def _language(page: Any, url: str, lang: str) -> None:
    """Switch the signed-in session to ``lang`` (the switch offers only the other language)."""
    page.goto(f"{url}/")
    if page.locator(f'[data-testid="lang-{lang}"]').count():
        page.click(f'[data-testid="lang-{lang}"]')
        page.wait_for_load_state("load")


def console(browser: Any, live: Live, tmp: Path) -> None:
    """The inbox and a WeChat Pay complaint with a note, a sent reply and an image."""
    url = live.desk.url
    page = _page(browser, url, "admin", ADMIN_PASSWORD)
    complaint = live.complaint(live.refund).id
    page.goto(f"{url}/complaints/{complaint}")
    page.fill('textarea[name="note"]', "已联系仓库核实破损情况，等待照片。<b>内部</b>")
    page.click("text=添加备注")
    image = tmp / "proof.png"
    image.write_bytes(png(64, 48))
    page.fill("#reply", "您好，已为您登记破损，我们会尽快补发新杯子。")
    page.set_input_files("#reply-images", str(image))
    page.wait_for_selector("#reply-thumbs img[data-sha]")
    page.click('[data-testid="send-reply"]')
    page.wait_for_selector(".state.sent", timeout=20000)
    for lang, suffix in LANGUAGES:
        _language(page, url, lang)
        page.goto(f"{url}/?view=todo")
        page.wait_for_timeout(600)  # counts and countdowns fill in
        page.screenshot(path=str(OUT / f"inbox-{suffix}.png"), full_page=False)
        page.goto(f"{url}/complaints/{complaint}")
        page.wait_for_timeout(400)
        page.screenshot(path=str(OUT / f"complaint-{suffix}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{url}/?view=todo")
    page.wait_for_timeout(400)
    page.screenshot(path=str(OUT / "inbox-phone-en.png"), full_page=False)
    page.context.close()


def collision(browser: Any, live: Live, tmp: Path) -> None:
    """Two operators on one complaint: the second reply is held until its operator confirms it."""
    url = live.desk.url
    with live.ctx.session() as s:
        if user_service.get_by_username(session=s, username="bob") is None:
            shop_ids = user_service.account_ids_for(session=s, names=["shop"])
            now = live.ctx.clock.now()
            user_service.create(session=s, username="bob", password=BOB_PASSWORD, role="agent", now=now,
                                account_ids=shop_ids, display_name="小白")  # fmt: skip
    admin = _page(browser, url, "admin", ADMIN_PASSWORD)
    bob = _page(browser, url, "bob", BOB_PASSWORD)
    complaint = f"{url}/complaints/{live.complaint(live.plain).id}"
    replies = {
        "zh": ("您好，已为您催促仓库发货。", "您好，我们已安排补发，请留意物流。"),
        "en": ("Hello, we asked the warehouse to ship today.", "Hello, a replacement is on its way."),
    }
    for lang, suffix in LANGUAGES:
        _language(bob, url, lang)
        for page in (admin, bob):
            page.goto(complaint)
            page.wait_for_selector("[data-live-ready]")
        bob.wait_for_selector('[data-testid="presence"] .person')
        first, second = replies[suffix]
        bob.fill("#reply", second)
        admin.fill("#reply", first)
        admin.click('[data-testid="send-reply"]')
        admin.wait_for_selector(f"#timeline li.source-action:has-text('{first}') .state.sent", timeout=30000)
        bob.wait_for_selector(f"#timeline :text('{first}')", timeout=30000)
        bob.click('[data-testid="send-reply"]')
        bob.wait_for_selector('[data-testid="conversation-moved"]')
        bob.wait_for_timeout(400)
        bob.screenshot(path=str(OUT / f"collision-{suffix}.png"), full_page=True)
    for page in (admin, bob):
        page.context.close()


def audit(browser: Any, live: Live, tmp: Path) -> None:
    """The admin audit view (after the other groups' actions, or a sign-in at least)."""
    url = live.desk.url
    page = _page(browser, url, "admin", ADMIN_PASSWORD)
    for lang, suffix in LANGUAGES:
        _language(page, url, lang)
        page.goto(f"{url}/admin/audit")
        page.wait_for_timeout(400)
        page.screenshot(path=str(OUT / f"audit-{suffix}.png"), full_page=True)
    page.context.close()


def miniprogram(browser: Any, tmp: Path) -> None:
    """Mini Program complaints with their platform-action forms: a refusal being written (status 201),
    and after the platform's ruling the choice of processing proof or appeal (206, appeal window open)."""
    live = live_channels.start(tmp / "channels")
    try:
        fresh = live.mp_complaint
        live.mp_state.user_message(fresh, "已经等了三天了，请尽快处理。", images=1)
        ruled = live.mp_state.create_complaint(
            live.mp_appid, content="买的衬衫尺码不对，要求换货。", images=1
        )
        live.mp_state.user_asks_platform(ruled)
        live.mp_state.platform_rules(ruled, liable=True)
        live.deliver()
        live.wait_stored(ruled, lambda c: c.raw_status == "206")
        url = live.desk.url
        page = _page(browser, url, "admin", live_channels.ADMIN_PASSWORD)
        reasons = {
            "zh": "商品出库前已检验完好，破洞系穿着后造成。",
            "en": "The shirt left our warehouse intact.",
        }
        for lang, suffix in LANGUAGES:
            _language(page, url, lang)
            page.goto(f"{url}/complaints/{live.complaint(fresh).id}")
            page.select_option('[data-testid="mp-agree"]', "0")
            page.fill("#reply", reasons[suffix])
            page.wait_for_timeout(600)  # images archived, countdowns filled in
            page.screenshot(path=str(OUT / f"miniprogram-{suffix}.png"), full_page=True)
            page.goto(f"{url}/complaints/{live.complaint(ruled).id}")
            page.check('[data-testid="mp-appeal"]')
            page.wait_for_timeout(400)
            page.screenshot(path=str(OUT / f"miniprogram-appeal-{suffix}.png"), full_page=True)
        page.context.close()
    finally:
        live.stop()


def dashboard(browser: Any, live: Live, tmp: Path) -> None:
    """The dashboard in both languages on a laptop, and in English on a phone."""
    url = live.desk.url
    page = _page(browser, url, "admin", ADMIN_PASSWORD)
    for lang, suffix in LANGUAGES:
        _language(page, url, lang)
        page.goto(f"{url}/dashboard?period=7d")
        page.wait_for_selector('[data-testid="tiles"]')
        page.screenshot(path=str(OUT / f"dashboard-{suffix}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{url}/dashboard?period=7d")
    page.wait_for_selector('[data-testid="tiles"]')
    page.screenshot(path=str(OUT / "dashboard-phone-en.png"), full_page=False)
    page.context.close()


WECHATPAY_GROUPS: dict[str, Callable[[Any, Live, Path], None]] = {
    "console": console,
    "collision": collision,
    "dashboard": dashboard,
    "audit": audit,  # last: the audit log then holds the other groups' actions
}
GROUPS = ("console", "miniprogram", "collision", "dashboard", "audit")


def main(argv: list[str]) -> None:
    if not CHROMIUM.exists():
        raise SystemExit("Debian Chromium is needed at /usr/bin/chromium (apt-get install chromium)")
    unknown = sorted(set(argv) - set(GROUPS))
    if unknown:
        raise SystemExit(f"unknown group(s) {', '.join(unknown)}; groups: {', '.join(GROUPS)}")
    chosen = [g for g in GROUPS if g in argv] or list(GROUPS)
    OUT.mkdir(parents=True, exist_ok=True)
    wechatpay = [g for g in chosen if g in WECHATPAY_GROUPS]
    with TemporaryDirectory(prefix="cd-shots-") as tmp:
        live = None
        if wechatpay:  # started before Playwright's event loop (the simulator delivers with asyncio.run)
            (Path(tmp) / "wechatpay").mkdir()
            live = start(Path(tmp) / "wechatpay", extra_complaints=24)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                if "miniprogram" in chosen:
                    miniprogram(browser, Path(tmp))
                for group in wechatpay:
                    assert live is not None
                    WECHATPAY_GROUPS[group](browser, live, Path(tmp))
                browser.close()
        finally:
            if live is not None:
                live.stop()
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT), path.stat().st_size, "bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
