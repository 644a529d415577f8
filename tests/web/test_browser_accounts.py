"""Issue #15 item 1 in Chromium: an admin adds one account of each channel, tests connection and webhook.

The console and the three simulators are real uvicorn servers on loopback; key files are generated here,
uploaded through the form's file inputs (or pasted), "Test connection" calls the simulators over HTTP and
"Test webhook" calls the desk's own public address (the Mini Program URL check signed with its token).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, select, text
from tests.conftest import PG_ADMIN_URL, _postgres_available
from tests.e2e.harness_channels import MERCHANT_NO, hsq_keys
from tests.web.live import ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, Server

from complaintdesk.app import create_app
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.users import passwords
from complaintdesk.core.users import service as user_service
from complaintdesk.db import make_engine
from complaintdesk.migrate import upgrade
from complaintdesk.runtime import AppContext
from complaintdesk.sandbox import huishouqian as hsq
from complaintdesk.sandbox import miniprogram as mp
from complaintdesk.sandbox.wechatpay import (
    SimulatorState,
    generate_merchant,
    generate_platform,
    write_merchant_files,
)
from complaintdesk.sandbox.wechatpay import create_app as create_wechatpay
from complaintdesk.settings import Settings
from complaintdesk.web.server import HTTP_PROTOCOL

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian Chromium is not installed at /usr/bin/chromium (`make unit` installs it as root)",
    ),
]
_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"
MCHID = "1900000888"


@dataclass
class Desk:
    """The console with no merchant account yet, and the three upstreams it will be given."""

    ctx: AppContext
    servers: list[Server]
    files: Path
    wx: Any
    wx_platform: Any
    mp_creds: Any

    @property
    def url(self) -> str:
        return self.servers[0].url


def _start(tmp: Path, database_url: str | None) -> Desk:
    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    settings = Settings(
        database_url=database_url or f"sqlite:///{tmp / 'desk.db'}",
        data_dir=tmp / "data",
        data_key=secrets.token_urlsafe(40),
        job_poll_seconds=0.05,
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    ctx = AppContext(settings)
    with ctx.session() as s:
        user_service.create(session=s, username="admin", password=ADMIN_PASSWORD, role="admin",
                            now=ctx.clock.now(), all_accounts=True)  # fmt: skip
    platform, merchant = generate_platform(), generate_merchant(MCHID)
    wx_state = SimulatorState(platform=platform, seed=4)
    wx_state.register_merchant(merchant, notify_url="http://127.0.0.1:9/unused")
    write_merchant_files(tmp / "files" / "wx", merchant, platform)
    creds = mp.generate_app()
    mp_state = mp.MiniProgramState(seed=4)
    mp_state.register(creds, push_url="http://127.0.0.1:9/unused", message_format="json")
    hs_platform, hs_merchant = hsq_keys()
    hs_state = hsq.HuishouqianState(hs_platform, seed=4)
    hs_state.register_merchant(hs_merchant, notify_url="http://127.0.0.1:9/unused")
    hsq.write_merchant_files(tmp / "files" / "hsq", hs_merchant, hs_platform)
    desk = Server(create_app(ctx=ctx, run_jobs=False), http=HTTP_PROTOCOL)
    settings.public_base_url = desk.url  # "test webhook" calls the desk through its public address
    servers = [
        desk.start(),
        Server(create_wechatpay(wx_state)).start(),
        Server(mp.create_app(mp_state)).start(),
        Server(hsq.create_app(hs_state)).start(),
    ]
    return Desk(ctx, servers, tmp / "files", merchant, platform, creds)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    url = None
    if request.param == "postgresql":
        url = _postgres_available()
        if url is None:
            pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL.split('@')[-1]}")
    running = _start(tmp_path_factory.mktemp("accounts"), url)
    yield running
    for server in running.servers:
        server.stop()
    running.ctx.engine.dispose()
    if url is not None:  # leave the shared test database empty for the next module
        engine = create_engine(url)
        with engine.begin() as conn:
            names = ", ".join(f'"{t}"' for t in conn.execute(text(_TABLES)).scalars())
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


def _add(page: Any, desk: Desk, channel: str, name: str, mchid: str, base: str, fill: dict[str, str],
         files: dict[str, Path]) -> None:  # fmt: skip
    page.goto(f"{desk.url}/admin/accounts")
    page.click(f'[data-testid="add-{channel}"]')
    page.fill('input[name="name"]', name)
    page.fill('input[name="mchid"]', mchid)
    for field, value in fill.items():
        page.fill(f'[name="{field}"]', value)
    for field, path in files.items():
        page.set_input_files(f'input[name="{field}__file"]', str(path))
    page.click("details summary")
    page.fill('input[name="api_base_url"]', base)
    page.click('[data-testid="save-account"]')
    page.wait_for_selector('[data-testid="flash"]')
    page.click('[data-testid="test-connection"]')
    probe = page.wait_for_selector('[data-testid="probe"]')
    assert probe.get_attribute("data-ok") == "yes", probe.inner_text()
    assert probe.inner_text().startswith("连接成功")
    page.click('[data-testid="test-webhook"]')
    hook = page.wait_for_selector('[data-testid="hook"]')
    assert hook.get_attribute("data-ok") == "yes", hook.inner_text()
    assert hook.inner_text().startswith("回调可用" if channel == "miniprogram" else "回调可达")


def test_an_admin_adds_one_account_of_each_channel_and_tests_connection_and_webhook(
    desk: Desk, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{desk.url}/login")
        page.fill('input[name="username"]', "admin")
        page.fill('input[name="password"]', ADMIN_PASSWORD)
        page.click('button[type="submit"]')
        page.wait_for_selector('[data-testid="inbox"]')
        wx, hs = desk.files / "wx", desk.files / "hsq"
        _add(page, desk, "wechatpay", "shop", MCHID, desk.servers[1].url,
             {"merchant_serial": desk.wx.serial_no, "apiv3_key__value": desk.wx.apiv3_key},
             {"private_key": wx / "apiclient_key.pem"})  # fmt: skip
        creds = desk.mp_creds
        _add(page, desk, "miniprogram", "mini", creds.appid, desk.servers[2].url,
             {"token__value": creds.token, "encoding_aes_key__value": creds.encoding_aes_key,
              "app_secret__value": creds.secret}, {})  # fmt: skip
        password = (hs / f"{MERCHANT_NO}_pri_password.txt").read_text().strip()
        _add(page, desk, "huishouqian", "hsq", MERCHANT_NO, desk.servers[3].url,
             {"sign_key__value": (hs / f"{MERCHANT_NO}_sign_key.txt").read_text().strip(),
              "private_key_password__value": password},
             {"private_key_p12": hs / f"{MERCHANT_NO}_pri.pfx",
              "platform_certificate": hs / f"MANDAO_{MERCHANT_NO}_pub.cer"})  # fmt: skip
        page.goto(f"{desk.url}/admin/accounts")
        for name in ("shop", "mini", "hsq"):
            assert page.is_visible(f'[data-testid="account-{name}"]')
    finally:
        context.close()
    with desk.ctx.session() as s:
        stored = {a.name: a for a in s.scalars(select(MerchantAccount))}
        assert set(stored) == {"shop", "mini", "hsq"}
        assert stored["hsq"].secret_refs["private_key_p12"].startswith(f"file:{desk.ctx.settings.data_dir}")
