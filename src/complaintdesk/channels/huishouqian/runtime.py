"""Build one Huishouqian account's runtime (adapter + webhook handler) from its stored configuration."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from complaintdesk.channels.base import AccountConfig, ChannelRuntime, TokenStore
from complaintdesk.channels.huishouqian.channel import HuishouqianChannel
from complaintdesk.channels.huishouqian.client import HuishouqianClient
from complaintdesk.channels.huishouqian.envelope import (
    HuishouqianCredentials,
    load_pkcs12_private_key,
    load_platform_certificate,
    normalise_sign_key,
)
from complaintdesk.channels.huishouqian.options import HuishouqianOptions
from complaintdesk.channels.huishouqian.webhook import HuishouqianWebhook
from complaintdesk.errors import ConfigError
from complaintdesk.ratelimit import RateLimiter
from complaintdesk.settings import Settings

__all__ = ["ACCOUNT_KINDS", "build_runtime", "load_credentials"]

CHANNEL = "huishouqian"
ACCOUNT_KINDS = ("merchant", "service_provider")


def load_credentials(account: AccountConfig, options: HuishouqianOptions) -> HuishouqianCredentials:
    """Read an account's key material from its resolved secrets (fail fast, never echo a value)."""
    if not account.merchant_id:
        raise ConfigError(f"account {account.name}: merchant_id (Huishouqian merchantNo) is empty")
    password = account.secrets.get("private_key_password")
    p12 = account.secrets.get("private_key_p12")  # optional: without it, webhooks only (no sync, no replies)
    private_key = (
        load_pkcs12_private_key(p12, password.rstrip(b"\r\n") if password else None) if p12 else None
    )
    platform_key = load_platform_certificate(account.secret("platform_certificate"))
    sign_key = ""
    if options.sign_type == "RSA2":
        sign_key = normalise_sign_key(account.secret("sign_key"))
    limit = (private_key.key_size + 7) // 8 - 11 if private_key is not None else options.cfca_chunk_size
    if options.sign_type == "CFCA" and options.cfca_chunk_size > limit:
        raise ConfigError(f"account {account.name}: cfca_chunk_size must be at most {limit} for this key")
    return HuishouqianCredentials(
        merchant_no=account.merchant_id,
        private_key=private_key,
        platform_key=platform_key,
        sign_key=sign_key,
        sign_type=options.sign_type,
        cfca_chunk_size=options.cfca_chunk_size,
    )


def build_runtime(
    account: AccountConfig,
    *,
    settings: Settings,
    limiter: RateLimiter,
    transport: httpx.AsyncBaseTransport | None,
    time: Callable[[], float],
    token_store: TokenStore | None = None,
) -> ChannelRuntime:
    """Build the adapter (reads and actions) and the webhook handler of one Huishouqian account."""
    if account.kind not in ACCOUNT_KINDS:
        raise ConfigError(f"account {account.name}: kind must be one of {', '.join(ACCOUNT_KINDS)}")
    options = HuishouqianOptions.from_mapping(account.options, account=account.name)
    credentials = load_credentials(account, options)
    hs = settings.huishouqian
    agent = account.kind == "service_provider"
    client = HuishouqianClient(
        credentials,
        settings=hs,
        transport=transport,
        base_url=account.api_base_url or hs.base_url,
        limiter=limiter,
        time=time,
        date_format=options.date_format,
    )
    webhook = HuishouqianWebhook(
        credentials, agent=agent, reply_text=options.notify_reply, dedupe_seconds=hs.notify_dedupe_seconds
    )
    return ChannelRuntime(
        account_id=account.id,
        name=account.name,
        channel=CHANNEL,
        adapter=HuishouqianChannel(client, agent=agent, act_type=options.act_type),
        webhook=webhook,
        can_list=True,
    )
