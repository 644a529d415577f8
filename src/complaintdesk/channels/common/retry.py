"""HTTP plumbing shared by the channel transports: client setup, transport errors, jittered backoff."""

from __future__ import annotations

import random
from types import TracebackType
from typing import Any, Protocol, Self

import httpx
import orjson

from complaintdesk.channels.common.gate import run_send_gate
from complaintdesk.channels.common.metrics import count_error, metric_hooks
from complaintdesk.errors import ChannelTransportError

__all__ = [
    "NOT_SENT",
    "PooledTransport",
    "full_jitter",
    "http_client",
    "json_object",
    "transport_error",
]

#: httpx failures that happen before the request leaves: repeating the call cannot apply it twice.
NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)


class Timeouts(Protocol):
    """The timeout settings every channel has."""

    @property
    def connect_timeout(self) -> float:
        """Seconds to connect (and to wait for a pooled connection)."""

    @property
    def read_timeout(self) -> float:
        """Seconds to read (and to write)."""


def http_client(
    settings: Timeouts,
    *,
    base_url: httpx.URL | str,
    transport: httpx.AsyncBaseTransport | None,
    user_agent: str,
    channel: str,
    auth: httpx.Auth | None = None,
) -> httpx.AsyncClient:
    """A JSON-accepting client with the channel's connect/read timeouts, its calls measured."""
    on_request, on_response = metric_hooks(channel)
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        auth=auth,
        headers={"Accept": "application/json", "User-Agent": user_agent},
        # The send gate runs last: the request is timed from right before it leaves.
        event_hooks={"request": [on_request, run_send_gate], "response": [on_response]},
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.connect_timeout,
        ),
    )


def transport_error(
    exc: httpx.TransportError, name: str, *, channel: str, upstream: str, **context: Any
) -> ChannelTransportError:
    """Translate an httpx failure of call ``name``, telling whether the request may have been sent."""
    try:
        request: httpx.Request | None = exc.request
    except RuntimeError:  # raised before a request existed
        request = None
    count_error(channel, request, exc)
    sent = not isinstance(exc, NOT_SENT)
    return ChannelTransportError(
        f"{name}: {type(exc).__name__} talking to {upstream}"
        + ("; the request may have been applied" if sent else ""),
        channel=channel,
        sent=sent,
        **context,
    )


def full_jitter(rng: random.Random, attempt: int, *, initial: float, maximum: float) -> float:
    """A full-jitter exponential delay for retry number ``attempt`` (0-based), capped at ``maximum``."""
    cap = min(maximum, initial * (2**attempt))
    return rng.uniform(0, cap)


def json_object(content: bytes | str) -> dict[str, Any] | None:
    """The JSON object in ``content``, or None when it is not valid JSON or not an object."""
    try:
        doc = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


class PooledTransport:
    """Base of the channel transports: an ``httpx.AsyncClient`` closed by ``aclose``/``async with``."""

    _http: httpx.AsyncClient

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()
