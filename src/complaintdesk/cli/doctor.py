"""``complaintdesk doctor``: settings, database, evidence storage, then every account by its channel.

WeChat Pay here (keys match, APIv3 key, clock, a signed and verified request, the callback URL from
outside); the Mini Program and Huishouqian in ``cli.doctor_channels``; shared checks in ``cli.doctor_checks``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

import httpx
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import load_pem_x509_certificate

from complaintdesk.cli.common import console, context, run
from complaintdesk.cli.doctor_channels import huishouqian_checks, miniprogram_checks
from complaintdesk.cli.doctor_checks import (
    Check,
    callback_url,
    certificate_checks,
    fetch_callback,
    skew_check,
    upstream_date,
)
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.errors import AuthFailed, ChannelError, ComplaintDeskError, UpstreamNotFound
from complaintdesk.migrate import current_revision
from complaintdesk.runtime import AppContext
from complaintdesk.security import resolve_secret

__all__ = ["Check", "account_checks", "doctor"]


def _key_checks(account: MerchantAccount, now: datetime) -> list[Check]:
    checks: list[Check] = []
    try:
        key = serialization.load_pem_private_key(resolve_secret(account.private_key_ref), password=None)
        checks.append(Check(True, "merchant private key readable"))
    except (ComplaintDeskError, ValueError, TypeError) as exc:
        return [
            Check(
                False,
                "merchant private key readable",
                str(exc) if isinstance(exc, ComplaintDeskError) else "not a PEM private key",
            )
        ]
    if account.merchant_cert_ref:
        try:
            cert_pem = resolve_secret(account.merchant_cert_ref)
            cert = load_pem_x509_certificate(cert_pem)
        except (ComplaintDeskError, ValueError) as exc:
            checks.append(Check(False, "merchant certificate readable", str(exc)))
        else:
            checks.extend(certificate_checks("merchant certificate", cert_pem, now))
            pub = serialization.PublicFormat.SubjectPublicKeyInfo
            same = cert.public_key().public_bytes(
                serialization.Encoding.PEM, pub
            ) == key.public_key().public_bytes(serialization.Encoding.PEM, pub)
            checks.append(
                Check(same, "private key matches the merchant certificate", "" if same else "wrong key file")
            )
            serial = format(cert.serial_number, "X")
            match = serial.lstrip("0") == account.merchant_serial.upper().lstrip("0")
            checks.append(
                Check(
                    match,
                    "configured serial matches the certificate",
                    "" if match else f"certificate serial is {serial}",
                )
            )
    else:
        checks.append(Check(True, "merchant certificate not configured (serial cannot be cross-checked)"))
    try:
        v3 = resolve_secret(account.apiv3_key_ref).strip()
        checks.append(
            Check(len(v3) == 32, "APIv3 key is 32 bytes", "" if len(v3) == 32 else f"it is {len(v3)} bytes")
        )
    except ComplaintDeskError as exc:
        checks.append(Check(False, "APIv3 key readable", str(exc)))
    has_verifier = bool(account.platform_cert_refs or account.public_key_id)
    checks.append(
        Check(True, "WeChat Pay public key or platform certificate configured")
        if has_verifier
        else Check(True, "no platform key configured: certificates will be downloaded from /v3/certificates")
    )
    return checks


async def _upstream_checks(ctx: AppContext, account: MerchantAccount) -> list[Check]:
    checks: list[Check] = []
    base = (account.api_base_url or ctx.settings.wechatpay.base_url).rstrip("/")
    async with httpx.AsyncClient(timeout=5.0) as http:
        theirs, why = await upstream_date(http, base + "/v3/certificates")
        if theirs is None and why.startswith("unreachable"):
            return [Check(False, f"upstream {base} reachable", why)]
        checks.append(skew_check(base, theirs, why, ctx.clock.now(), 60, "signatures expire after 300 s"))
        checks.append(await _wechatpay_callback_check(ctx, account, http))
    try:
        runtime = ctx.runtime_for(account.name)
        client_obj = getattr(runtime.adapter, "client", None)
        if client_obj is not None:
            await client_obj.download_certificates()
        checks.append(Check(True, "signed request accepted and response verified"))
    except UpstreamNotFound:
        checks.append(Check(True, "signed request accepted (public-key mode: no platform certificates)"))
    except AuthFailed as exc:
        checks.append(
            Check(False, "signed request accepted", f"{exc.code}: serial or private key does not match")
        )
    except (ChannelError, ComplaintDeskError) as exc:
        checks.append(Check(False, "signed request accepted", str(exc)))
    return checks


async def _wechatpay_callback_check(
    ctx: AppContext, account: MerchantAccount, http: httpx.AsyncClient
) -> Check:
    """Our callback URL from outside: a GET is refused by this server's WeChat Pay endpoint in its JSON."""
    url = callback_url(ctx.settings, "wechatpay", account.name)
    answer = await fetch_callback(http, "GET", url)
    if isinstance(answer, Check):
        return answer
    what = f"callback URL {url} reachable"
    try:
        ours = 400 <= answer.status_code < 500 and answer.status_code != 404 and "code" in answer.json()
    except ValueError:
        ours = False
    if ours:
        return Check(True, f"{what}: answered as this server's WeChat Pay endpoint")
    return Check(
        False, what, f"HTTP {answer.status_code}: not this server's WeChat Pay endpoint for {account.name}"
    )


