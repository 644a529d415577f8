"""A local alert receiver for the demo: a WeCom-shaped group robot and a Standard Webhooks endpoint.

``POST /cgi-bin/webhook/send?key=…`` answers like a WeCom group robot (``errcode`` 0, or its own error
code for a wrong key or a message it cannot show); ``POST /endpoint`` verifies the Standard Webhooks
signature with the endpoint's secret (``standardwebhooks``) and answers 204, or 400 when it does not
verify. ``GET /`` lists what arrived, newest first (the page reloads itself); ``GET /messages.json``
the same as JSON. Only the last ``keep`` messages are kept, so a long demo never grows it.
"""

from __future__ import annotations

import html
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

_OK = {"errcode": 0, "errmsg": "ok"}


@dataclass
class Inbox:
    """What the receiver was sent (the last ``keep`` messages) and the secrets it checks with."""

    key: str
    endpoint_secret: str = ""
    keep: int = 200
    messages: deque[dict[str, Any]] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, title: str, text: str, verified: bool) -> None:
        """Keep one received message."""
        at = datetime.now(UTC).isoformat(timespec="seconds")
        with self.lock:
            self.messages.appendleft(
                {"at": at, "kind": kind, "title": title, "text": text, "verified": verified}
            )
            while len(self.messages) > self.keep:
                self.messages.pop()

    def snapshot(self) -> list[dict[str, Any]]:
        """The kept messages, newest first."""
        with self.lock:
            return list(self.messages)


def _wecom(inbox: Inbox, key: str, body: Any) -> dict[str, Any]:
    if key != inbox.key:
        return {"errcode": 93000, "errmsg": "invalid webhook url"}
    content = body.get("markdown", {}).get("content") if isinstance(body, dict) else None
    if body.get("msgtype") != "markdown" or not isinstance(content, str) or len(content.encode()) > 4096:
        return {"errcode": 40008, "errmsg": "invalid message type"}
    title, _, rest = content.partition("\n")
    inbox.add("wecom", title.lstrip("# "), rest, True)
    return _OK


def _page(messages: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(m['at'])}</td><td>{html.escape(m['kind'])}</td>"
        f"<td>{'✓' if m['verified'] else '✗'}</td><td><b>{html.escape(m['title'])}</b>"
        f"<pre>{html.escape(m['text'])}</pre></td></tr>"
        for m in messages
    )
    empty = "<tr><td colspan=4>nothing yet: alerts appear here as they arrive</td></tr>"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><meta http-equiv='refresh' content='5'>"
        "<title>alert receiver</title><style>body{font-family:sans-serif;margin:20px}"
        "td{border-bottom:1px solid #ddd;padding:4px 8px;vertical-align:top}"
        "pre{margin:0;white-space:pre-wrap}"
        "</style></head><body><h1>Alerts received (demo)</h1>"
        "<p>WeCom-shaped robot and Standard Webhooks endpoint; ✓ = shape or signature verified.</p>"
        f"<table>{rows or empty}</table></body></html>"
    )


def create_app(inbox: Inbox) -> FastAPI:
    """The receiver's HTTP app."""
    app = FastAPI(title="complaintdesk demo alert receiver", docs_url=None, redoc_url=None)

    @app.post("/cgi-bin/webhook/send")
    async def wecom(request: Request) -> JSONResponse:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return JSONResponse({"errcode": 40008, "errmsg": "invalid json"})
        return JSONResponse(_wecom(inbox, request.query_params.get("key", ""), body))

    @app.post("/endpoint")
    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            Webhook(inbox.endpoint_secret).verify(raw, headers)
        except WebhookVerificationError as exc:
            return Response(f"signature refused: {exc}", status_code=400)
        body = orjson.loads(raw)
        data = body.get("data", {}) if isinstance(body, dict) else {}
        text = " · ".join(str(data.get(k)) for k in ("external_id", "status", "deadline") if data.get(k))
        inbox.add("endpoint", str(body.get("type", "")), text, True)
        return Response(status_code=204)

    @app.get("/", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(_page(inbox.snapshot()))

    @app.get("/messages.json")
    async def messages() -> JSONResponse:
        return JSONResponse(inbox.snapshot())

    return app
