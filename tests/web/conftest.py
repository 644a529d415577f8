"""Console fixtures: the in-process app + WeChat Pay simulator, users of each role, a signed-in client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from tests.e2e.harness import DESK, Harness, build

from complaintdesk.clock import ManualClock
from complaintdesk.core.users import passwords
from complaintdesk.core.users import service as user_service
from complaintdesk.settings import Settings

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture(autouse=True)
def cheap_hashing() -> Iterator[None]:
    """Argon2 with tiny parameters: the tests check behaviour, not hashing cost."""
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    passwords.use_hasher(previous)


@pytest.fixture
def clock() -> ManualClock:
    """A clock the test moves by hand, starting now (the simulator signs with real time)."""
    return ManualClock(datetime.now(UTC))


@pytest.fixture
async def wx(settings: Settings, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Harness]:
    harness = await build(settings, tmp_path)
    harness.ctx.clock = clock
    yield harness
    await harness.aclose()


async def processed_complaint(wx: Harness) -> int:
    """A new complaint of the shop, notified, delivered and processed: its id in the desk."""
    external = wx.state.create_complaint(wx.shop.mchid)
    await wx.deliver()
    await wx.process()
    return wx.complaints()[external].id


def add_user(wx: Harness, username: str, role: str, accounts: list[str] | None = None) -> int:
    """Create a console user (all accounts unless ``accounts`` names some)."""
    with wx.ctx.session() as s:
        ids = user_service.account_ids_for(session=s, names=accounts or [])
        user = user_service.create(
            session=s,
            username=username,
            password=PASSWORD,
            role=role,
            now=wx.ctx.clock.now(),
            account_ids=ids,
            all_accounts=not accounts,
        )
        return user.id


def csrf_of(html: str) -> str:
    """The CSRF token a page carries."""
    found = _CSRF.search(html)
    assert found, "page has no CSRF token"
    return found.group(1)


class Console:
    """A browser-like client: keeps cookies, knows the current CSRF token."""

    def __init__(self, wx: Harness) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=wx.app), base_url=DESK)
        self.csrf = ""

    async def get(self, path: str, **kwargs: object) -> httpx.Response:
        response = await self.http.get(path, **kwargs)  # type: ignore[arg-type]
        if "csrf-token" in response.text:
            self.csrf = csrf_of(response.text)
        return response

    async def post(
        self, path: str, data: dict[str, object] | None = None, **kwargs: object
    ) -> httpx.Response:
        body = {"csrf_token": self.csrf, **(data or {})}
        return await self.http.post(path, data=body, **kwargs)  # type: ignore[arg-type]

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/login")
        response = await self.post("/login", {"username": username, "password": password})
        if response.status_code == 303:
            await self.get("/")
        return response

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def console(wx: Harness) -> AsyncIterator[Console]:
    client = Console(wx)
    yield client
    await client.aclose()
