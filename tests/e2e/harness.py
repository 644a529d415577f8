"""A complaintdesk app and a WeChat Pay simulator wired together in-process (ASGI, no sockets).

Our client talks to the simulator through ``httpx.ASGITransport``; the simulator's notifier posts
to our webhook the same way. Both sides do their own signing, verification and encryption.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from complaintdesk.app import create_app
from complaintdesk.clock import Clock, ManualClock
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.inbox.models import InboxEvent
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.jobs.process import process_inbox
from complaintdesk.ratelimit import RateLimiter
from complaintdesk.runtime import AppContext
from complaintdesk.sandbox.wechatpay import (
    Faults,
    MerchantCredentials,
    Notifier,
    PlatformKeys,
    SignMode,
    SimulatorState,
    generate_merchant,
    generate_platform,
    write_merchant_files,
)
from complaintdesk.sandbox.wechatpay import create_app as create_simulator
from complaintdesk.settings import Settings

DESK = "http://desk.test"
WECHAT = "https://api.mch.weixin.qq.com"


@functools.cache
def keys() -> tuple[PlatformKeys, MerchantCredentials, MerchantCredentials]:
    """Key material generated once per test session (RSA generation is slow)."""
    return generate_platform(), generate_merchant("1900000001"), generate_merchant("1900000100")


@dataclass
class Harness:
    """complaintdesk + simulator, with helpers to deliver and process."""

    settings: Settings
    state: SimulatorState
    ctx: AppContext
    app: FastAPI
    sim_app: FastAPI
    notifier: Notifier
    platform: PlatformKeys
    shop: MerchantCredentials
    provider: MerchantCredentials
    desk: httpx.AsyncClient
    closers: list[Callable[[], Any]] = field(default_factory=list)

    async def deliver(self, rounds: int = 1) -> int:
        """Push every queued notification (``rounds`` times, for retries that are due)."""
        total = 0
        for _ in range(rounds):
            total += await self.notifier.deliver_pending()
        return total

    async def process(self) -> int:
        """Process the inbox until nothing is due."""
        total = 0
        while handled := await process_inbox(self.ctx):
            total += handled
        return total

    def count(self, model: type[Any]) -> int:
        with self.ctx.session() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

    def complaints(self) -> dict[str, Complaint]:
        with self.ctx.session() as s:
            return {c.external_id: c for c in s.scalars(select(Complaint))}

    def timeline(self, external_id: str, source: str = "history") -> list[TimelineEntry]:
        with self.ctx.session() as s:
            return list(
                s.scalars(
                    select(TimelineEntry)
                    .join(Complaint, Complaint.id == TimelineEntry.complaint_id)
                    .where(Complaint.external_id == external_id, TimelineEntry.source == source)
                    .order_by(TimelineEntry.occurred_at, TimelineEntry.id)
                )
            )

    def inbox_keys(self) -> set[str]:
        with self.ctx.session() as s:
            return set(s.scalars(select(InboxEvent.dedupe_key)))

    async def aclose(self) -> None:
        await self.notifier.aclose()
        await self.desk.aclose()
        await self.app.webhook_router.refusals.drain()  # type: ignore[attr-defined]
        await self.app.state.writer.stop()
        await self.ctx.aclose()


async def build(
    settings: Settings,
    tmp_path: Path,
    *,
    faults: Faults | None = None,
    sign_mode: SignMode = SignMode.CERTIFICATE,
    limits: dict[str, int] | None = None,
    clock: Clock | None = None,
    limiter: RateLimiter | None = None,
    configure_public_key: bool = True,
    configure_certificate: bool = True,
) -> Harness:
    """Wire a simulator and an app; the shop is a direct merchant, the provider has two sub-merchants."""
    platform, shop, provider = keys()
    state = SimulatorState(
        platform=platform, sign_mode=sign_mode, faults=faults, limits=limits, clock=clock, seed=11
    )
    state.register_merchant(shop, notify_url=f"{DESK}/webhooks/wechatpay/shop")
    state.register_merchant(
        provider, sub_mchids=["1900000101", "1900000102"], notify_url=f"{DESK}/webhooks/wechatpay/sp"
    )
    sim_app = create_simulator(state)
    ctx = AppContext(
        settings,
        clock=clock,
        limiter=limiter,
        transport_factory=lambda _account: httpx.ASGITransport(app=sim_app),
    )
    with ctx.session() as session:
        for name, merchant, kind in (("shop", shop, "merchant"), ("sp", provider, "service_provider")):
            files = write_merchant_files(tmp_path / name, merchant, platform)
            account_service.create(
                session=session,
                name=name,
                channel="wechatpay",
                mchid=merchant.mchid,
                kind=kind,
                merchant_serial=merchant.serial_no,
                private_key_ref=f"file:{files['private_key']}",
                merchant_cert_ref=f"file:{files['certificate']}",
                apiv3_key_ref=f"file:{files['apiv3_key']}",
                platform_cert_refs=[f"file:{files['platform_certificate']}"] if configure_certificate else [],
                public_key_id=platform.public_key_id if configure_public_key else "",
                public_key_ref=f"file:{files['public_key']}" if configure_public_key else "",
                api_base_url=WECHAT,
            )
    app = create_app(ctx=ctx, run_jobs=False)
    desk = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=DESK)
    notifier = Notifier(state, client=desk, retry_delays=(0.0, 0.0, 0.0))
    return Harness(settings, state, ctx, app, sim_app, notifier, platform, shop, provider, desk)


def manual_clock_limiter(clock: ManualClock, window: float = 61.0) -> RateLimiter:
    """Our budget limiter running on virtual time: sleeping advances the shared clock."""
    from complaintdesk.ratelimit import SlidingWindowLimiter

    async def sleep(seconds: float) -> None:
        clock.advance(max(seconds, 0.001))

    return SlidingWindowLimiter(window_seconds=window, monotonic=lambda: clock.now().timestamp(), sleep=sleep)
