"""httpx event hooks that measure every upstream call of a channel client (``ops.metrics``).

The request hook notes the start time on the request; the response hook, called when the headers
are in, observes the latency and counts the status class by endpoint. An endpoint is the path with
its identifiers (complaint ids, media ids) replaced by ``{id}``, so the number of series stays small.
Calls that get no answer are counted by the client's own error handling (:func:`count_error`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import lru_cache

import httpx

from complaintdesk.ops.metrics import UPSTREAM_ERRORS, UPSTREAM_REQUESTS, UPSTREAM_RESPONSES

__all__ = ["count_error", "endpoint_of", "metric_hooks"]

_STARTED = "complaintdesk.started"


@lru_cache(maxsize=1024)
def endpoint_of(path: str) -> str:
    """The path with its ids as ``{id}``: ``/v3/…/complaints-v2/2002…/response`` → ``/v3/…/{id}/response``.

    A segment is an id when it has 4 digits or more, or more than 40 characters.
    """
    parts = [
        "{id}" if sum(c.isdigit() for c in part) >= 4 or len(part) > 40 else part for part in path.split("/")
    ]
    return "/".join(parts)


def _status_class(code: int) -> str:
    return "429" if code == 429 else f"{code // 100}xx"


def metric_hooks(
    channel: str,
) -> tuple[Callable[[httpx.Request], Awaitable[None]], Callable[[httpx.Response], Awaitable[None]]]:
    """The request and response hooks for one channel's client."""

    async def on_request(request: httpx.Request) -> None:
        request.extensions[_STARTED] = time.perf_counter()

    async def on_response(response: httpx.Response) -> None:
        request = response.request
        endpoint = endpoint_of(request.url.path)
        started = request.extensions.get(_STARTED)
        if isinstance(started, float):
            UPSTREAM_REQUESTS.labels(channel, endpoint).observe(time.perf_counter() - started)
        UPSTREAM_RESPONSES.labels(channel, endpoint, _status_class(response.status_code)).inc()

    return on_request, on_response


def count_error(channel: str, request: httpx.Request | None, exc: Exception) -> None:
    """Count a call that got no answer (timeout, refused connection)."""
    endpoint = endpoint_of(request.url.path) if request is not None else "-"
    UPSTREAM_ERRORS.labels(channel, endpoint, type(exc).__name__).inc()
