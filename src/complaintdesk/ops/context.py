"""Log context bound where work starts: a request id per console/API request, ids per job run."""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import AsyncIterator

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from complaintdesk import logs
from complaintdesk.ops.metrics import JOB_RUNS

log = logging.getLogger("complaintdesk.jobs")

#: A caller's ``X-Request-ID`` is kept when it looks like an id (anything else is replaced).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestContextMiddleware:
    """Binds ``request_id`` (the caller's ``X-Request-ID`` or a new one) for the request's log lines.

    The answer carries it back in ``X-Request-ID``, so a user's report can be matched to the logs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else secrets.token_hex(8)
        header = (b"x-request-id", request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        with logs.bound(request_id=request_id):
            await self.app(scope, receive, send_with_id)


@contextlib.asynccontextmanager
async def job_run(task: str, **context: object) -> AsyncIterator[None]:
    """One run of a job: its ids bound to every log line, its result counted; a failure is logged.

    An unexpected exception is logged here with its traceback and the job's context, counted as
    ``failed`` and raised again (procrastinate retries it; the embedded runner tries again shortly).
    """
    with logs.bound(task=task, **context):
        try:
            yield
        except Exception:
            JOB_RUNS.labels(task, "failed").inc()
            log.exception("job %s failed", task)
            raise
        JOB_RUNS.labels(task, "ok").inc()
