"""Scheduled jobs: reconcile every account, refresh platform certificates."""

from __future__ import annotations

import logging
from typing import Any

from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.sync.service import Progress, Reconciler, SyncReport
from complaintdesk.errors import ComplaintDeskError, UpstreamNotFound
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


def load_stored_certificates(ctx: AppContext, name: str) -> int:
    """Trust the platform certificates another process downloaded and stored; returns how many were new here.

    A certificate refresh runs in one process of the cluster; every other process picks its result up
    from the database the first time it meets the new serial, before asking WeChat Pay itself.
    """
    runtime = ctx.runtime_for(name)
    credentials = runtime.extra.get("credentials") if runtime.channel == "wechatpay" else None
    if credentials is None:
        return 0
    with ctx.session() as session:
        pems = [
            c.certificate_pem
            for c in account_service.platform_certificates(session=session, account_id=runtime.account_id)
        ]
    known = len(credentials.verifier)
    for pem in pems:
        credentials.verifier.add_certificate(pem.encode("ascii"))
    return len(credentials.verifier) - known


async def refresh_all_certificates(ctx: AppContext) -> None:
    """Periodic job: download platform certificates of every account (once per cluster) and store them."""
    for name in ctx.account_names():
        try:
            added = await refresh_certificates(ctx, name)
        except UpstreamNotFound:
            continue  # public-key-only merchant: no platform certificates exist
        except ComplaintDeskError as exc:
            log.warning("certificate refresh for %s failed: %s", name, exc)
            continue
        if added:  # the live verifier already trusts them; storing them lets every process use them
            log.info("stored %d new platform certificates for %s", added, name)


#: How often the report roll-up catches up (a changed past day is read live meanwhile).
REPORTS_EVERY = 300.0


async def refresh_reports(ctx: AppContext) -> int:
    """Roll up the days changed since their roll-up and the days ended since (see ``core.reports.rollup``)."""
    from complaintdesk.core.reports import rollup

    now = ctx.clock.now()
    return await ctx.db(lambda s: len(rollup.refresh(s, now=now)))


async def prune_live(ctx: AppContext) -> int:
    """Forget live-console events and presences past their time (see ``core.live.feed``)."""
    from complaintdesk.core.live import feed

    now = ctx.clock.now()
    return await ctx.db(lambda s: feed.prune(s, now=now))
