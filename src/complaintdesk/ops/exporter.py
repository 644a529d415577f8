"""``/metrics``: the Prometheus text exposition, behind a bearer token or on a port of its own.

:class:`MetricsExporter` adds up every process's counters (multiprocess files, or this process's
registry when there are none) and the database gauges. The app mounts it at ``/metrics`` on the
main port when a token is set; :func:`serve_on_port` serves it from a thread on ``metrics.port``.
With neither setting, nothing is exposed.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from complaintdesk.ops.collector import DatabaseGauges
from complaintdesk.ops.metrics import multiprocess_directory
from complaintdesk.runtime import AppContext

log = logging.getLogger(__name__)

__all__ = ["CONTENT_TYPE_LATEST", "MetricsExporter", "serve_on_port"]


class _ThisProcess(Collector):
    """This process's own default registry (no multiprocess directory: tests, ``create_app`` alone)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class MetricsExporter:
    """Renders the metrics of every process on this machine plus the database gauges."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.token = ctx.settings.metrics.token_value()
        self.registry = CollectorRegistry(auto_describe=False)
        path = multiprocess_directory()
        if path is not None:
            MultiProcessCollector(self.registry, str(path))  # type: ignore[no-untyped-call]
        else:
            self.registry.register(_ThisProcess())
        self.registry.register(DatabaseGauges(ctx))

    @property
    def on_main_port(self) -> bool:
        """Whether the main port serves ``/metrics`` (a token is set and no port of its own is)."""
        return self.token is not None and self.ctx.settings.metrics.port is None

    def authorized(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries the token (always, when none is set)."""
        if self.token is None:
            return True
        scheme, _, value = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token.encode())

    def render(self) -> bytes:
        """The text exposition (runs the database queries when the cache is stale: call off the loop)."""
        return generate_latest(self.registry)


def serve_on_port(exporter: MetricsExporter, host: str, port: int) -> ThreadingHTTPServer:
    """Serve ``GET /metrics`` on ``host:port`` from a daemon thread; returns the server (to shut down)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self._answer(404, b"not found\n", "text/plain")
            elif not exporter.authorized(self.headers.get("Authorization")):
                self._answer(401, b"a bearer token is required\n", "text/plain")
            else:
                self._answer(200, exporter.render(), CONTENT_TYPE_LATEST)

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if status == 401:
                self.send_header("WWW-Authenticate", "Bearer")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """No access log (scrapes every few seconds would drown the rest)."""

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    log.info("metrics served on http://%s:%d/metrics", host, port)
    return server
