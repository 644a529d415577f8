from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.huishouqian.app import create_app
from complaintdesk.sandbox.huishouqian.keys import (
    MerchantCredentials,
    PlatformKeys,
    generate_merchant,
    generate_platform,
)
from complaintdesk.sandbox.huishouqian.state import HuishouqianState

from .hsqsign import BASE, Gateway

MCH_A, MCH_B, AGENT, SUB_1, SUB_2, MCH_C = (
    "814000473149",
    "814000473150",
    "814000000900",
    "814000000901",
    "814000000902",
    "814000473777",
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def platform() -> PlatformKeys:
    return generate_platform()


@pytest.fixture(scope="session")
def creds() -> dict[str, MerchantCredentials]:
    made = {no: generate_merchant(no) for no in (MCH_A, MCH_B, AGENT, SUB_1, SUB_2)}
    made[MCH_C] = generate_merchant(MCH_C, sign_type="CFCA")
    return made


@pytest.fixture
def clock() -> ManualClock:
    # 2026-03-10 12:00 Asia/Shanghai
    return ManualClock(datetime(2026, 3, 10, 4, 0, tzinfo=UTC))


@pytest.fixture
def state(
    platform: PlatformKeys, clock: ManualClock, creds: dict[str, MerchantCredentials]
) -> HuishouqianState:
    sim = HuishouqianState(platform, clock=clock, seed=7)
    sim.register_merchant(creds[MCH_A], notify_url="https://merchant.example/cb/a")
    sim.register_merchant(creds[MCH_B], notify_url="https://merchant.example/cb/b")
    sim.register_merchant(creds[AGENT], notify_url="https://merchant.example/cb/agent")
    sim.register_merchant(creds[SUB_1], agent_of=AGENT, notify_url="https://merchant.example/cb/sub1")
    sim.register_merchant(creds[SUB_2], agent_of=AGENT)
    sim.register_merchant(creds[MCH_C], notify_url="https://merchant.example/cb/c")
    return sim


@pytest.fixture
async def api(state: HuishouqianState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
def gw(
    api: httpx.AsyncClient, creds: dict[str, MerchantCredentials], platform: PlatformKeys
) -> dict[str, Gateway]:
    return {no: Gateway(api, credentials, platform) for no, credentials in creds.items()}
