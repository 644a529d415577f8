"""ASGI middleware: decode the console cookie before a console route runs, write it back after."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from complaintdesk.web.console import i18n
from complaintdesk.web.console.session import (
    ABSOLUTE_SECONDS,
    COOKIE_NAME,
    LANGUAGE_COOKIE,
    ConsoleSession,
    SessionCodec,
)

#: Paths that never use the console session (kept free of any cookie work: webhooks are hot).
_SKIP = ("/webhooks/", "/api/", "/healthz", "/openapi.json", "/docs", "/redoc", "/static/")


def read_cookie(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    """One cookie's value from raw ASGI headers."""
    for key, value in headers:
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is treated as no cookie
                return None
            if name in jar:
                return jar[name].value
    return None


class ConsoleSessionMiddleware:
    """Attach a :class:`ConsoleSession` to ``request.state.console_session`` on console paths."""

    def __init__(self, app: ASGIApp, *, codec: SessionCodec, secure: bool) -> None:
        self.app = app
        self.codec = codec
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(_SKIP):
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        session = ConsoleSession(self.codec.loads(read_cookie(headers, COOKIE_NAME)))
        # Set here, in the request's root context, so sync routes and dependencies (run in worker
        # threads with a copy of this context) all see it; the cookie mirrors the user's preference.
        i18n.set_language(read_cookie(headers, LANGUAGE_COOKIE) or i18n.DEFAULT_LANGUAGE)
        scope.setdefault("state", {})["console_session"] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and session.dirty:
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"set-cookie", self._cookie(session).encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _cookie(self, session: ConsoleSession) -> str:
        value = self.codec.dumps(session.data)
        parts = [
            f"{COOKIE_NAME}={value}",
            "Path=/",
            "HttpOnly",
            "SameSite=Lax",
            f"Max-Age={ABSOLUTE_SECONDS}",
        ]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)
