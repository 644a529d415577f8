"""``complaintdesk doctor``: check settings, keys, clock, evidence storage and upstream reachability."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Annotated

import httpx
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import load_pem_x509_certificate

from complaintdesk.cli.common import console, context, run
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.errors import AuthFailed, ChannelError, ComplaintDeskError, UpstreamNotFound
from complaintdesk.migrate import current_revision
from complaintdesk.runtime import AppContext
from complaintdesk.security import resolve_secret


@dataclass
class Check:
    """One line of the doctor's report."""

    ok: bool
    what: str
    hint: str = ""


def _key_checks(account: MerchantAccount) -> list[Check]:
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
            cert = load_pem_x509_certificate(resolve_secret(account.merchant_cert_ref))
        except (ComplaintDeskError, ValueError) as exc:
            checks.append(Check(False, "merchant certificate readable", str(exc)))
        else:
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
    base = account.api_base_url or ctx.settings.wechatpay.base_url
    try:
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(
                base + "/v3/certificates",
                headers={"Accept": "application/json", "User-Agent": "complaintdesk-doctor"},
            )
        date = response.headers.get("date")
        if date:
            skew = abs(parsedate_to_datetime(date).timestamp() - time.time())
            checks.append(
                Check(
                    skew < 60,
                    f"clock skew {skew:.0f} s",
                    "" if skew < 60 else "fix NTP: signatures expire after 300 s",
                )
            )
        checks.append(Check(True, f"upstream {base} reachable"))
    except httpx.HTTPError as exc:
        return [Check(False, f"upstream {base} reachable", type(exc).__name__)]
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
    finally:
        await ctx.close_runtimes()
    return checks


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
    """Check what usually breaks a WeChat Pay integration."""
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
            report.extend((a.name, c) for c in _key_checks(a))
            if not offline:
                report.extend((a.name, c) for c in run(lambda a=a: _upstream_checks(ctx, a)))  # type: ignore[misc]
        failed = 0
        for scope, check in report:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            failed += not check.ok
            console.print(f"{mark} {scope}: {check.what}" + (f" — {check.hint}" if check.hint else ""))
        if failed:
            raise typer.Exit(1)
