"""The lease a sender (or downloader) holds on its claim, checked before every request it makes.

``renew`` confirms the claim in the database (the fence is still ours) and extends the lease; it runs
right before the channel call starts. The channel's HTTP client then runs ``check`` (as the send
gate, after the budget wait, right before the bytes leave): while the lease renewed last has time
left by this process's monotonic clock, that costs nothing and never yields; once it has run out
(a long budget wait, a slow upstream, a pause), the claim is confirmed in the database again, and a
claim another worker took over raises ``LeaseLost``: the request is never sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from complaintdesk.channels.common.gate import SendGate
from complaintdesk.errors import LeaseLost
from complaintdesk.runtime import AppContext

#: Confirms the claim and extends its lease to ``now + lease``; False when the claim was taken over.
Confirm = Callable[[Session, datetime, timedelta], bool]


class Lease:
    """One claim's lease, renewed in the database and checked locally."""

    def __init__(self, ctx: AppContext, confirm: Confirm, what: str) -> None:
        self._ctx = ctx
        self._confirm = confirm
        self._what = what
        self._seconds = ctx.settings.jobs.lease_seconds
        #: Requests must leave this much before the lease ends (clock rates, the request's own start).
        self._margin = min(5.0, self._seconds / 4)
        self._deadline = 0.0

    async def renew(self) -> None:
        """Confirm the claim in the database and extend it; raise LeaseLost when it was taken over."""
        started = time.monotonic()
        lease = timedelta(seconds=self._seconds)
        held = await self._ctx.db(lambda s: self._confirm(s, self._ctx.clock.now(), lease))
        if not held:
            raise LeaseLost(f"{self._what}: another worker took it over; not sending")
        self._deadline = started + self._seconds - self._margin
        if time.monotonic() >= self._deadline:
            raise LeaseLost(f"{self._what}: the lease ran out while it was being renewed; not sending")

    async def check(self) -> None:
        """The send gate: free while the lease has time left, a renewal once it has run out."""
        if time.monotonic() >= self._deadline:
            await self.renew()

    def gate(self, *, gate_reads: bool = False) -> SendGate:
        """This lease as the send gate of the channel's HTTP client."""
        return SendGate(self.check, gate_reads=gate_reads)
