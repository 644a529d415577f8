"""Pushes the simulator's messages to each mini program's message server, as WeChat does (spec A.6).

Each attempt is rendered afresh for the app's current format and mode (new ``timestamp``, ``nonce``,
signatures and AES random prefix; same ``CreateTime`` and content). Success is HTTP 200 whose body is
``success`` or empty (surrounding whitespace ignored); anything else — another status, another body, a
timeout (``timeout``, 5 s) or a connection error — is retried after ``retry_delays``: 3 attempts in all
by default. A duplicate push (``Faults.duplicate_rate``) is sent once more right after its success.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import httpx

from complaintdesk.sandbox.common.delivery import RetryingNotifier
from complaintdesk.sandbox.miniprogram.crypto import url_signature
from complaintdesk.sandbox.miniprogram.model import Push
from complaintdesk.sandbox.miniprogram.push import wire_request
from complaintdesk.sandbox.miniprogram.state import MiniProgramState


def acknowledged(status: int | None, body: bytes) -> bool:
    """WeChat's rule: a 200 whose body is ``success`` or empty."""
    return status == 200 and body.strip() in (b"", b"success")


def _nonce() -> str:
    return str(secrets.randbelow(9 * 10**9) + 10**9)


class MiniProgramNotifier(RetryingNotifier[MiniProgramState, Push]):
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
        super().__init__(state, client, retry_delays, timeout, concurrency, poll_interval)

    def _due(self) -> list[Push]:
        return self.state.due_pushes()

    async def _attempt(self, push: Push) -> bool:
        return await self._send(push)

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
