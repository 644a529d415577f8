"""Reconcile one account with its upstream: list sweeps, then a refresh of every open complaint."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from complaintdesk.channels.base import ChannelAdapter, ComplaintSnapshot
from complaintdesk.clock import Clock
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.alerts import hooks as alert_hooks
from complaintdesk.core.complaints import service as complaint_service
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.sync.models import SyncRun
from complaintdesk.core.sync.planner import plan_windows
from complaintdesk.db import unit_of_work
from complaintdesk.errors import ChannelError
from complaintdesk.security import DataCipher
from complaintdesk.settings import SyncSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
SHANGHAI = ZoneInfo("Asia/Shanghai")
Progress = Callable[[str, int], None]
#: Listed complaints whose stored state is read in one query (a WeChat Pay list page holds up to 50).
PAGE_SIZE = 50


@dataclass
class SyncReport:
    """What a sync did; ``unannounced`` lists complaints no notification told us about."""

    account: str
    windows: int = 0
    listed: int = 0
    created: int = 0
    updated: int = 0
    refreshed: int = 0
    history_fetched: int = 0
    unannounced: list[str] = field(default_factory=list)  # found by this run, named by no notification
    created_ids: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    run_id: int | None = None


class Reconciler:
    """Runs one sync of one credentialed account; DB work happens in worker threads."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        adapter: ChannelAdapter,
        account_id: int,
        cipher: DataCipher,
        clock: Clock,
        settings: SyncSettings,
        run_db: Callable[..., Awaitable[Any]],
        progress: Progress | None = None,
        can_list: bool = True,
    ) -> None:
        self._can_list = can_list
        self._sessions = sessions
        self._adapter = adapter
        self._account_id = account_id
        self._cipher = cipher
        self._clock = clock
        self._settings = settings
        self._run_db = run_db
        self._progress = progress or (lambda _stage, _n: None)

    async def _db(self, fn: Callable[[Session], T]) -> T:
        def work() -> T:
            with unit_of_work(self._sessions) as session:
                return fn(session)

        result: T = await self._run_db(work)
        return result

    async def run(self, *, lookback_days: int | None = None) -> SyncReport:
        """Sweep the list API over the look-back period, then refresh open complaints by id."""
        name = await self._db(lambda s: account_service.get(session=s, account_id=self._account_id).name)
        report = SyncReport(account=name)
        report.run_id = await self._db(self._start_run)
        try:
            seen = await self._sweep(report, lookback_days) if self._can_list else set()
            if self._settings.refresh_open:
                await self._refresh_open(report, seen)
            report.unannounced = await self._db(lambda s: self._unannounced(s, set(report.created_ids)))
            await self._db(lambda s: self._finish_run(s, report, "ok", ""))
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            await self._db(lambda s: self._finish_run(s, report, "failed", reason))
            raise
        return report

    async def _sweep(self, report: SyncReport, lookback_days: int | None) -> set[str]:
        today = self._clock.now().astimezone(SHANGHAI).date()
        windows = plan_windows(
            today=today,
            lookback_days=self._settings.lookback_days if lookback_days is None else lookback_days,
            window_days=self._settings.window_days,
            overlap_days=self._settings.overlap_days,
        )
        seen: set[str] = set()
        for begin, end in windows:
            report.windows += 1
            page: list[ComplaintSnapshot] = []
            async for snapshot in self._adapter.list_window(begin, end):
                if snapshot.external_id in seen:
                    continue
                seen.add(snapshot.external_id)
                page.append(snapshot)
                if len(page) >= PAGE_SIZE:
                    await self._store_page(report, page)
                    page = []
            if page:
                await self._store_page(report, page)
        return seen

    async def _store_page(self, report: SyncReport, page: list[ComplaintSnapshot]) -> None:
        """Store a page of listed complaints: one query finds the unchanged ones, which cost nothing more."""
        ids = [snapshot.external_id for snapshot in page]
        states = await self._db(
            lambda s: complaint_service.stored_states(
                session=s, account_id=self._account_id, channel=self._adapter.name, external_ids=ids
            )
        )
        for snapshot in page:
            report.listed += 1
            if self._needs_history(states.get(snapshot.external_id), snapshot):
                await self._store_listed(report, snapshot)
        self._progress("listed", report.listed)

    async def _store_listed(self, report: SyncReport, snapshot: ComplaintSnapshot) -> None:
        """Fetch the history of a new, changed or stale complaint, then store both."""
        try:
            snapshot.history = await self._adapter.fetch_history(snapshot.external_id)
            report.history_fetched += 1
        except ChannelError as exc:
            report.errors.append({"complaint": snapshot.external_id, "error": str(exc)})
        result = await self._db(lambda s: self._apply(s, snapshot))
        if result.created:
            report.created += 1
            report.created_ids.append(snapshot.external_id)
        elif result.changed:
            report.updated += 1

    def _needs_history(
        self, state: complaint_service.StoredState | None, snapshot: ComplaintSnapshot
    ) -> bool:
        """New, changed, or open with a stale history; otherwise the sweep leaves the complaint alone."""
        if state is None or state.history_fetched_at is None:
            return True
        if state.raw_hash != complaint_service.payload_hash(snapshot.raw):
            return True
        if snapshot.status.value in {s.value for s in complaint_service.OPEN_STATUSES}:
            max_age = timedelta(minutes=self._settings.open_history_max_age_minutes)
            return self._clock.now() - state.history_fetched_at >= max_age
        return False

    async def _refresh_open(self, report: SyncReport, seen: set[str]) -> None:
        open_ids = await self._db(
            lambda s: complaint_service.open_external_ids(
                session=s, account_id=self._account_id, channel=self._adapter.name
            )
        )
        for external_id in open_ids:
            if external_id in seen:
                continue
            try:
                snapshot = await self._adapter.fetch(external_id, with_history=True)
            except ChannelError as exc:
                report.errors.append({"complaint": external_id, "error": str(exc)})
                continue
            report.history_fetched += 1
            await self._db(lambda s, snap=snapshot: self._apply(s, snap))  # type: ignore[misc]
            report.refreshed += 1
            self._progress("refreshed", report.refreshed)

    def _apply(self, session: Session, snapshot: ComplaintSnapshot) -> complaint_service.ApplyResult:
        account = account_service.get(session=session, account_id=self._account_id)
        return complaint_service.apply_snapshot(
            session=session,
            account=account,
            snapshot=snapshot,
            cipher=self._cipher,
            now=self._clock.now(),
            discovered_by="sync",
        )

    def _unannounced(self, session: Session, created: set[str]) -> list[str]:
        """Complaints this run created that no notification has named (so far)."""
        rows = session.scalars(
            select(Complaint.external_id).where(
                Complaint.account_id == self._account_id,
                Complaint.discovered_by == "sync",
                Complaint.announced.is_(False),
            )
        )
        return sorted(r for r in rows if r in created)

    def _start_run(self, session: Session) -> int:
        run = SyncRun(account_id=self._account_id, started_at=self._clock.now())
        session.add(run)
        session.flush()
        return run.id

    def _finish_run(self, session: Session, report: SyncReport, status: str, error: str) -> None:
        run = session.get(SyncRun, report.run_id)
        if run is None:
            return
        run.status = status
        run.error = error[:2000]
        run.finished_at = self._clock.now()
        run.windows, run.listed, run.created = report.windows, report.listed, report.created
        run.updated, run.refreshed = report.updated, report.refreshed
        run.unannounced = report.unannounced
        run.errors = report.errors[:100]
        stats = getattr(self._adapter, "stats", None)
        run.calls = {str(k): int(v) for k, v in dict(stats or {}).items()}
        alert_hooks.on_sync_report(
            session=session,
            account_id=self._account_id,
            run_id=run.id,
            unannounced=report.unannounced,
            now=run.finished_at,
        )


def last_runs(*, session: Session, limit: int = 20) -> list[SyncRun]:
    """Recent sync runs, newest first."""
    return list(session.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)))


def started_at_or_none(run: SyncRun | None) -> datetime | None:
    """When a run started, if there is one."""
    return run.started_at if run else None
