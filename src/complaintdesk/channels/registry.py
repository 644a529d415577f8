"""Build channel runtimes for stored merchant accounts (the one place that knows every channel).

The core asks for a :class:`ChannelRuntime` (adapter for reads and actions, webhook handler) and never
imports a channel's internals. Secrets are resolved here from their ``file:``/``env:`` references.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from complaintdesk.channels.base import (
    AccountConfig,
    ActionRequest,
    ChannelRuntime,
    HistoryEntry,
    TokenStore,
)
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.errors import ConfigError
from complaintdesk.ratelimit import RateLimiter
from complaintdesk.security import resolve_secret
from complaintdesk.settings import Settings

#: channel name → module providing ``build_runtime``
CHANNEL_MODULES = {
    "wechatpay": "complaintdesk.channels.wechatpay.runtime",
    "miniprogram": "complaintdesk.channels.miniprogram",
    "huishouqian": "complaintdesk.channels.huishouqian",
}


class RuntimeBuilder(Protocol):
    def __call__(
        self,
        account: AccountConfig,
        *,
        settings: Settings,
        limiter: RateLimiter,
        transport: httpx.AsyncBaseTransport | None,
        time: Callable[[], float],
        token_store: TokenStore | None = None,
    ) -> ChannelRuntime: ...


def account_config(account: MerchantAccount, certificate_pems: list[str]) -> AccountConfig:
    """The channel-neutral view of a stored account, with its secrets read."""
    if account.kind == "sub_merchant":
        raise ConfigError(f"account {account.name} is a sub-merchant: it uses its parent's credentials")
    secrets: dict[str, bytes] = {
        name: resolve_secret(ref) for name, ref in (account.secret_refs or {}).items()
    }
    options: dict[str, Any] = dict(account.options or {})
    if account.channel == "wechatpay":
        secrets["private_key"] = resolve_secret(account.private_key_ref)
        secrets["apiv3_key"] = resolve_secret(account.apiv3_key_ref)
        if account.public_key_ref:
            secrets["public_key"] = resolve_secret(account.public_key_ref)
        pems = [resolve_secret(ref).decode("ascii") for ref in account.platform_cert_refs or []]
        options.update(
            merchant_serial=account.merchant_serial,
            public_key_id=account.public_key_id,
            platform_certificates=[*pems, *certificate_pems],
        )
    return AccountConfig(
        id=account.id,
        name=account.name,
        channel=account.channel,
        kind=account.kind,
        merchant_id=account.mchid,
        api_base_url=account.api_base_url,
        options=options,
        secrets=secrets,
    )


#: channel name → module whose pure ``applied_in_history(request, history)`` recognises our actions
ACTION_MODULES = {
    "wechatpay": "complaintdesk.channels.wechatpay.actions",
    "miniprogram": "complaintdesk.channels.miniprogram.actions",
    "huishouqian": "complaintdesk.channels.huishouqian.actions",
}
HistoryMatcher = Callable[[ActionRequest, list[HistoryEntry]], bool]


def history_matcher(channel: str) -> HistoryMatcher | None:
    """The channel's pure check "does this history show that action applied?" (None: unknown channel)."""
    module_name = ACTION_MODULES.get(channel)
    if module_name is None:
        return None
    matcher: HistoryMatcher = importlib.import_module(module_name).applied_in_history
    return matcher


def builder_for(channel: str) -> RuntimeBuilder:
    """The ``build_runtime`` function of a channel."""
    module_name = CHANNEL_MODULES.get(channel)
    if module_name is None:
        raise ConfigError(f"unknown channel {channel!r}")
    builder: RuntimeBuilder = importlib.import_module(module_name).build_runtime
    return builder


def build_runtime(
    account: MerchantAccount,
    *,
    settings: Settings,
    certificate_pems: list[str],
    limiter: RateLimiter,
    transport: httpx.AsyncBaseTransport | None = None,
    time: Callable[[], float],
    token_store: TokenStore | None = None,
) -> ChannelRuntime:
    """Build the runtime of one credentialed account."""
    config = account_config(account, certificate_pems)
    return builder_for(account.channel)(
        config, settings=settings, limiter=limiter, transport=transport, time=time, token_store=token_store
    )
