"""Count refused webhook signatures per account, a few database writes however many arrive.

Each process adds its refusals to the shared count (``core.alerts.refusals``) in the background: at
most one write per account is in flight, and refusals arriving meanwhile are added by the next one,
so a flood of forged calls costs a handful of upserts, not one write each. WeChat Pay's deliberate
signature probes (``WECHATPAY/SIGNTEST/``) are expected refusals and are not counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from complaintdesk.core.alerts.refusals import count_refusals
from complaintdesk.errors import ComplaintDeskError, DecryptFailed, SignatureInvalid, WebhookError
from complaintdesk.runtime import AppContext

log = logging.getLogger("complaintdesk.webhook")
_PROBE = "WECHATPAY/SIGNTEST/"


def is_key_problem(exc: WebhookError, headers: Mapping[str, str]) -> bool:
    """A refusal that points at a wrong key or configuration (not a deliberate probe)."""
    if not isinstance(exc, SignatureInvalid | DecryptFailed):
        return False
    return not headers.get("wechatpay-signature", "").startswith(_PROBE)


class SignatureRefusals:
    """Background, coalesced counting of refused signatures per account."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._pending: dict[int, int] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def add(self, account_id: int) -> None:
        """Count one refusal of ``account_id`` (written soon, with any others arriving meanwhile)."""
        self._pending[account_id] = self._pending.get(account_id, 0) + 1
        if account_id in self._tasks:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): counted with the next refusal that has one
        task = loop.create_task(self._flush(account_id))
        self._tasks[account_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(account_id, None))

    async def _flush(self, account_id: int) -> None:
        while refused := self._pending.pop(account_id, 0):
            now = self.ctx.clock.now()

            def write(session: Session, refused: int = refused, now: datetime = now) -> bool:
                settings = self.ctx.settings.alerts
                return count_refusals(
                    session=session, account_id=account_id, refused=refused, now=now, settings=settings
                )

            try:
                await self.ctx.db(write)
            except (ComplaintDeskError, SQLAlchemyError) as exc:
                log.warning(
                    "refused signatures of account %s not counted: %s", account_id, type(exc).__name__
                )

    async def drain(self) -> None:
        """Wait for the counts in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
