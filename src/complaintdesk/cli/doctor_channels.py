"""``complaintdesk doctor`` for the Mini Program and Huishouqian accounts (WeChat Pay: ``cli.doctor``).

Mini Program: the secrets build a message server (Token, EncodingAESKey, mode), our clock against WeChat's
``Date`` header (pushes outside ``miniprogram.timestamp_tolerance_seconds`` are refused), an access token
fetched now (appid and AppSecret), and the URL check WeChat makes, sent to our own public URL and answered
by this server. Huishouqian: the key material loads, the platform certificate is valid and not expiring,
the clock, a signed ``COMPLAINT_QUERY`` whose signed answer verifies, and the notification URL answering
from outside as our Huishouqian endpoint.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from complaintdesk.channels.miniprogram import crypto as mp_crypto
from complaintdesk.cli.doctor_checks import (
    Check,
    callback_url,
    certificate_checks,
    fetch_callback,
    skew_check,
    upstream_date,
)
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.errors import ChannelError, ComplaintDeskError, ResponseVerificationError
from complaintdesk.runtime import AppContext
from complaintdesk.security import resolve_secret

__all__ = ["MP_ADMIN_PLACE", "hsq_notify_check", "huishouqian_checks", "miniprogram_checks", "mp_url_check"]

#: Where the message-push URL is set (the Mini Program has no API for it).
MP_ADMIN_PLACE = "mini program admin (mp.weixin.qq.com) → 开发 → 开发管理 → 开发设置 → 消息推送"
TIMEOUT = 5.0


def _runtime(ctx: AppContext, account: MerchantAccount) -> tuple[object | None, Check]:
    try:
        runtime = ctx.runtime_for(account.name)
    except ComplaintDeskError as exc:
        return None, Check(False, "credentials readable and consistent", exc.public_message)
    return runtime, Check(True, "credentials readable and consistent")


async def miniprogram_checks(ctx: AppContext, account: MerchantAccount, *, offline: bool) -> list[Check]:
    """The Mini Program account's checks (see the module docstring)."""
    runtime, loaded = _runtime(ctx, account)
    if runtime is None:
        return [loaded]
    extra = runtime.extra  # type: ignore[attr-defined]
    checks = [
        loaded,
        Check(True, f"message server: mode {extra['message_mode']}, format {extra['message_format']}"),
    ]
    if offline:
        return checks
    settings = ctx.settings.miniprogram
    base = (account.api_base_url or settings.base_url).rstrip("/")
    window = settings.timestamp_tolerance_seconds
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        theirs, why = await upstream_date(http, base + "/")
        checks.append(
            skew_check(
                base,
                theirs,
                why,
                ctx.clock.now(),
                window / 2 if window > 0 else 60,
                f"pushes signed more than {window} s from our clock are refused "
                "(miniprogram.timestamp_tolerance_seconds)",
            )
        )
        try:
            lifetime = await extra["client"].check_token()
            checks.append(
                Check(True, f"access token fetched (valid {lifetime:.0f} s): appid and AppSecret accepted")
            )
        except ChannelError as exc:
            checks.append(Check(False, "access token fetched", exc.public_message))
        checks.append(await mp_url_check(ctx, account, http))
    return checks


async def mp_url_check(ctx: AppContext, account: MerchantAccount, http: httpx.AsyncClient) -> Check:
    """WeChat's URL check (signed ``echostr`` GET) sent to our own public URL; our server echoes it."""
    url = callback_url(ctx.settings, "miniprogram", account.name)
    token = resolve_secret(account.secret_refs["token"]).decode("utf-8").strip()
    timestamp, nonce, echostr = (
        str(int(ctx.clock.now().timestamp())),
        secrets.token_hex(8),
        secrets.token_hex(12),
    )
    params = {
        "signature": mp_crypto.signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": echostr,
    }
    answer = await fetch_callback(http, "GET", url, params)
    if isinstance(answer, Check):
        return answer
    what = f"callback URL {url} answers WeChat's URL check"
    if answer.status_code == 200 and answer.text == echostr:
        return Check(True, f"{what} (set it, with the same Token, in the {MP_ADMIN_PLACE})")
    return Check(
        False,
        what,
        f"HTTP {answer.status_code} without the echostr: the public URL does not reach this server's "
        "webhook (public_base_url, reverse proxy) or the account differs",
    )


