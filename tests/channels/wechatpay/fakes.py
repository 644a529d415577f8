"""Small test doubles for client tests: signed replies, a recording limiter, a fake sleep."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx

from complaintdesk.channels.wechatpay.client import WeChatPayClient, WeChatPayCredentials
from complaintdesk.channels.wechatpay.crypto import VerifierKeys
from complaintdesk.settings import WeChatPaySettings

from .keys import APIV3_KEY, certificate_pem, rsa_key, serial_hex, signed_headers

NOW = 1_709_259_630
MCHID = "1900000001"
MERCHANT_SERIAL = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
PLATFORM_SERIAL_INT = 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1
PLATFORM_SERIAL = serial_hex(PLATFORM_SERIAL_INT)


def signed(
    doc: Any, *, status: int = 200, ts: int = NOW, key: str = "platform", serial: str = PLATFORM_SERIAL
) -> httpx.Response:
    """A JSON response signed the way WeChat Pay signs it."""
    body = json.dumps(doc, ensure_ascii=False).encode()
    headers = signed_headers(rsa_key(key), serial, body, timestamp=ts)
    return httpx.Response(status, content=body, headers=headers | {"Content-Type": "application/json"})


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


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    settings: WeChatPaySettings | None = None,
    sleep: FakeSleep | None = None,
    limiter: RecordingLimiter | None = None,
    base_url: str | None = None,
    prefer_public_key_id: str | None = None,
    verifier: VerifierKeys | None = None,
    now: float = NOW,
) -> WeChatPayClient:
    """A client wired to ``handler`` through ``httpx.MockTransport``."""
    if verifier is None:
        verifier = VerifierKeys()
        verifier.add_certificate(certificate_pem("platform", PLATFORM_SERIAL_INT))
    credentials = WeChatPayCredentials(
        mchid=MCHID,
        merchant_serial=MERCHANT_SERIAL,
        private_key=rsa_key("merchant"),
        apiv3_key=APIV3_KEY,
        verifier=verifier,
        prefer_public_key_id=prefer_public_key_id,
    )
    return WeChatPayClient(
        credentials,
        settings=settings or WeChatPaySettings(),
        transport=httpx.MockTransport(handler),
        base_url=base_url,
        limiter=limiter or RecordingLimiter(),
        time=lambda: now,
        sleep=sleep or FakeSleep(),
        rng=random.Random(1),
    )


def signed_empty(*, status: int = 204, ts: int = NOW, key: str = "platform") -> httpx.Response:
    """An empty (204) response signed over ``ts\\nnonce\\n\\n`` the way WeChat Pay signs it."""
    headers = signed_headers(rsa_key(key), PLATFORM_SERIAL, b"", timestamp=ts)
    return httpx.Response(status, content=b"", headers=headers)


class Recorder:
    """A MockTransport handler answering from a list and keeping every request (body read)."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, httpx.Response) else answer()
