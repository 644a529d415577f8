"""Take the console screenshots in ``docs/screenshots/`` (inbox, a complaint and the dashboard; zh-CN, en).

Runs a real server and the WeChat Pay simulator on loopback with seeded complaints, signs in with
Debian's Chromium (Playwright, ``/usr/bin/chromium``) and saves PNGs. Run from the repository root::

    .venv/bin/python bench/screenshots.py                    # every group
    .venv/bin/python bench/screenshots.py --group dashboard  # only the dashboard (zh-CN, en, phone)

Chinese text needs a CJK font (Debian: ``apt-get install -y fonts-wqy-microhei``), else glyphs are boxes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from tests.e2e.test_api import png  # noqa: E402
from tests.web.live import ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, start  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
GROUPS = ("console", "dashboard")


def dashboard(page: object, url: str) -> None:
    """The dashboard in both languages on a laptop, and in English on a phone."""
    for lang in ("zh-CN", "en"):
        suffix = "zh" if lang == "zh-CN" else "en"
        page.goto(f"{url}/dashboard")  # type: ignore[attr-defined]
        if page.locator(f'[data-testid="lang-{lang}"]').count():  # type: ignore[attr-defined]
            page.click(f'[data-testid="lang-{lang}"]')  # type: ignore[attr-defined]
        page.goto(f"{url}/dashboard?period=7d")  # type: ignore[attr-defined]
        page.wait_for_selector('[data-testid="tiles"]')  # type: ignore[attr-defined]
        page.screenshot(path=str(OUT / f"dashboard-{suffix}.png"), full_page=True)  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 390, "height": 844})  # type: ignore[attr-defined]
    page.goto(f"{url}/dashboard?period=7d")  # type: ignore[attr-defined]
    page.wait_for_selector('[data-testid="tiles"]')  # type: ignore[attr-defined]
    page.screenshot(path=str(OUT / "dashboard-phone-en.png"), full_page=False)  # type: ignore[attr-defined]
    page.set_viewport_size({"width": 1440, "height": 900})  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--group", choices=GROUPS, action="append", help="only these screenshots (repeat)")
    groups = set(parser.parse_args().group or GROUPS)
    if not CHROMIUM.exists():
        raise SystemExit("Debian Chromium is needed at /usr/bin/chromium (apt-get install chromium)")
    OUT.mkdir(parents=True, exist_ok=True)
    with TemporaryDirectory(prefix="cd-shots-") as tmp:
        live = start(Path(tmp), extra_complaints=24)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
                page.on("dialog", lambda dialog: dialog.accept())
                page.goto(f"{live.desk.url}/login")
                page.fill('input[name="username"]', "admin")
                page.fill('input[name="password"]', ADMIN_PASSWORD)
                page.click('button[type="submit"]')
                page.wait_for_selector('[data-testid="inbox"]')
                if "console" in groups:
                    complaint = live.complaint(live.refund).id
                    page.goto(f"{live.desk.url}/complaints/{complaint}")
                    page.fill('textarea[name="note"]', "已联系仓库核实破损情况，等待照片。<b>内部</b>")
                    page.click("text=添加备注")
                    image = Path(tmp) / "proof.png"
                    image.write_bytes(png(64, 48))
                    page.fill("#reply", "您好，已为您登记破损，我们会尽快补发新杯子。")
                    page.set_input_files("#reply-images", str(image))
                    page.wait_for_selector("#reply-thumbs img[data-sha]")
                    page.click('[data-testid="send-reply"]')
                    page.wait_for_selector(".state.sent", timeout=20000)
                    for lang in ("zh-CN", "en"):
                        suffix = "zh" if lang == "zh-CN" else "en"
                        page.goto(f"{live.desk.url}/")
                        if page.locator(f'[data-testid="lang-{lang}"]').count():
                            page.click(f'[data-testid="lang-{lang}"]')
                        page.goto(f"{live.desk.url}/?view=todo")
                        page.wait_for_timeout(600)  # counts and countdowns fill in
                        page.screenshot(path=str(OUT / f"inbox-{suffix}.png"), full_page=False)
                        page.goto(f"{live.desk.url}/complaints/{complaint}")
                        page.wait_for_timeout(400)
                        page.screenshot(path=str(OUT / f"complaint-{suffix}.png"), full_page=True)
                    page.set_viewport_size({"width": 390, "height": 844})
                    page.goto(f"{live.desk.url}/?view=todo")
                    page.wait_for_timeout(400)
                    page.screenshot(path=str(OUT / "inbox-phone-en.png"), full_page=False)
                    page.set_viewport_size({"width": 1440, "height": 900})
                if "dashboard" in groups:
                    dashboard(page, live.desk.url)
                browser.close()
        finally:
            live.stop()
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT), path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
