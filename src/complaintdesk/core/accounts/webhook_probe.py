""" "Test webhook" for one merchant account: a call to its own public URL, checked end to end.

Mini Program: the message server's URL check exactly as WeChat sends it (``GET`` with ``signature``
over the account's Token, a fresh ``timestamp``/``nonce`` and a random ``echostr``), passed when the
desk behind the public URL echoes it. WeChat Pay and Huishouqian sign notifications with the platform's
private key, which only the upstream holds: the check sends an unsigned call and passes when the public
URL reaches this account's webhook and refuses it (a 404 or 500 there, or no answer, fails).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import httpx

from complaintdesk.channels.miniprogram import crypto
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.errors import ConfigError
from complaintdesk.security import resolve_secret
from complaintdesk.settings import Settings

__all__ = ["WEBHOOK_CODES", "WebhookProbe", "check_webhook", "public_url"]

#: ok_url_check / ok_refused_unsigned; failures: no_token, unreachable, unknown_account, misconfigured,
#: url_check_refused, unexpected.
WEBHOOK_CODES = (
    "ok_url_check", "ok_refused_unsigned", "no_token", "unreachable", "unknown_account", "misconfigured",
    "url_check_refused", "unexpected",
)  # fmt: skip
_HEADERS = {"User-Agent": "complaintdesk-webhook-test"}


@dataclass(frozen=True)
class WebhookProbe:
    """``code`` is one of :data:`WEBHOOK_CODES`; ``status`` is the HTTP status received (0: none)."""

    ok: bool
    code: str
    status: int = 0


def public_url(settings: Settings, account: MerchantAccount) -> str:
    """The notification URL to give the upstream."""
    return f"{settings.public_base_url.rstrip('/')}/webhooks/{account.channel}/{account.name}"


async def check_webhook(
    account: MerchantAccount, *, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> WebhookProbe:
    """Call the account's public URL the way its upstream would and judge the answer."""
    url = public_url(settings, account)
    try:
        async with httpx.AsyncClient(timeout=10.0, transport=transport, headers=_HEADERS) as client:
            if account.channel == "miniprogram":
                return await _url_check(client, url, account)
            answer = await client.post(url, content=b"{}", headers={"Content-Type": "application/json"})
    except httpx.HTTPError:
        return WebhookProbe(False, "unreachable")
    if answer.status_code == 404:
        return WebhookProbe(False, "unknown_account", 404)
    if answer.status_code >= 500:
        return WebhookProbe(False, "misconfigured", answer.status_code)
    if 400 <= answer.status_code < 500:
        return WebhookProbe(True, "ok_refused_unsigned", answer.status_code)
    return WebhookProbe(False, "unexpected", answer.status_code)


async def _url_check(client: httpx.AsyncClient, url: str, account: MerchantAccount) -> WebhookProbe:
    ref = (account.secret_refs or {}).get("token", "")
    try:
        token = resolve_secret(ref).decode("utf-8").strip() if ref else ""
    except (ConfigError, UnicodeDecodeError):
        token = ""
    if not token:
        return WebhookProbe(False, "no_token")
    timestamp, nonce, echostr = str(int(time.time())), secrets.token_hex(8), secrets.token_hex(16)
    params = {
        "signature": crypto.signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": echostr,
    }
    answer = await client.get(url, params=params)
    if answer.status_code == 200 and answer.text == echostr:
        return WebhookProbe(True, "ok_url_check", 200)
    if answer.status_code == 404:
        return WebhookProbe(False, "unknown_account", 404)
    if answer.status_code >= 500:
        return WebhookProbe(False, "misconfigured", answer.status_code)
    return WebhookProbe(False, "url_check_refused", answer.status_code)
