"""Test doubles for client tests: a small token-checking WeChat fake, a recording limiter, clock, sleep."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx

from complaintdesk.channels.base import TokenStore
from complaintdesk.channels.miniprogram.client import MiniProgramClient
from complaintdesk.settings import MiniProgramSettings

from .samples import detail
from .wxref import APPID

SECRET = "app-secret-value-0123456789"
NOW = 1714036504.0
Answer = httpx.Response | Exception | dict[str, Any] | Callable[[httpx.Request], httpx.Response]


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingLimiter:
    """Lets everything through and remembers each acquisition."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def acquire(self, key: str, per_minute: int) -> None:
        self.calls.append((key, per_minute))


class FakeSleep:
    """Records requested delays without waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class FakeWeChat:
    """Issues stable tokens, checks ``access_token`` on every API call, then answers from a script per path.

    ``script[path]`` is a list of answers used in order (a dict becomes a JSON 200); when it runs out the
    answer is the sample detail (detail path) or ``{"errcode": 0, "errmsg": "ok"}``.
    """

    def __init__(self, *, secret: str = SECRET, expires_in: int = 7200) -> None:
        self.secret = secret
        self.expires_in = expires_in
        self.issued = 0
        self.current: str | None = None
        self.valid: set[str] = set()
        self.requests: list[httpx.Request] = []
        self.token_requests: list[dict[str, Any]] = []
        self.script: dict[str, list[Answer]] = {}
        self.token_script: list[Answer] = []

    def rotate(self) -> None:
        """Another party forced a refresh: the current token stops working."""
        self.valid.clear()
        self.current = None

    def _issue(self) -> str:
        self.issued += 1
        self.current = f"ACCESS_TOKEN_{self.issued}"
        self.valid.add(self.current)
        return self.current

    @staticmethod
    def _respond(answer: Answer, request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        if isinstance(answer, dict):
            return httpx.Response(200, json=answer)
        return answer(request)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if request.url.path == "/cgi-bin/stable_token":
            body = json.loads(request.content)
            self.token_requests.append(body)
            if self.token_script:
                return self._respond(self.token_script.pop(0), request)
            if body.get("appid") != APPID or body.get("secret") != self.secret:
                return httpx.Response(
                    200, json={"errcode": 40125, "errmsg": "invalid appsecret rid: abcdef12-1"}
                )
            token = self._issue() if body.get("force_refresh") or self.current is None else self.current
            return httpx.Response(200, json={"access_token": token, "expires_in": self.expires_in})
        if request.url.params.get("access_token") not in self.valid:
            return httpx.Response(
                200,
                json={
                    "errcode": 40001,
                    "errmsg": "invalid credential, access_token is invalid rid: 66a1b2c3-0",
                },
            )
        answers = self.script.get(request.url.path)
        if answers:
            return self._respond(answers.pop(0), request)
        if request.url.path == "/wxaapi/minishop/complaintOrderDetail":
            return httpx.Response(200, json=detail())
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    def api_requests(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]


def make_client(
    app: Callable[[httpx.Request], httpx.Response],
    *,
    settings: MiniProgramSettings | None = None,
    clock: Clock | None = None,
    sleep: FakeSleep | None = None,
    limiter: RecordingLimiter | None = None,
    token_store: TokenStore | None = None,
    secret: str = SECRET,
    base_url: str | None = None,
) -> MiniProgramClient:
    """A client wired to ``app`` through ``httpx.MockTransport``."""
    return MiniProgramClient(
        appid=APPID,
        app_secret=secret,
        settings=settings or MiniProgramSettings(),
        transport=httpx.MockTransport(app),
        base_url=base_url,
        limiter=limiter or RecordingLimiter(),
        token_store=token_store,
        time=clock or Clock(),
        sleep=sleep or FakeSleep(),
        rng=random.Random(1),
    )