Checker = Callable[[AppContext, MerchantAccount], Awaitable[list[Check]]]


async def account_checks(ctx: AppContext, account: MerchantAccount, *, offline: bool = False) -> list[Check]:
    """Every check of one account, by its channel."""
    try:
        if account.channel == "miniprogram":
            return await miniprogram_checks(ctx, account, offline=offline)
        if account.channel == "huishouqian":
            return await huishouqian_checks(ctx, account, offline=offline)
        checks = _key_checks(account, ctx.clock.now())
        if not offline:
            checks.extend(await _upstream_checks(ctx, account))
        return checks
    finally:
        await ctx.close_runtimes()


def _storage_check(ctx: AppContext) -> Check:
    """Write, read back and delete a probe in the evidence store (for S3 after a HEAD of the bucket)."""
    what = "evidence store reachable and writable"
    try:
        return Check(True, f"{what}: {ctx.media_storage.check()}")
    except ComplaintDeskError as exc:
        return Check(False, f"{what}: {ctx.media_storage.describe()}", exc.public_message)


def doctor(
    account: Annotated[str | None, typer.Option(help="only this account")] = None,
    offline: Annotated[bool, typer.Option(help="skip the upstream checks")] = False,
) -> None:
    """Check what usually breaks an integration, for every channel (exit 1 when a check fails)."""
    with context() as ctx:
        report: list[tuple[str, Check]] = []
        try:
            ctx.settings.data_key_bytes()
            report.append(("settings", Check(True, "data key for personal data configured")))
        except ComplaintDeskError as exc:
            report.append(("settings", Check(False, "data key", str(exc))))
        report.append(
            (
                "database",
                Check(current_revision(ctx.engine) is not None, f"schema at {current_revision(ctx.engine)}"),
            )
        )
        report.append(("storage", _storage_check(ctx)))
        with ctx.session() as session:
            accounts = [
                a for a in account_service.credentialed(session=session) if not account or a.name == account
            ]
            for a in accounts:
                session.expunge(a)
        for a in accounts:
            report.extend((a.name, c) for c in run(lambda a=a: account_checks(ctx, a, offline=offline)))  # type: ignore[misc]
        failed = 0
        for scope, check in report:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            failed += not check.ok
            console.print(f"{mark} {scope}: {check.what}" + (f" — {check.hint}" if check.hint else ""))
        if failed:
            raise typer.Exit(1)
