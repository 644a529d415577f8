"""Build the WeChat Pay runtime of one account: credentials, client, adapter and webhook handler."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx
import orjson

from complaintdesk.channels.base import (
    AccountConfig,
    ChannelRuntime,
    TokenStore,
    WebhookOutcome,
    WebhookReply,
)
from complaintdesk.channels.wechatpay import crypto
from complaintdesk.channels.wechatpay.channel import WeChatPayChannel
from complaintdesk.channels.wechatpay.client import WeChatPayClient, WeChatPayCredentials
from complaintdesk.channels.wechatpay.webhook import verify_and_open
from complaintdesk.errors import ConfigError, MalformedNotification, WebhookError
from complaintdesk.ratelimit import RateLimiter
from complaintdesk.settings import Settings


def load_credentials(account: AccountConfig) -> WeChatPayCredentials:
    """Key material from the account's resolved secrets and options."""
    private_key = crypto.load_private_key(account.secret("private_key"))
    apiv3_key = account.secret("apiv3_key").strip()
    if len(apiv3_key) != 32:
        raise ConfigError(f"account {account.name}: the APIv3 key must be exactly 32 bytes")
    verifier = crypto.VerifierKeys()
    for pem in account.options.get("platform_certificates", []):
        verifier.add_certificate(pem.encode("ascii") if isinstance(pem, str) else pem)
    public_key_id = str(account.options.get("public_key_id") or "")
    if public_key_id:
        verifier.add_public_key(public_key_id, account.secret("public_key"))
    return WeChatPayCredentials(
        mchid=account.merchant_id,
        merchant_serial=str(account.options.get("merchant_serial", "")),
        private_key=private_key,
        apiv3_key=apiv3_key,
        verifier=verifier,
        prefer_public_key_id=public_key_id or None,
    )


class WeChatPayWebhookHandler:
    """``WebhookHandler`` for ``POST /webhooks/wechatpay/{account}``: answers 204, or FAIL JSON on refusal."""

    def __init__(self, credentials: WeChatPayCredentials, *, tolerance: int) -> None:
        self._credentials = credentials
        self._tolerance = tolerance

    def open(
        self, method: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes, now: float
    ) -> WebhookOutcome:
        """Verify, decrypt and parse one notification."""
        if method != "POST":
            raise MalformedNotification("WeChat Pay notifications are POST requests")
        opened = verify_and_open(
            body,
            headers,
            keys=self._credentials.verifier,
            apiv3_key=self._credentials.apiv3_key,
            now=now,
            tolerance=self._tolerance,
        )
        # The envelope holds ids, types and the ciphertext; nothing personal is in clear.
        return WebhookOutcome((opened,), WebhookReply(status=204), raw_body_plaintext=False)

    def refusal(self, error: Exception) -> WebhookReply:
        """``{"code":"FAIL","message":…}`` with the error's status, so WeChat Pay retries."""
        status = error.http_status if isinstance(error, WebhookError) else 500
        message = error.public_message if isinstance(error, WebhookError) else "temporarily unable to accept"
        body = orjson.dumps({"code": "FAIL", "message": message})
        return WebhookReply(status=status, body=body, content_type="application/json")


def build_runtime(
    account: AccountConfig,
    *,
    settings: Settings,
    limiter: RateLimiter,
    transport: httpx.AsyncBaseTransport | None,
    time: Callable[[], float],
    token_store: TokenStore | None = None,
) -> ChannelRuntime:
    """The runtime of one WeChat Pay merchant or service-provider account."""
    credentials = load_credentials(account)
    client = WeChatPayClient(
        credentials,
        settings=settings.wechatpay,
        transport=transport,
        base_url=account.api_base_url or settings.wechatpay.base_url,
        limiter=limiter,
        time=time,
    )
    return ChannelRuntime(
        account_id=account.id,
        name=account.name,
        channel="wechatpay",
        adapter=WeChatPayChannel(client),
        webhook=WeChatPayWebhookHandler(
            credentials, tolerance=settings.wechatpay.timestamp_tolerance_seconds
        ),
        can_list=True,
        extra={"credentials": credentials, "client": client},
    )
