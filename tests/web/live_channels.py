"""A real complaintdesk server with the Mini Program and Huishouqian simulators on loopback, for the browser.

Each simulator is its own uvicorn server; the console reaches them over HTTP (``api_base_url``) and they
push to the console's webhooks over HTTP (their notifiers). Used by ``test_browser_channels.py`` and by
``bench/screenshots.py``. One complaint is filed in each channel and stored before :func:`start` returns.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from tests.e2e.harness_channels import MERCHANT_NO, hsq_keys
from tests.web.live import ADMIN_PASSWORD, Server

from complaintdesk.app import create_app
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.users import passwords
from complaintdesk.core.users import service as user_service
from complaintdesk.db import make_engine
from complaintdesk.migrate import upgrade
from complaintdesk.runtime import AppContext
from complaintdesk.sandbox import huishouqian as hsq
from complaintdesk.sandbox import miniprogram as mp
from complaintdesk.settings import Settings
from complaintdesk.web.server import HTTP_PROTOCOL

__all__ = ["ADMIN_PASSWORD", "LiveChannels", "start"]


@dataclass
class LiveChannels:
    """The console, both simulators, their states and the two seeded complaints."""

    desk: Server
    mp_server: Server
    hs_server: Server
    ctx: AppContext
    mp_state: Any
    mp_appid: str
    hs_state: Any
    mp_complaint: str = ""  # complaintOrderId of the seeded Mini Program complaint
    hs_complaint: str = ""  # complaintId of the seeded Huishouqian complaint

    def complaint(self, external_id: str) -> Complaint:
        """The stored complaint."""
        with self.ctx.session() as s:
            found = s.query(Complaint).filter(Complaint.external_id == external_id).one()
            s.expunge(found)
            return found

    def deliver(self) -> None:
        """Let both simulators deliver their pushes (their own event loop, off Playwright's thread)."""
        worker = threading.Thread(target=lambda: asyncio.run(_deliver(self.mp_state, self.hs_state)))
        worker.start()
        worker.join(timeout=60)

    def wait_stored(self, external_id: str, condition: Any = None, seconds: float = 30) -> Complaint:
        """Wait until the complaint is stored (and ``condition(complaint)`` holds); return it."""
        deadline = time.monotonic() + seconds
        while True:
            with self.ctx.session() as s:
                found = s.query(Complaint).filter(Complaint.external_id == external_id).one_or_none()
                if found is not None and (condition is None or condition(found)):
                    s.expunge(found)
                    return found
            if time.monotonic() > deadline:
                raise RuntimeError(f"complaint {external_id} was not stored as expected in {seconds} s")
            time.sleep(0.1)

    def stop(self) -> None:
        self.desk.stop()
        self.mp_server.stop()
        self.hs_server.stop()


def _secret(directory: Path, name: str, value: str) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(value, encoding="utf-8")
    path.chmod(0o600)
    return f"file:{path}"


def start(tmp_path: Path, *, database_url: str | None = None) -> LiveChannels:
    """Start the console and both simulators, register the accounts and store one complaint of each."""
    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        database_url=database_url or f"sqlite:///{tmp_path / 'desk.db'}",
        data_dir=tmp_path,
        data_key=secrets.token_urlsafe(40),
        job_poll_seconds=0.05,
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    ctx = AppContext(settings)
    desk = Server(create_app(ctx=ctx, run_jobs=True), http=HTTP_PROTOCOL)

    creds = mp.generate_app()
    mp_state = mp.MiniProgramState(seed=7)
    mp_state.register(creds, push_url=f"{desk.url}/webhooks/miniprogram/mp", message_format="json")
    mp_server = Server(mp.create_app(mp_state)).start()
    mp_state.public_base_url = mp_server.url  # image links point at the simulator's CDN
    platform, merchant = hsq_keys()
    hs_state = hsq.HuishouqianState(platform, seed=7)
    hs_state.register_merchant(merchant, notify_url=f"{desk.url}/webhooks/huishouqian/hsq")
    hs_server = Server(hsq.create_app(hs_state)).start()

    now = ctx.clock.now()
    with ctx.session() as s:
        account_service.create(
            session=s, name="mp", display_name="示例小程序", channel="miniprogram", mchid=creds.appid,
            api_base_url=mp_server.url,
            secret_refs={
                "app_secret": _secret(tmp_path / "mp", "secret", creds.secret),
                "token": _secret(tmp_path / "mp", "token", creds.token),
                "encoding_aes_key": _secret(tmp_path / "mp", "aes", creds.encoding_aes_key),
            },
            options={"message_format": "json", "message_mode": "safe"},
        )  # fmt: skip
        files = hsq.write_merchant_files(tmp_path / "hsq", merchant, platform)
        account_service.create(
            session=s, name="hsq", display_name="示例慧收钱商户", channel="huishouqian", mchid=MERCHANT_NO,
            api_base_url=hs_server.url, secret_refs={name: f"file:{path}" for name, path in files.items()},
        )  # fmt: skip
        user_service.create(session=s, username="admin", password=ADMIN_PASSWORD, role="admin", now=now,
                            all_accounts=True, display_name="管理员")  # fmt: skip
    desk.start()
    live = LiveChannels(desk, mp_server, hs_server, ctx, mp_state, creds.appid, hs_state)
    try:
        live.mp_complaint = mp_state.create_complaint(
            creds.appid, content="收到的T恤有破洞，联系客服没有回复，要求退款。", images=1
        )
        live.hs_complaint = hs_state.create_complaint(
            MERCHANT_NO, detail="充电宝没有归还成功却一直在扣费，请核实。", amount_fen=1200, images=1
        )
        live.deliver()
        live.wait_stored(live.mp_complaint)
        live.wait_stored(live.hs_complaint)
    except BaseException:
        live.stop()
        raise
    return live


async def _deliver(mp_state: Any, hs_state: Any) -> None:
    async with mp.MiniProgramNotifier(mp_state, retry_delays=(0.2, 0.5, 1.0)) as mp_notifier:
        hs_notifier = hsq.HuishouqianNotifier(hs_state, retry_delays=(0.2, 0.5, 1.0))
        try:
            for _ in range(5):
                await mp_notifier.deliver_pending()
                await hs_notifier.deliver_pending()
        finally:
            await hs_notifier.aclose()
