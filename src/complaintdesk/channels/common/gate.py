"""The send gate: a last check, right before a writing request leaves, that its sender may still send.

The outbox dispatcher (and the media archiver) set :data:`send_gate` around a send; every channel's
HTTP client runs it from an httpx request hook, which httpx calls after the budget wait and the
signing, immediately before the bytes go out. Reads (GET) are not gated unless ``gate_reads`` is
set. A gate that says no raises (``LeaseLost``) and the request is never sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class SendGate:
    """What to run before a request leaves, and whether reads count."""

    check: Callable[[], Awaitable[None]]
    gate_reads: bool = False


#: The gate of the send running in the current task, if any.
send_gate: ContextVar[SendGate | None] = ContextVar("send_gate", default=None)


async def run_send_gate(request: httpx.Request) -> None:
    """httpx request hook: run the current task's gate before a writing request (or any, if asked)."""
    gate = send_gate.get()
    if gate is not None and (gate.gate_reads or request.method not in ("GET", "HEAD")):
        await gate.check()
