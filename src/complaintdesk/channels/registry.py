"""Build channel objects for stored merchant accounts (the one place that knows every channel).

The core asks this registry for an adapter (to fetch and list) or a webhook opener (to verify and
decrypt) for an account; it never imports a channel's internals itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from complaintdesk.channels.base import ChannelAdapter, OpenedNotification
from complaintdesk.channels.wechatpay import crypto as wx_crypto
from complaintdesk.channels.wechatpay.channel import WeChatPayChannel
from complaintdesk.channels.wechatpay.client import WeChatPayClient, WeChatPayCredentials
from complaintdesk.channels.wechatpay.webhook import verify_and_open
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.errors import ConfigError
from complaintdesk.ratelimit import RateLimiter
from complaintdesk.security import resolve_secret
from complaintdesk.settings import Settings

Opener = Callable[[bytes, Mapping[str, str], float], OpenedNotification]
TransportFactory = Callable[[MerchantAccount], httpx.AsyncBaseTransport | None]


@dataclass
class AccountRuntime:
    """Loaded credentials of one account plus the objects built from them."""

    account_id: int
    name: str
    channel: str
    opener: Opener
    adapter: ChannelAdapter
    credentials: WeChatPayCredentials


def load_wechatpay_credentials(account: MerchantAccount, certificate_pems: list[str]) -> WeChatPayCredentials:
    """Read an account's key material through its secret references."""
    if account.kind == "sub_merchant":
        raise ConfigError(
            f"account {account.name} is a sub-merchant: it uses its service provider's credentials"
        )
    private_key = wx_crypto.load_private_key(resolve_secret(account.private_key_ref))
    apiv3_key = resolve_secret(account.apiv3_key_ref).strip()
    if len(apiv3_key) != 32:
        raise ConfigError(f"account {account.name}: the APIv3 key must be exactly 32 bytes")
    verifier = wx_crypto.VerifierKeys()
    for ref in account.platform_cert_refs or []:
        verifier.add_certificate(resolve_secret(ref))
    for pem in certificate_pems:
        verifier.add_certificate(pem.encode("ascii"))
    if account.public_key_id:
        verifier.add_public_key(account.public_key_id, resolve_secret(account.public_key_ref))
    return WeChatPayCredentials(
        mchid=account.mchid,
        merchant_serial=account.merchant_serial,
        private_key=private_key,
        apiv3_key=apiv3_key,
        verifier=verifier,
        prefer_public_key_id=account.public_key_id or None,
    )


def build_runtime(
    account: MerchantAccount,
    *,
    settings: Settings,
    certificate_pems: list[str],
    limiter: RateLimiter,
    transport: httpx.AsyncBaseTransport | None = None,
    time: Callable[[], float],
) -> AccountRuntime:
    """Build the opener and adapter of one credentialed account."""
    if account.channel != "wechatpay":
        raise ConfigError(f"channel {account.channel!r} is not available in this version")
    credentials = load_wechatpay_credentials(account, certificate_pems)
    tolerance = settings.wechatpay.timestamp_tolerance_seconds

    def opener(body: bytes, headers: Mapping[str, str], now: float) -> OpenedNotification:
        return verify_and_open(
            body,
            headers,
            keys=credentials.verifier,
            apiv3_key=credentials.apiv3_key,
            now=now,
            tolerance=tolerance,
        )

    client = WeChatPayClient(
        credentials,
        settings=settings.wechatpay,
        transport=transport,
        base_url=account.api_base_url or settings.wechatpay.base_url,
        limiter=limiter,
        time=time,
    )
    return AccountRuntime(
        account_id=account.id,
        name=account.name,
        channel=account.channel,
        opener=opener,
        adapter=WeChatPayChannel(client),
        credentials=credentials,
    )
