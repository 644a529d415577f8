from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.wechatpay.app import create_app
from complaintdesk.sandbox.wechatpay.keys import (
    MerchantCredentials,
    PlatformKeys,
    generate_merchant,
    generate_platform,
)
from complaintdesk.sandbox.wechatpay.state import SimulatorState

from .wxsign import API, Caller

MCH_A, MCH_B, SP, SUB_1, SUB_2 = "1900000001", "1900000002", "1900000100", "1900000101", "1900000102"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def platform() -> PlatformKeys:
    return generate_platform()


@pytest.fixture(scope="session")
def merchant_a() -> MerchantCredentials:
    return generate_merchant(MCH_A)


@pytest.fixture(scope="session")
def merchant_b() -> MerchantCredentials:
    return generate_merchant(MCH_B)


@pytest.fixture(scope="session")
def provider() -> MerchantCredentials:
    return generate_merchant(SP)


@pytest.fixture
def clock() -> ManualClock:
    # 2026-03-10 12:00 Asia/Shanghai
    return ManualClock(datetime(2026, 3, 10, 4, 0, tzinfo=UTC))


@pytest.fixture
def state(
    platform: PlatformKeys,
    clock: ManualClock,
    merchant_a: MerchantCredentials,
    merchant_b: MerchantCredentials,
    provider: MerchantCredentials,
) -> SimulatorState:
    sim = SimulatorState(platform=platform, clock=clock, seed=7)
    sim.register_merchant(merchant_a, notify_url="https://merchant.example/cb/a")
    sim.register_merchant(merchant_b, notify_url="https://merchant.example/cb/b")
    sim.register_merchant(provider, sub_mchids=[SUB_1, SUB_2], notify_url="https://merchant.example/cb/sp")
    return sim


@pytest.fixture
async def api(state: SimulatorState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url=API) as client:
        yield client


@pytest.fixture
def as_a(api: httpx.AsyncClient, merchant_a: MerchantCredentials, clock: ManualClock) -> Caller:
    return Caller(api, merchant_a, clock)


@pytest.fixture
def as_b(api: httpx.AsyncClient, merchant_b: MerchantCredentials, clock: ManualClock) -> Caller:
    return Caller(api, merchant_b, clock)


@pytest.fixture
def as_sp(api: httpx.AsyncClient, provider: MerchantCredentials, clock: ManualClock) -> Caller:
    return Caller(api, provider, clock)
