"""Scheduled jobs: reconcile every account, refresh platform certificates."""

from __future__ import annotations

import logging
from typing import Any

from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.sync.service import Progress, Reconciler, SyncReport
from complaintdesk.errors import ComplaintDeskError
from complaintdesk.runtime import AppContext

log = logging.getLogger(__name__)


async def sync_account(
    ctx: AppContext, name: str, *, lookback_days: int | None = None, progress: Progress | None = None
) -> SyncReport:
    """Reconcile one credentialed account with its upstream."""
    runtime = ctx.runtime_for(name)
    await ensure_verifier(ctx, name)
    reconciler = Reconciler(
        sessions=ctx.sessions,
        adapter=runtime.adapter,
        account_id=runtime.account_id,
        cipher=ctx.cipher,
        clock=ctx.clock,
        settings=ctx.settings.sync,
        run_db=ctx.run_db,
        progress=progress,
        can_list=runtime.can_list,
    )
    report = await reconciler.run(lookback_days=lookback_days)
    if report.unannounced:
        log.warning(
            "sync %s found %d complaints no notification announced (check the callback URL)",
            name,
            len(report.unannounced),
        )
    return report


async def sync_all(ctx: AppContext) -> list[SyncReport]:
    """Reconcile every enabled account; one account's failure does not stop the others."""
    reports = []
    for name in ctx.account_names():
        try:
            reports.append(await sync_account(ctx, name))
        except ComplaintDeskError as exc:
            log.error("sync of %s failed: %s", name, exc)
    return reports


async def ensure_verifier(ctx: AppContext, name: str) -> None:
    """Download platform certificates first when an account has no way yet to verify WeChat Pay."""
    runtime = ctx.runtime_for(name)
    credentials = runtime.extra.get("credentials")
    if runtime.channel == "wechatpay" and credentials is not None and len(credentials.verifier) == 0:
        added = await refresh_certificates(ctx, name)
        log.info("bootstrapped %d platform certificates for %s", added, name)
    elif runtime.bootstrap is not None:
        await runtime.bootstrap()


async def refresh_certificates(ctx: AppContext, name: str) -> int:
    """Download platform certificates for an account in certificate mode; returns how many were new."""
    runtime = ctx.runtime_for(name)
    client: Any = runtime.extra.get("client") if runtime.channel == "wechatpay" else None
    if client is None:
        return 0
    certificates = await client.download_certificates()
    rows = [
        {
            "serial_no": c.serial_no,
            "certificate_pem": c.pem.decode("ascii"),
            "effective_time": c.effective_time,
            "expire_time": c.expire_time,
        }
        for c in certificates
    ]
    return await ctx.db(
        lambda s: account_service.save_platform_certificates(
            session=s, account_id=runtime.account_id, certificates=rows
        )
    )
