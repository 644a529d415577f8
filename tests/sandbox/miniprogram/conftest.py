from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from complaintdesk.clock import ManualClock
from complaintdesk.sandbox.miniprogram import AppCredentials, MiniProgramState, create_app, generate_app

from .miniclient import API, MiniClient


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# A valid 1x1 red PNG, a JPEG header and a GIF header: enough for the simulator's magic-byte check.
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    + _chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    + _chunk(b"IEND", b"")
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
GIF = b"GIF89a\x01\x00\x01\x00" + b"\x00" * 32


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 10, 4, 0, tzinfo=UTC))  # 12:00 in Shanghai


@pytest.fixture(scope="session")
def creds() -> AppCredentials:
    return generate_app("wx1234567890abcdef")


@pytest.fixture(scope="session")
def other_creds() -> AppCredentials:
    return generate_app("wxfedcba0987654321")


@pytest.fixture
def state(clock: ManualClock, creds: AppCredentials, other_creds: AppCredentials) -> MiniProgramState:
    sim = MiniProgramState(clock=clock, seed=11)
    sim.register(creds, push_url="http://desk.test/mp/a")
    sim.register(other_creds, push_url="http://desk.test/mp/b")
    return sim


@pytest.fixture
async def http(state: MiniProgramState) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(state)), base_url=API
    ) as client:
        yield client


@pytest.fixture
def mp(http: httpx.AsyncClient, creds: AppCredentials) -> MiniClient:
    return MiniClient(http, creds)


@pytest.fixture
def mp_other(http: httpx.AsyncClient, other_creds: AppCredentials) -> MiniClient:
    return MiniClient(http, other_creds)
