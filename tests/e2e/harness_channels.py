"""complaintdesk wired to the Mini Program and Huishouqian simulators in-process (ASGI, no sockets)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from complaintdesk.app import create_app
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.jobs.process import process_inbox
from complaintdesk.runtime import AppContext
from complaintdesk.sandbox import huishouqian as hsq
from complaintdesk.sandbox import miniprogram as mp
from complaintdesk.settings import Settings

DESK = "http://desk.test"
MERCHANT_NO = "888000000001"


@functools.cache
def hsq_keys() -> tuple[Any, Any]:
    """Huishouqian platform and merchant keys, generated once per session."""
    return hsq.generate_platform(), hsq.generate_merchant(MERCHANT_NO)


def _secret_file(directory: Path, name: str, value: str | bytes) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(value.encode("utf-8") if isinstance(value, str) else value)
    path.chmod(0o600)
    return f"file:{path}"


@dataclass
class ChannelsHarness:
    """The app, a Mini Program simulator and a Huishouqian simulator."""

    ctx: AppContext
    app: FastAPI
    desk: httpx.AsyncClient
    mp_state: Any
    mp_creds: Any
    mp_notifier: Any
    hs_state: Any
    hs_notifier: Any

    async def process(self) -> int:
        total = 0
        while handled := await process_inbox(self.ctx):
            total += handled
        return total

    def complaints(self, channel: str) -> dict[str, Complaint]:
        with self.ctx.session() as s:
            return {
                c.external_id: c for c in s.scalars(select(Complaint).where(Complaint.channel == channel))
            }

    async def aclose(self) -> None:
        await self.mp_notifier.aclose()
        await self.desk.aclose()
        await self.app.state.writer.stop()
        await self.ctx.aclose()


async def build_channels(
    settings: Settings, tmp_path: Path, *, message_format: str = "json", message_mode: str = "safe"
) -> ChannelsHarness:
    """Register one mini program and one Huishouqian merchant on both sides."""
    creds = mp.generate_app()
    mp_state = mp.MiniProgramState(seed=3)
    mp_state.register(
        creds,
        push_url=f"{DESK}/webhooks/miniprogram/mp",
        message_format=message_format,
        message_mode=message_mode,
    )
    mp_state.public_base_url = "https://api.weixin.qq.com"
    platform, merchant = hsq_keys()
    hs_state = hsq.HuishouqianState(platform, seed=3)
    hs_state.register_merchant(merchant, notify_url=f"{DESK}/webhooks/huishouqian/hsq")
    mp_app, hs_app = mp.create_app(mp_state), hsq.create_app(hs_state)

    def transport(account: Any) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=mp_app if account.channel == "miniprogram" else hs_app)

    ctx = AppContext(settings, transport_factory=transport)
    files = hsq.write_merchant_files(tmp_path / "hsq", merchant, platform)
    secrets_dir = tmp_path / "mp"
    with ctx.session() as session:
        account_service.create(
            session=session,
            name="mp",
            channel="miniprogram",
            mchid=creds.appid,
            api_base_url="https://api.weixin.qq.com",
            secret_refs={
                "app_secret": _secret_file(secrets_dir, "secret", creds.secret),
                "token": _secret_file(secrets_dir, "token", creds.token),
                "encoding_aes_key": _secret_file(secrets_dir, "aes", creds.encoding_aes_key),
            },
            options={"message_format": message_format, "message_mode": message_mode},
        )
        account_service.create(
            session=session,
            name="hsq",
            channel="huishouqian",
            mchid=MERCHANT_NO,
            api_base_url="https://api.huishouqian.com",
            secret_refs={name: f"file:{path}" for name, path in files.items()},
        )
    app = create_app(ctx=ctx, run_jobs=False)
    desk = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=DESK)
    mp_notifier = mp.MiniProgramNotifier(mp_state, client=desk, retry_delays=(0.0, 0.0))
    hs_notifier = hsq.HuishouqianNotifier(hs_state, client=desk, retry_delays=(0.0, 0.0))
    return ChannelsHarness(ctx, app, desk, mp_state, creds, mp_notifier, hs_state, hs_notifier)
