"""Behind a reverse proxy: the console and API see the visitor's address; webhooks skip the parsing."""

from __future__ import annotations

import httpx
import pytest
from fastapi import Request
from starlette.types import Receive, Scope, Send

from complaintdesk.app import create_app
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio

PROXY = ("127.0.0.1", 40000)
VISITOR = "203.0.113.7"


def _app(settings: Settings) -> tuple[object, list[Scope]]:
    app = create_app(settings, run_jobs=False)
    app.trust_forwarded_headers("127.0.0.1")  # what `complaintdesk serve` does

    @app.get("/probe/client")
    async def probe(request: Request) -> dict[str, str]:
        return {"host": request.client.host if request.client else "", "scheme": request.url.scheme}

    seen: list[Scope] = []

    async def webhook_probe(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app.webhook_router = webhook_probe
    return app, seen


async def _get(app: object, path: str, client: tuple[str, int]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=client)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://desk.test") as http:
        return await http.get(path, headers={"X-Forwarded-For": VISITOR, "X-Forwarded-Proto": "https"})


async def test_console_requests_through_a_trusted_proxy_carry_the_visitors_address(
    settings: Settings,
) -> None:
    app, _ = _app(settings)
    response = await _get(app, "/probe/client", PROXY)
    assert response.json() == {"host": VISITOR, "scheme": "https"}


async def test_forwarded_headers_from_an_untrusted_address_are_ignored(settings: Settings) -> None:
    app, _ = _app(settings)
    response = await _get(app, "/probe/client", ("198.51.100.9", 40000))
    assert response.json() == {"host": "198.51.100.9", "scheme": "http"}


async def test_webhooks_reach_their_route_without_the_forwarded_parsing(settings: Settings) -> None:
    app, seen = _app(settings)
    response = await _get(app, "/webhooks/wechatpay/shop", PROXY)
    assert response.status_code == 204
    assert seen[0]["client"] == PROXY
    assert seen[0]["scheme"] == "http"
