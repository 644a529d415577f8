"""``complaintdesk serve``: the application on uvicorn (uvloop + httptools), in one or more processes.

Webhook POSTs are answered by ``web.protocol.WebhookHttpProtocol`` (uvicorn's httptools protocol
with a direct path to the webhook endpoint); everything else is served through ASGI as usual. That
protocol builds on uvicorn's private internals, so it is used only with the uvicorn releases it was
tested with (:data:`TESTED_UVICORN`); with any other, webhooks take the app's plain ASGI route (the
same endpoint, slower) and a warning says so. A test fails when the installed uvicorn is outside the
range, so an upgrade is re-tested before it reaches anyone, instead of breaking ingest silently.

With ``--workers N`` uvicorn runs N worker processes under a supervisor. Each worker asks Linux
to stop it when that supervisor dies, so a ``kill -9`` of ``complaintdesk serve`` cannot leave
workers answering webhooks on their own. Where the system has ``SO_REUSEPORT`` (Linux), each worker
listens on a socket of its own on the same address and the kernel spreads new connections across them
(:class:`WorkerSocket`); one shared socket gave a worker twice the other's connections.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from complaintdesk import logs
from complaintdesk.app import create_app
from complaintdesk.settings import Settings

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
#: uvicorn's httptools protocol with the direct webhook path (an import string: workers load it).
HTTP_PROTOCOL = "complaintdesk.web.protocol:WebhookHttpProtocol"
#: uvicorn's own protocol: webhooks through the app's ASGI route.
FALLBACK_PROTOCOL = "httptools"
#: uvicorn releases (major, minor), inclusive, whose internals the direct path was tested against.
TESTED_UVICORN = ((0, 37), (0, 54))
#: How long uvicorn's supervisor waits for a worker to start or to answer a health ping.
WORKER_HEALTHCHECK_SECONDS = 60


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel send SIGTERM to this process when its parent dies, even by SIGKILL (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: workers outlive a killed parent, as elsewhere
        log.debug("prctl(PR_SET_PDEATHSIG) unavailable")
        return
    if os.getppid() != parent_pid:  # the parent died while this worker was starting
        os.kill(os.getpid(), signal.SIGTERM)


def _release(version: str) -> tuple[int, int] | None:
    parts = version.split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    return int(parts[0]), int(parts[1])


def http_protocol(version: str | None = None) -> str:
    """The direct webhook protocol when this uvicorn is one it was tested with, else uvicorn's own."""
    version = uvicorn.__version__ if version is None else version
    release = _release(version)
    low, high = TESTED_UVICORN
    if release is None or not low <= release <= high:
        log.warning(
            "uvicorn %s is not one the direct webhook path was tested with (%d.%d to %d.%d): "
            "webhooks are served through ASGI instead (correct, but slower)",
            version[:20], *low, *high,
        )  # fmt: skip
        return FALLBACK_PROTOCOL
    try:
        importlib.import_module(HTTP_PROTOCOL.split(":")[0])
    except ImportError as exc:
        log.warning("direct webhook path unavailable (%s): webhooks are served through ASGI", exc)
        return FALLBACK_PROTOCOL
    return HTTP_PROTOCOL


def served_app() -> Any:
    """Factory uvicorn calls in the serving process (or in each worker process)."""
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:  # a worker of `serve --workers N`
        _die_with_parent(parent.pid)
    settings = Settings()
    # Each worker process configures its own logging (the CLI did it only in the supervisor);
    # uvicorn's loggers propagate to the same handler (``log_config=None`` below).
    logs.configure(settings.log_level, json_lines=settings.log_json)
    app = create_app(settings)
    # uvicorn's own default and environment variable, applied below the webhook route.
    app.trust_forwarded_headers(os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1"))
    return app


def _bound(family: int, address: tuple[str, int], kind: type[socket.socket] = socket.socket) -> socket.socket:
    """A TCP socket bound to ``address`` with ``SO_REUSEPORT`` (not listening yet)."""
    sock = kind(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


class WorkerSocket(socket.socket):
    """The supervisor's socket: bound with ``SO_REUSEPORT``, never listening (it reserves the address).

    uvicorn hands the supervisor's sockets to every worker it starts (pickled, as workers are spawned).
    Pickled, this one becomes a new socket bound to the same address in the worker, which listens on it:
    each worker has a listening socket of its own, and the kernel spreads connections across them by
    their addresses and ports, instead of giving them to whichever worker accepts first.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return _bound, (int(self.family), tuple(self.getsockname()[:2]))  # in the worker: a plain socket

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return self.__reduce__()


def worker_socket(host: str, port: int) -> WorkerSocket:
    """The supervisor's :class:`WorkerSocket` for ``host:port`` (port 0: one chosen for all workers).

    ``SO_REUSEPORT`` would let a second ``serve`` of the same user (another configuration, another
    database) share the port silently, so the address is first bound without it: ``OSError`` when
    anything already holds it.
    """
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # connections in TIME_WAIT are no owner
        probe.bind(address[:2])
        address = probe.getsockname()
    sock = _bound(family, address[:2], WorkerSocket)
    assert isinstance(sock, WorkerSocket)
    return sock


def _options(*, host: str, port: int, workers: int, log_level: str) -> dict[str, Any]:
    """uvicorn's settings for ``serve`` (as ``uvicorn.run`` and ``uvicorn.Config`` take them)."""
    return {
        "app": "complaintdesk.web.server:served_app",
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "loop": "uvloop",
        "http": http_protocol(),
        "log_level": log_level.lower(),
        "log_config": None,  # no handlers of uvicorn's own: its lines are our JSON (or text) lines too
        # A worker must finish starting (imports, app, lifespan) and answer the supervisor's pings in
        # this time, or it is killed and started again: uvicorn's 5 s default was not enough on a busy
        # 2-core machine (imports alone took 5.3 s), and every worker was restarted forever.
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
        "access_log": False,
        "proxy_headers": False,  # the app applies them itself, to everything but webhooks
        "server_header": False,  # no "server: uvicorn" on any answer
    }


def run(*, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve until interrupted (SIGINT/SIGTERM stop gracefully: queued inbox rows are committed)."""
    options = _options(host=host, port=port, workers=workers, log_level=log_level)
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        try:
            sock = worker_socket(host, port)
        except OSError as exc:
            log.error("cannot listen on %s:%d: %s", host, port, exc.strerror or exc)
            sys.exit(3)  # uvicorn's STARTUP_FAILURE
        log.info("serving on port %d: %d workers, a listening socket each", sock.getsockname()[1], workers)
        with contextlib.suppress(KeyboardInterrupt):
            Multiprocess(uvicorn.Config(**options), sockets=[sock]).run()
        return
    if workers > 1:
        # One shared socket: by default the first worker to wake accepts every connection waiting
        # (in one bench/ingest.py run a worker got 117 of 64,256 notifications over 64 keep-alive
        # connections); libuv's one-accept-at-a-time mode spreads them somewhat.
        os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")
    uvicorn.run(**options)
