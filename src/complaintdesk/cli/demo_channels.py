"""The Mini Program and Huishouqian parts of ``complaintdesk demo``: simulators, accounts, live traffic."""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session

from complaintdesk.core.accounts import service as account_service
from complaintdesk.sandbox import huishouqian as hsq
from complaintdesk.sandbox import miniprogram as mp

MERCHANT_NO = "888000000001"


@dataclass
class DemoChannels:
    """Simulators of the second and third channel and what the demo registered with them."""

    mp_state: Any
    mp_appid: str
    hs_state: Any

    def apps(self) -> list[FastAPI]:
        """The two simulator apps (Mini Program first)."""
        return [mp.create_app(self.mp_state), hsq.create_app(self.hs_state)]


def _secret(directory: Path, name: str, value: str) -> str:
    path = directory / name
    path.write_text(value, encoding="utf-8")
    path.chmod(0o600)
    return f"file:{path.resolve()}"


def setup(session: Session, directory: Path, *, desk: str, mp_url: str, hs_url: str) -> DemoChannels:
    """Generate credentials, register them with the simulators and store the matching accounts."""
    creds = mp.generate_app()
    mp_state = mp.MiniProgramState(seed=int.from_bytes(secrets.token_bytes(2), "big"))
    mp_state.register(creds, push_url=f"{desk}/webhooks/miniprogram/demo-mp", message_format="json")
    mp_state.public_base_url = mp_url
    mp_dir = directory / "demo-mp"
    mp_dir.mkdir(parents=True, exist_ok=True)
    account_service.create(
        session=session,
        name="demo-mp",
        display_name="演示小程序",
        channel="miniprogram",
        mchid=creds.appid,
        api_base_url=mp_url,
        secret_refs={
            "app_secret": _secret(mp_dir, "app_secret", creds.secret),
            "token": _secret(mp_dir, "token", creds.token),
            "encoding_aes_key": _secret(mp_dir, "encoding_aes_key", creds.encoding_aes_key),
        },
        options={"message_format": "json", "message_mode": "safe"},
    )
    platform, merchant = hsq.generate_platform(), hsq.generate_merchant(MERCHANT_NO)
    hs_state = hsq.HuishouqianState(platform)
    hs_state.register_merchant(merchant, notify_url=f"{desk}/webhooks/huishouqian/demo-hsq")
    files = hsq.write_merchant_files(directory / "demo-hsq", merchant, platform)
    account_service.create(
        session=session,
        name="demo-hsq",
        display_name="演示慧收钱商户",
        channel="huishouqian",
        mchid=MERCHANT_NO,
        api_base_url=hs_url,
        secret_refs={name: f"file:{path.resolve()}" for name, path in files.items()},
    )
    return DemoChannels(mp_state, creds.appid, hs_state)


def seed(channels: DemoChannels, count: int, rng: random.Random) -> None:
    """Seed complaints in both simulators (their pushes and notifications follow)."""
    mp.seed(channels.mp_state, channels.mp_appid, count=max(count // 2, 1), days=5, rng=rng)
    hsq.seed(channels.hs_state, MERCHANT_NO, count=max(count // 2, 1), days=10, rng=rng)


async def run(channels: DemoChannels, stop: asyncio.Event, rng: random.Random) -> None:
    """Deliver pushes and notifications and keep live traffic flowing until ``stop``."""
    mp_notifier = mp.MiniProgramNotifier(channels.mp_state, retry_delays=(1.0, 2.0))
    hs_notifier = hsq.HuishouqianNotifier(channels.hs_state, retry_delays=(1.0, 2.0, 5.0))
    tasks = [asyncio.create_task(mp_notifier.run(stop)), asyncio.create_task(hs_notifier.run(stop))]
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=rng.uniform(6, 12))
        if stop.is_set():
            break
        with contextlib.suppress(Exception):  # a scenario that does not fit the current state is skipped
            if rng.random() < 0.5:
                mp.live_event(channels.mp_state, rng)
            else:
                hsq.live_event(channels.hs_state, rng)
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
