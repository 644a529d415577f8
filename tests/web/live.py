"""A real complaintdesk server and WeChat Pay simulator on loopback (uvicorn in threads), for the browser.

Used by ``test_browser.py`` and by ``bench/screenshots.py``. The app runs its job runner in-process, so
actions requested in the console are sent to the simulator over HTTP like in production.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from argon2 import PasswordHasher
from sqlalchemy import select
from tests.e2e.harness import keys
from tests.e2e.test_crash import free_port

from complaintdesk.app import create_app
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.sla import service as sla_service
from complaintdesk.core.templates.models import ReplyTemplate
from complaintdesk.core.users import passwords
from complaintdesk.core.users import service as user_service
from complaintdesk.db import make_engine
from complaintdesk.migrate import upgrade
from complaintdesk.runtime import AppContext
from complaintdesk.sandbox.wechatpay import Notifier, SimulatorState, seed, write_merchant_files
from complaintdesk.sandbox.wechatpay import create_app as create_simulator
from complaintdesk.settings import Settings
from complaintdesk.web.server import HTTP_PROTOCOL

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ADMIN_PASSWORD = "admin password 1"
AGENT_PASSWORD = "agent password 1"


class Server:
    """One ASGI app served by uvicorn in a daemon thread."""

    def __init__(self, app: Any, *, http: str = "auto") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", http=http
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Live:
    """The running pair and what was seeded."""

    desk: Server
    simulator: Server
    state: SimulatorState
    ctx: AppContext
    plain: str = ""  # upstream id of a non-refund complaint
    refund: str = ""  # upstream id of a refund complaint
    sub: str = ""  # upstream id of a sub-merchant's complaint
    extra: dict[str, Any] = field(default_factory=dict)

    def complaint(self, external_id: str) -> Complaint:
        """The stored complaint."""
        with self.ctx.session() as s:
            found = s.query(Complaint).filter(Complaint.external_id == external_id).one()
            s.expunge(found)
            return found

    def stop(self) -> None:
        self.desk.stop()
        self.simulator.stop()


def start(tmp_path: Path, *, extra_complaints: int = 0) -> Live:
    """Start both servers, create accounts and users, seed complaints and wait until they are stored."""
    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    platform, shop, provider = keys()
    state = SimulatorState(platform=platform, seed=5)
    simulator = Server(create_simulator(state)).start()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'desk.db'}",
        data_dir=tmp_path,
        data_key=secrets.token_urlsafe(40),
        job_poll_seconds=0.05,
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    ctx = AppContext(settings)
    desk = Server(create_app(ctx=ctx, run_jobs=True), http=HTTP_PROTOCOL)
    state.register_merchant(shop, notify_url=f"{desk.url}/webhooks/wechatpay/shop")
    state.register_merchant(
        provider, sub_mchids=["1900000101"], notify_url=f"{desk.url}/webhooks/wechatpay/sp"
    )
    now = ctx.clock.now()
    with ctx.session() as s:
        for name, merchant, kind, label in (
            ("shop", shop, "merchant", "示例小店"),
            ("sp", provider, "service_provider", "示例服务商"),
        ):
            files = write_merchant_files(tmp_path / name, merchant, platform)
            account_service.create(
                session=s, name=name, display_name=label, channel="wechatpay", mchid=merchant.mchid,
                kind=kind,
                merchant_serial=merchant.serial_no, private_key_ref=f"file:{files['private_key']}",
                merchant_cert_ref=f"file:{files['certificate']}", apiv3_key_ref=f"file:{files['apiv3_key']}",
                platform_cert_refs=[f"file:{files['platform_certificate']}"], api_base_url=simulator.url,
            )  # fmt: skip
        user_service.create(session=s, username="admin", password=ADMIN_PASSWORD, role="admin", now=now,
                            all_accounts=True, display_name="管理员")  # fmt: skip
        sp_ids = user_service.account_ids_for(session=s, names=["sp"])
        user_service.create(session=s, username="sp-agent", password=AGENT_PASSWORD, role="agent", now=now,
                            account_ids=sp_ids, display_name="服务商客服")  # fmt: skip
        body = "您好，订单{{ order_no }}已加急发货，请留意物流。"
        s.add(
            ReplyTemplate(name="发货致歉", body=body, all_accounts=True, account_ids=[], created_by="admin")
        )
    desk.start()
    live = Live(desk=desk, simulator=simulator, state=state, ctx=ctx)
    live.plain = state.create_complaint(
        shop.mchid, problem_type="OTHERS", detail="买的耳机一直没有发货，客服也不回复。"
    )
    live.refund = state.create_complaint(
        shop.mchid, detail="收到的杯子是碎的，要求退款。", amount_fen=5900, images=1
    )
    live.sub = state.create_complaint("1900000101", problem_type="OTHERS", detail="服务商子商户的投诉")
    if extra_complaints:
        seed(state, shop.mchid, count=extra_complaints, days=5)
    asyncio.run(_deliver(state))
    expected = 3 + extra_complaints
    deadline = time.monotonic() + 30
    while _stored(ctx) < expected:
        if time.monotonic() > deadline:
            live.stop()
            raise RuntimeError(f"only {_stored(ctx)} of {expected} complaints were stored")
        time.sleep(0.1)
    with ctx.session() as s:  # deadlines now (the scheduled job would do it within a minute)
        ids = list(s.scalars(select(Complaint.id)))
        sla_service.evaluate_ids(session=s, complaint_ids=ids, now=ctx.clock.now(), settings=settings.sla)
    return live


async def _deliver(state: SimulatorState) -> None:
    notifier = Notifier(state, retry_delays=(0.2, 0.5, 1.0))
    try:
        for _ in range(5):
            await notifier.deliver_pending()
    finally:
        await notifier.aclose()


def _stored(ctx: AppContext) -> int:
    with ctx.session() as s:
        return s.query(Complaint).count()