async def huishouqian_checks(ctx: AppContext, account: MerchantAccount, *, offline: bool) -> list[Check]:
    """The Huishouqian account's checks (see the module docstring)."""
    now = ctx.clock.now()
    checks: list[Check] = []
    try:
        certificate = resolve_secret(account.secret_refs.get("platform_certificate", ""))
    except ComplaintDeskError as exc:
        return [Check(False, "platform certificate readable", exc.public_message)]
    checks.extend(certificate_checks("platform certificate", certificate, now))
    runtime, loaded = _runtime(ctx, account)
    checks.append(loaded)
    if runtime is None:
        return checks
    checks.extend(_pkcs12_checks(account, now))
    if offline:
        return checks
    settings = ctx.settings.huishouqian
    base = (account.api_base_url or settings.base_url).rstrip("/")
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        theirs, why = await upstream_date(http, base + "/")
        limit = min(60, settings.timestamp_tolerance_seconds / 2 or 60)
        checks.append(skew_check(base, theirs, why, now, limit, "signed requests carry our time"))
        client = runtime.adapter.client  # type: ignore[attr-defined]
        today = now.date()
        try:
            await client.query(begin_date=today - timedelta(days=1), end_date=today, limit=1)
            checks.append(Check(True, "signed request accepted and its signed answer verified"))
        except ResponseVerificationError as exc:
            hint = "the answer is signed over the sign_key too: check sign_key, then platform_certificate"
            checks.append(Check(False, "signed request accepted", f"{exc.public_message} ({hint})"))
        except ChannelError as exc:
            checks.append(Check(False, "signed request accepted", _refused_hint(exc)))
        checks.append(await hsq_notify_check(ctx, account, http))
    return checks


def _pkcs12_checks(account: MerchantAccount, now: datetime) -> list[Check]:
    """The certificate inside the PKCS#12 file (when there is one) carries its private key and is in date."""
    refs = account.secret_refs
    password = (
        resolve_secret(refs["private_key_password"]).rstrip(b"\r\n")
        if refs.get("private_key_password")
        else None
    )
    key, cert, _ = pkcs12.load_key_and_certificates(resolve_secret(refs["private_key_p12"]), password or None)
    if cert is None or key is None:
        return []
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    same = cert.public_key().public_bytes(serialization.Encoding.DER, spki) == key.public_key().public_bytes(
        serialization.Encoding.DER, spki
    )
    if not same:
        return [Check(False, "private key matches the certificate in private_key_p12", "wrong PKCS#12 file")]
    der = cert.public_bytes(serialization.Encoding.DER)
    return [
        Check(True, "private key matches the certificate in private_key_p12"),
        *certificate_checks("merchant certificate (in private_key_p12)", der, now),
    ]


def _refused_hint(exc: ChannelError) -> str:
    """The gateway's refusal; a refused signature names the private key (the PKCS#12 file)."""
    text = exc.public_message
    if "验签" in text or "sign" in text.lower():
        text += " (the request signature was refused: private_key_p12 is not the key Huishouqian holds)"
    return text


async def hsq_notify_check(ctx: AppContext, account: MerchantAccount, http: httpx.AsyncClient) -> Check:
    """Our notification URL from outside: this server's Huishouqian endpoint answers a GET ``FAIL`` (400),
    which it does only for a known Huishouqian account (unknown: 404). Nothing is stored."""
    url = callback_url(ctx.settings, "huishouqian", account.name)
    answer = await fetch_callback(http, "GET", url)
    if isinstance(answer, Check):
        return answer
    what = f"notification URL {url} reachable"
    if answer.status_code == 400 and answer.text.strip() == "FAIL":
        return Check(
            True, f"{what}: answered as this server's Huishouqian endpoint (give this URL to Huishouqian)"
        )
    return Check(
        False,
        what,
        f"HTTP {answer.status_code}: not this server's Huishouqian endpoint for {account.name} "
        "(public_base_url, reverse proxy, account name)",
    )
