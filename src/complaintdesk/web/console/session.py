"""The console's signed session cookie and its CSRF token.

The cookie holds ``{"u": user id, "v": session_version, "sid": session id, "iat": issued,
"lat": last seen, "csrf": token}`` signed with a key derived (HKDF, its own ``info``) from the
settings' data key. It is ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` when the public URL is https.
A session dies after :data:`IDLE_SECONDS` without a request, :data:`ABSOLUTE_SECONDS` after login,
when the user's ``session_version`` moves (password change, logout everywhere), or when its
``console_session`` row is gone: sign-out deletes it, so a copied cookie dies with the original
(``core/users/sessions.py``). Anonymous visitors get a cookie with a CSRF token only, so the login
form is protected as well.
"""

from __future__ import annotations

import copy
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadSignature, URLSafeSerializer

COOKIE_NAME = "cd_session"
LANGUAGE_COOKIE = "cd_lang"
IDLE_SECONDS = 2 * 3600
ABSOLUTE_SECONDS = 12 * 3600
#: The cookie is re-issued (sliding idle expiry) at most this often.
REFRESH_SECONDS = 60
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def derive_secret(key_material: bytes) -> bytes:
    """The cookie-signing key: HKDF-SHA256 over the data key with a console-specific ``info``."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"complaintdesk/console-session/v1"
    ).derive(key_material)


@dataclass
class ConsoleSession:
    """The decoded cookie of one request; ``dirty`` asks the middleware to write it back."""

    data: dict[str, Any] = field(default_factory=dict)
    dirty: bool = False
    clear: bool = False
    _received: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._received = copy.deepcopy(self.data)

    def discard_changes(self) -> None:
        """Forget what this request changed (its writes were rolled back: no sign-in, no flash)."""
        self.data = copy.deepcopy(self._received)
        self.dirty = False

    @property
    def user_id(self) -> int | None:
        """The logged-in user's id, if any."""
        value = self.data.get("u")
        return value if isinstance(value, int) else None

    @property
    def version(self) -> int:
        """The ``session_version`` the cookie was issued for."""
        value = self.data.get("v")
        return value if isinstance(value, int) else -1

    @property
    def csrf(self) -> str:
        """The session's CSRF token (created on first use)."""
        token = self.data.get("csrf")
        if not isinstance(token, str) or len(token) < 20:
            token = secrets.token_urlsafe(24)
            self.data["csrf"] = token
            self.dirty = True
        return token

    def check_csrf(self, presented: str | None) -> bool:
        """Whether ``presented`` is this session's CSRF token (constant-time)."""
        token = self.data.get("csrf")
        return bool(presented and isinstance(token, str)) and hmac.compare_digest(
            str(presented).encode(), str(token).encode()
        )

    @property
    def session_id(self) -> str:
        """The server-side session id (``console_session``), '' when the cookie has none."""
        value = self.data.get("sid")
        return value if isinstance(value, str) else ""

    def login(self, user_id: int, version: int, now: int, session_id: str) -> None:
        """Start an authenticated session (a fresh CSRF token too: no fixation)."""
        self.data = {
            "u": user_id,
            "v": version,
            "sid": session_id,
            "iat": now,
            "lat": now,
            "csrf": secrets.token_urlsafe(24),
        }
        self.dirty = True

    def logout(self) -> None:
        """Forget the user; keep an anonymous CSRF token for the login form."""
        self.data = {"csrf": secrets.token_urlsafe(24)}
        self.dirty = True

    def expired(self, now: int) -> bool:
        """Whether the idle or absolute lifetime is over."""
        issued, seen = self.data.get("iat"), self.data.get("lat")
        if not isinstance(issued, int) or not isinstance(seen, int):
            return True
        return now - seen > IDLE_SECONDS or now - issued > ABSOLUTE_SECONDS or seen > now + 300

    def touch(self, now: int) -> None:
        """Slide the idle expiry (written back at most every :data:`REFRESH_SECONDS`)."""
        seen = self.data.get("lat")
        if not isinstance(seen, int) or now - seen >= REFRESH_SECONDS:
            self.data["lat"] = now
            self.dirty = True


class SessionCodec:
    """Sign and verify the cookie value."""

    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeSerializer(secret, salt="complaintdesk.console.session")

    def dumps(self, data: dict[str, Any]) -> str:
        """The signed cookie value."""
        return str(self._serializer.dumps(data))

    def loads(self, value: str | None) -> dict[str, Any]:
        """The cookie's data, or an empty dict when it is missing, forged or malformed."""
        if not value or len(value) > 4096:
            return {}
        try:
            data = self._serializer.loads(value)
        except BadSignature:
            return {}
        return data if isinstance(data, dict) else {}
