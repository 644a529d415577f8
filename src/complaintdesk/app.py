"""``create_app(settings)``: the FastAPI application with webhooks, API, console and background jobs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any, cast

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from complaintdesk import __version__
from complaintdesk.core.inbox.writer import InboxWriter
from complaintdesk.core.media.service import MAX_UPLOAD_BYTES
from complaintdesk.errors import ActionRefused, ChannelAPIError, ComplaintDeskError, ConversationMoved
from complaintdesk.jobs.runner import JobRunner
from complaintdesk.ops import metrics
from complaintdesk.ops.context import RequestContextMiddleware
from complaintdesk.ops.exporter import CONTENT_TYPE_LATEST, MetricsExporter
from complaintdesk.runtime import AppContext
from complaintdesk.settings import Settings
from complaintdesk.web import apidocs, console
from complaintdesk.web.api import router as api_router
from complaintdesk.web.bodylimit import MULTIPART_OVERHEAD, BodyLimitMiddleware
from complaintdesk.web.webhooks import WebhookEndpoint

#: The routes that take an image upload (multipart): the only bodies allowed past the general cap.
UPLOAD_PATHS = frozenset({"/api/v1/media", "/upload"})


class ComplaintDeskApp(FastAPI):
    """FastAPI, except that webhook calls skip every middleware layer (they are the hot path).

    Webhooks carry no cookies, sessions or CSRF tokens and answer in the upstream's own format, so
    ``/webhooks/…`` goes straight to a bare Starlette router; everything else is served as usual.
    """

    webhook_router: ASGIApp | None = None
    _behind_proxy: ASGIApp | None = None

    def trust_forwarded_headers(self, trusted_hosts: list[str] | str) -> None:
        """Take the client's address and scheme from ``X-Forwarded-*`` sent by ``trusted_hosts``.

        ``serve`` applies this to the console and API only (the console throttles sign-ins by
        address); webhooks never look at the caller's address, so they skip the parsing.
        """
        # uvicorn types ASGI apps with its own TypedDicts; both sides are plain ASGI 3 callables.
        self._behind_proxy = cast(ASGIApp, ProxyHeadersMiddleware(cast(Any, super().__call__), trusted_hosts))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.webhook_router is not None
            and scope["type"] == "http"
            and scope["path"].startswith("/webhooks/")
        ):
            await self.webhook_router(scope, receive, send)
        elif self._behind_proxy is not None:
            await self._behind_proxy(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None, *, ctx: AppContext | None = None, run_jobs: bool | None = None
) -> ComplaintDeskApp:
    """Build the application; tests pass their own settings or context."""
    if ctx is None:
        ctx = AppContext(settings or Settings())
    jobs_enabled = ctx.settings.run_jobs_in_process if run_jobs is None else run_jobs
    procrastinate_jobs = ctx.engine.dialect.name == "postgresql"
    runner = JobRunner(ctx)
    writer = InboxWriter(ctx.engine, on_stored=runner.wakeup.set)
    webhooks = WebhookEndpoint(ctx, writer)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        writer.start()
        # Everything imported so far lives as long as the process: keep it out of the collector's
        # full passes, which otherwise pause every request for tens of milliseconds (bench/ingest.py).
        gc.collect()
        gc.freeze()
        # Requests allocate a few hundred short-lived containers each; collecting the youngest
        # generation every 10,000 allocations instead of 700 cuts the collector's share of a busy
        # process's time (measured ~4 % at 700) without letting cyclic garbage pile up.
        gc.set_threshold(10_000, 10, 10)
        worker: asyncio.Task[None] | None = None
        if jobs_enabled and procrastinate_jobs:
            from complaintdesk.jobs.workers import run_worker

            worker = asyncio.create_task(run_worker(ctx, install_signal_handlers=False), name="jobs")
        elif jobs_enabled:
            runner.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()  # procrastinate stops fetching and lets running jobs finish
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            elif jobs_enabled:
                await runner.stop()
            await webhooks.refusals.drain()
            await writer.stop()
            await ctx.aclose()
            metrics.process_exiting()

    app = ComplaintDeskApp(
        title="complaintdesk", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.ctx = ctx
    app.state.runner = runner
    app.state.writer = writer
    app.include_router(api_router)
    apidocs.mount(app)
    app.webhook_router = webhooks
    exporter = MetricsExporter(ctx)
    app.state.metrics = exporter

    console.mount(app, ctx)
    app.add_middleware(  # added last: the outermost layer, before any session or body work
        BodyLimitMiddleware,
        limit=ctx.settings.max_request_body_bytes,
        upload_limit=MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD,
        upload_paths=UPLOAD_PATHS,
    )
    app.add_middleware(RequestContextMiddleware)  # outermost: every log line of a request has its id

    @app.exception_handler(ComplaintDeskError)
    async def _domain_error(request: Request, exc: ComplaintDeskError) -> Response:
        if console.is_console(request):
            return console.error_response(request, exc)
        body: dict[str, object] = {"error": type(exc).__name__, "message": exc.public_message}
        if isinstance(exc, ActionRefused) and exc.field:
            body["field"] = exc.field
        if isinstance(exc, ChannelAPIError):
            body["upstream_code"] = exc.code
        if isinstance(exc, ConversationMoved):
            body["current_version"] = exc.current_version
        return JSONResponse(body, status_code=exc.http_status)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        """Prometheus metrics: only with a token set (and no port of their own), only to its bearer."""
        if not exporter.on_main_port:
            return Response(b"not found", status_code=404, media_type="text/plain")
        if not exporter.authorized(request.headers.get("authorization")):
            return Response(
                b"a bearer token is required",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": "Bearer"},
            )
        body = await asyncio.to_thread(exporter.render)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
