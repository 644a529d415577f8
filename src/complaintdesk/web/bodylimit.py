"""A cap on request bodies for the API and the console (webhooks have their own, ``max_body_bytes``).

A declared ``Content-Length`` over the cap is answered 413 at once, before any of the body is read;
a body without one (chunked) is counted as it is read and refused the moment it passes the cap: the
route's reading fails, whatever it would have answered is dropped, and the client gets 413. The
route raised, so its unit of work rolled back: nothing of the request is kept.
"""

from __future__ import annotations

import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Room for the multipart envelope (boundaries, part headers, the CSRF field) around an upload.
MULTIPART_OVERHEAD = 64 * 1024


class BodyTooLarge(Exception):
    """Raised into the route when the body being read passes the cap."""


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, or None when absent or not a number."""
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 19 else None
    return None


def _wants_json(scope: Scope) -> bool:
    if str(scope.get("path", "")).startswith("/api/"):
        return True
    headers = dict(scope.get("headers", []))
    return b"application/json" in headers.get(b"accept", b"") or b"x-csrf-token" in headers


async def refuse(scope: Scope, send: Send, limit: int) -> None:
    """Answer 413 (JSON for the API and fetches, a short page for forms) and close the connection."""
    kb = max(1, limit // 1024)
    if _wants_json(scope):
        body = json.dumps({"error": "BodyTooLarge", "message": f"the request body exceeds {kb} KB"}).encode()
        content_type = b"application/json"
    else:
        body = (
            "<!doctype html><meta charset=utf-8><title>413</title>"
            f"<p>提交的内容过大（上限 {kb} KB）。The request is too large (at most {kb} KB).</p>"
        ).encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Cap every request body: ``upload_limit`` on ``upload_paths``, ``limit`` everywhere else."""

    def __init__(self, app: ASGIApp, *, limit: int, upload_limit: int, upload_paths: frozenset[str]) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if scope["path"] in self.upload_paths else self.limit
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await refuse(scope, send, limit)
            return
        state = {"read": 0, "over": False, "started": False}

        async def counted_receive() -> Message:
            if state["over"]:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                state["read"] += len(message.get("body", b""))
                if state["read"] > limit:
                    state["over"] = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if state["over"] and not state["started"]:
                return  # the route's answer to a failed read is replaced by the 413 below
            state["started"] = state["started"] or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(BodyTooLarge):  # the route stopped reading: answered below
            await self.app(scope, counted_receive, guarded_send)
        if state["over"] and not state["started"]:
            await refuse(scope, send, limit)
