"""Issue #12 item 6: every page of a seeded desk, in zh-CN and in English, has no raw code, no other language.

The crawler signs in as an admin, starts from the inbox, the admin pages and every complaint page, and follows
every same-site link breadth-first (GET only, bounded), so pages added later are crawled once linked. What
counts as a finding is described in ``tests/web/crawler.py``.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.e2e.harness_channels import ChannelsHarness, build_channels
from tests.web import crawlseed
from tests.web.conftest import Console
from tests.web.crawler import code_vocabulary, findings, read, same_site_path

from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio
START = ("/", "/admin/audit", "/admin/users", "/admin/tokens", "/admin/templates", "/password")
MAX_PAGES = 250
MAX_VARIANTS = 6  # query-string variants followed per path (filters, pages)


@pytest.fixture
async def ch(settings: Settings, tmp_path: Path) -> AsyncIterator[ChannelsHarness]:
    harness = await build_channels(settings, tmp_path)
    yield harness
    await harness.aclose()


async def _crawl(console: Console, start: list[str]) -> tuple[dict[str, list[str]], int]:
    """Visit pages breadth-first; returns findings by page and the number of pages read."""
    words, numbers = code_vocabulary()
    language = "zh-CN"
    queue, seen, variants = deque(start), set(start), dict[str, int]()
    found: dict[str, list[str]] = {}
    read_pages = 0
    while queue and read_pages < MAX_PAGES:
        path = queue.popleft()
        answer = await console.get(path)
        read_pages += 1
        bare_path = path.split("?")[0]
        if answer.status_code in (302, 303) and bare_path.endswith(("/next", "/previous")):
            # next/previous complaint: a redirect to the neighbour's page, crawled like a link
            location = same_site_path(f"http://desk.test{path}", answer.headers.get("location", ""))
            if location is not None and location not in seen:
                seen.add(location)
                queue.append(location)
            continue
        if answer.status_code != 200:
            found[path] = [f"answered {answer.status_code}"]
            continue
        if "text/html" not in answer.headers.get("content-type", ""):
            continue
        html = answer.text
        language = "en" if 'lang="en"' in html else "zh-CN"
        page = read(html)
        problems = findings(page, language, words, numbers)
        if problems:
            found[path] = problems
        for href in page.links:
            target = same_site_path(f"http://desk.test{path}", href)
            if target is None or target in seen:
                continue
            bare = target.split("?", 1)[0]
            if "?" in target:
                if variants.get(bare, 0) >= MAX_VARIANTS:
                    continue
                variants[bare] = variants.get(bare, 0) + 1
            seen.add(target)
            queue.append(target)
    return found, read_pages


def _report(found: dict[str, list[str]]) -> str:
    dump = os.environ.get("COMPLAINTDESK_CRAWL_REPORT")  # every finding, for whoever fixes them
    if dump:
        with open(dump, "a", encoding="utf-8") as handle:
            handle.writelines(f"{path}\t{problem}\n" for path, items in found.items() for problem in items)
    total = sum(len(v) for v in found.values())
    lines = [f"{total} findings on {len(found)} pages"]
    for path, problems in sorted(found.items()):
        unique = list(dict.fromkeys(problems))
        lines.append(f"{path}: " + "; ".join(unique[:12]) + (" …" if len(unique) > 12 else ""))
    return "\n".join(lines)


async def _signed_out_pages(ch: ChannelsHarness, language: str) -> dict[str, list[str]]:
    """The sign-in page, before anyone signs in, in ``language``."""
    words, numbers = code_vocabulary()
    anonymous = Console(ch)  # type: ignore[arg-type]
    try:
        await anonymous.get("/login")
        assert (
            await anonymous.post("/language", {"language": language, "next": "/login"})
        ).status_code == 303
        page = await anonymous.get("/login")
        assert page.status_code == 200 and f'lang="{language}"' in page.text
        problems = findings(read(page.text), language, words, numbers)
    finally:
        await anonymous.aclose()
    return {"/login (signed out)": problems} if problems else {}


async def _error_page(console: Console, language: str) -> dict[str, list[str]]:
    """A complaint that does not exist: the error page, in ``language`` too."""
    words, numbers = code_vocabulary()
    answer = await console.get("/complaints/999999999")
    assert answer.status_code == 404
    problems = findings(read(answer.text), language, words, numbers)
    return {"/complaints/999999999 (404)": problems} if problems else {}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_every_page_is_in_one_language_without_raw_codes(
    ch: ChannelsHarness, language: str, tmp_path: Path
) -> None:
    seeded = await crawlseed.seed(ch, tmp_path)
    found = await _signed_out_pages(ch, language)
    console = Console(ch)  # type: ignore[arg-type]
    try:
        assert (await console.login(crawlseed.ADMIN)).status_code == 303
        switched = await console.post("/language", {"language": language, "next": "/"})
        assert switched.status_code == 303
        complaints = [f"/complaints/{i}" for i in seeded["ids"]]
        crawled, pages = await _crawl(console, [*START, *complaints])
        found |= crawled | await _error_page(console, language)
    finally:
        await console.aclose()
    assert pages >= len(START) + len(complaints)
    assert not found, _report(found)


def test_the_crawler_sees_codes_english_and_chinese_but_not_data() -> None:
    words, numbers = code_vocabulary()
    bad = read(
        '<p>sla_breach</p><span title="USER_RESPONSE">x</span><strong>16</strong>'
        "<p>mp_action is required</p><p>状态:status:201</p>"
    )
    zh = findings(bad, "zh-CN", words, numbers)
    assert any("'sla_breach'" in f for f in zh) and any("'USER_RESPONSE'" in f for f in zh)
    assert any("'16'" in f for f in zh) and any("'status:201'" in f for f in zh)
    assert any(f.startswith("English 'mp action is required'") or "English" in f for f in zh)
    assert findings(read("<p>处理中</p>"), "en", words, numbers) == ["Chinese in '处理中'"]
    data = read('<p translate="no">USER_RESPONSE order 16 用户</p><kbd>j</kbd><p>投诉 API</p>')
    assert findings(data, "zh-CN", words, numbers) == []


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_refusals_are_shown_in_the_ui_language(
    ch: ChannelsHarness, language: str, tmp_path: Path
) -> None:
    """What the crawler cannot reach by GET: a refused action's page (the core refuses in English)."""
    await crawlseed.seed(ch, tmp_path)
    words, numbers = code_vocabulary()
    mp, hsq = ch.complaints("miniprogram"), ch.complaints("huishouqian")
    console = Console(ch)  # type: ignore[arg-type]
    found: dict[str, list[str]] = {}
    try:
        await console.login(crawlseed.ADMIN)
        await console.post("/language", {"language": language, "next": "/"})
        for complaint_id, form in [
            (min(c.id for c in mp.values()), {"content": "您好"}),  # no platform action chosen
            (min(c.id for c in hsq.values()), {"content": "好" * 201}),  # too long for Huishouqian
        ]:
            await console.get(f"/complaints/{complaint_id}")
            answer = await console.post(f"/complaints/{complaint_id}/actions/reply", form)
            assert answer.status_code == 422 and 'class="field-error"' in answer.text
            problems = findings(read(answer.text), language, words, numbers)
            if problems:
                found[f"POST /complaints/{complaint_id}/actions/reply"] = problems
    finally:
        await console.aclose()
    assert not found, _report(found)
