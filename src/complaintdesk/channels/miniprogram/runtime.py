"""Build the Mini Program runtime of one account: client, adapter and message-server handler.

The account's ``merchant_id`` is the appid. Secrets by name: ``app_secret`` (access token), ``token``
(message-server Token) and ``encoding_aes_key`` (43 characters; not needed in plaintext mode). Options:
``message_format`` ("xml" | "json", default "xml") and ``message_mode`` ("plaintext" | "compatible" |
"safe", default "safe").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import httpx

from complaintdesk.channels.base import AccountConfig, ChannelRuntime, TokenStore
from complaintdesk.channels.miniprogram.channel import MiniProgramChannel
from complaintdesk.channels.miniprogram.client import MiniProgramClient
from complaintdesk.channels.miniprogram.token import InMemoryTokenStore
from complaintdesk.channels.miniprogram.webhook import (
    MESSAGE_FORMATS,
    MESSAGE_MODES,
    MessageMode,
    MiniProgramWebhookHandler,
)
from complaintdesk.errors import ConfigError
from complaintdesk.ratelimit import RateLimiter
from complaintdesk.settings import Settings

__all__ = ["build_runtime", "build_webhook_handler"]

CHANNEL = "miniprogram"


def _text_secret(account: AccountConfig, name: str) -> str:
    try:
        return account.secret(name).decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"account {account.name}: secret {name!r} is not UTF-8 text") from None


def _option(account: AccountConfig, name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = str(account.options.get(name) or default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"account {account.name}: option {name} must be one of {', '.join(allowed)}")
    return value


def build_webhook_handler(account: AccountConfig, *, settings: Settings) -> MiniProgramWebhookHandler:
    """The message-server handler of one mini program account."""
    mode = cast(MessageMode, _option(account, "message_mode", "safe", MESSAGE_MODES))
    message_format = _option(account, "message_format", "xml", MESSAGE_FORMATS)
    aes = _text_secret(account, "encoding_aes_key") if mode != "plaintext" else None
    if aes is None and account.secrets.get("encoding_aes_key"):
        aes = _text_secret(account, "encoding_aes_key")
    try:
        return MiniProgramWebhookHandler(
            appid=account.merchant_id,
            token=_text_secret(account, "token"),
            encoding_aes_key=aes,
            mode=mode,
            message_format=message_format,
            tolerance=settings.miniprogram.timestamp_tolerance_seconds,
        )
    except ValueError as exc:
        raise ConfigError(f"account {account.name}: {exc}") from None


def build_runtime(
    account: AccountConfig,
    *,
    settings: Settings,
    limiter: RateLimiter,
    transport: httpx.AsyncBaseTransport | None,
    time: Callable[[], float],
    token_store: TokenStore | None = None,
) -> ChannelRuntime:
    """The runtime of one mini program account (``can_list`` is False: there is no list API)."""
    if not account.merchant_id:
        raise ConfigError(f"account {account.name}: the mini program appid (merchant_id) is empty")
    webhook = build_webhook_handler(account, settings=settings)
    mp_settings = settings.miniprogram
    client = MiniProgramClient(
        appid=account.merchant_id,
        app_secret=_text_secret(account, "app_secret") if account.secrets.get("app_secret") else "",
        settings=mp_settings,
        transport=transport,
        base_url=account.api_base_url or mp_settings.base_url,
        limiter=limiter,
        token_store=token_store or InMemoryTokenStore(),
        time=time,
    )
    channel = MiniProgramChannel(client, time=time)
    return ChannelRuntime(
        account_id=account.id,
        name=account.name,
        channel=CHANNEL,
        adapter=channel,
        webhook=webhook,
        can_list=False,
        extra={
            "client": client,
            "media_id_ttl_seconds": mp_settings.media_id_ttl_seconds,
            "message_mode": webhook.mode,
            "message_format": webhook.message_format,
        },
    )
