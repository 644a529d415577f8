"""Pushes the simulator's messages to each mini program's message server, as WeChat does (spec A.6).

Each attempt is rendered afresh for the app's current format and mode (new ``timestamp``, ``nonce``,
signatures and AES random prefix; same ``CreateTime`` and content). Success is HTTP 200 whose body is
``success`` or empty (surrounding whitespace ignored); anything else — another status, another body, a
timeout (``timeout``, 5 s) or a connection error — is retried after ``retry_delays``: 3 attempts in all
by default. A duplicate push (``Faults.duplicate_rate``) is sent once more right after its success.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Sequence
from types import TracebackType

import httpx

from complaintdesk.sandbox.miniprogram.crypto import url_signature
from complaintdesk.sandbox.miniprogram.model import Push
from complaintdesk.sandbox.miniprogram.push import wire_request
from complaintdesk.sandbox.miniprogram.state import MiniProgramState


def acknowledged(status: int | None, body: bytes) -> bool:
    """WeChat's rule: a 200 whose body is ``success`` or empty."""
    return status == 200 and body.strip() in (b"", b"success")


def _nonce() -> str:
    return str(secrets.randbelow(9 * 10**9) + 10**9)


class MiniProgramNotifier:
    """Delivers due pushes with WeChat's retry rule; ``run(stop)`` keeps delivering until stopped."""

    def __init__(
        self,
        state: MiniProgramState,
        client: httpx.AsyncClient | None = None,
        *,
        retry_delays: Sequence[float] = (5.0, 5.0),
        timeout: float = 5.0,
        concurrency: int = 32,
        poll_interval: float = 0.05,
    ) -> None:
        self.state = state
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self.poll_interval = poll_interval
        self._client = client
        self._owns_client = client is None
        self._semaphore = asyncio.Semaphore(concurrency)

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client (created on first use when none was given)."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client if this notifier created it."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> MiniProgramNotifier:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def deliver_pending(self) -> int:
        """Send every due push once (a duplicate twice); returns the number of HTTP attempts made."""
        due = self.state.due_pushes()
        counts = await asyncio.gather(*(self._deliver(p) for p in due))
        self.state.settle()
        return sum(counts)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set."""
        try:
            while not stop.is_set():
                await self.deliver_pending()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval)
        finally:
            await self.aclose()

    async def verify_url(self, appid: str, url: str | None = None) -> bool:
        """The GET check WeChat makes when a URL is configured: True when ``echostr`` comes back verbatim."""
        app = self.state.app(appid)
        target = url or app.push_url
        if target is None:
            return False
        timestamp, nonce = str(int(self.state.now().timestamp())), _nonce()
        echostr = str(secrets.randbits(62))
        params = {
            "signature": url_signature(app.credentials.token, timestamp, nonce),
            "echostr": echostr,
            "timestamp": timestamp,
            "nonce": nonce,
        }
        try:
            response = await self.client.get(target, params=params, timeout=self.timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.content == echostr.encode()

    async def _deliver(self, push: Push) -> int:
        async with self._semaphore:
            ok = await self._send(push)
            attempts = 1
            if ok:
                push.delivered = True
                if push.duplicate:
                    await self._send(push)
                    attempts += 1
                return attempts
            push.retries += 1
            if push.retries > len(self.retry_delays):
                push.gave_up = True
            else:
                push.next_due = self.state.tick() + self.retry_delays[push.retries - 1]
            return attempts

    async def _send(self, push: Push) -> bool:
        app = self.state.apps.get(push.appid)
        push.attempts += 1
        if app is None or app.push_url is None:
            push.answers.append(None)
            push.replies.append(b"")
            return False
        timestamp = str(int(self.state.now().timestamp()))
        wire = wire_request(app, push, timestamp=timestamp, nonce=_nonce())
        try:
            response = await self.client.post(
                wire.url(app.push_url),
                content=wire.body,
                headers={"Content-Type": wire.content_type},
                timeout=self.timeout,
            )
        except httpx.HTTPError:
            push.answers.append(None)
            push.replies.append(b"")
            return False
        push.answers.append(response.status_code)
        push.replies.append(response.content)
        return acknowledged(response.status_code, response.content)
