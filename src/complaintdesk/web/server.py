"""``complaintdesk serve``: the application behind Granian, a Rust HTTP server speaking ASGI.

Granian parses HTTP and moves bytes on its own threads, outside the GIL, so a Python process
spends its time on our work (verify, decrypt, store) instead of on the protocol: on the 2-core
benchmark machine the CPU per acknowledged notification roughly halved against uvicorn with
httptools (``bench/ingest.py``; figures in ``docs/architecture.md``). Each worker is a process of
its own; the demo and the tests embed uvicorn in-process instead, which needs no subprocess.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import sys
from typing import Any

from complaintdesk.app import create_app

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to stop this worker when the serving process dies, even by SIGKILL.

    Without it a ``kill -9`` of ``complaintdesk serve`` would leave its workers answering
    webhooks on their own; with it the whole server stops, as a process supervisor expects.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: workers outlive a killed parent, as elsewhere
        log.debug("prctl(PR_SET_PDEATHSIG) unavailable")


def served_app() -> Any:
    """Factory Granian calls in each worker process."""
    _die_with_parent()
    return create_app()


def run(*, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve until interrupted (SIGINT/SIGTERM stop gracefully: queued inbox rows are committed)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels

    level = log_level.lower()
    Granian(
        "complaintdesk.web.server:served_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=False,
        log_level=LogLevels(level) if level in LogLevels.__members__ else LogLevels.info,
        # Granian's own messages go through our root handler (format, phone masking).
        log_dictconfig={"loggers": {"_granian": {"handlers": [], "propagate": True}}},
        log_access=False,
        respawn_failed_workers=True,
    ).serve()
