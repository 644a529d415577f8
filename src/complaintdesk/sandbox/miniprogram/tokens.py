"""access_token issuing and checking: classic ``/cgi-bin/token`` and ``stable_token`` (spec A.2).

* Tokens live ``ttl`` seconds (7200). A classic call always issues a new token; the previous classic token
  keeps working for at most ``overlap`` seconds (300) more.
* A stable call in normal mode returns the current stable token (``expires_in`` = what is left) until
  ``rotate_before`` seconds (300) before it expires; then it issues a new one, and the old one overlaps until
  its own expiry. ``force_refresh`` issues a new token and revokes the previous stable tokens at once
  (official stable_token page; not in our spec); at most ``force_per_day`` (20) a Shanghai calendar day and
  ``force_interval`` (30 s) apart, else errcode 45009 / 45011.
* Checking: missing 41001, not token-shaped 40014, unknown or revoked 40001, expired 42001.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from complaintdesk.sandbox.miniprogram import codes

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
_TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_\-]{20,512}")


@dataclass
class IssuedToken:
    """A token the platform handed out."""

    value: str
    appid: str
    kind: str  # "stable" or "classic"
    issued_at: float
    expires_at: float
    revoked: bool = False

    def expires_in(self, now: float) -> int:
        """Whole seconds left (at least 1 while valid)."""
        return max(1, int(self.expires_at - now))


@dataclass
class _AppTokens:
    stable: list[IssuedToken] = field(default_factory=list)
    classic: IssuedToken | None = None
    forced: list[float] = field(default_factory=list)


class TokenStore:
    """Every token issued, per app; pure Python on unix-second timestamps."""

    def __init__(
        self,
        rng: random.Random,
        *,
        ttl: int = 7200,
        rotate_before: int = 300,
        overlap: int = 300,
        force_per_day: int = 20,
        force_interval: int = 30,
    ) -> None:
        self.rng = rng
        self.ttl = ttl
        self.rotate_before = rotate_before
        self.overlap = overlap
        self.force_per_day = force_per_day
        self.force_interval = force_interval
        self._tokens: dict[str, IssuedToken] = {}
        self._apps: dict[str, _AppTokens] = {}

    def _new(self, appid: str, kind: str, now: float) -> IssuedToken:
        while True:
            body = "".join(self.rng.choice(_TOKEN_CHARS) for _ in range(150 if kind == "classic" else 180))
            value = f"{self.rng.randint(60, 99)}_{body}"
            if value not in self._tokens:
                break
        token = IssuedToken(value, appid, kind, now, now + self.ttl)
        self._tokens[value] = token
        return token

    def classic(self, appid: str, now: float) -> IssuedToken:
        """A new classic token; the previous one expires within ``overlap`` seconds."""
        app = self._apps.setdefault(appid, _AppTokens())
        if app.classic is not None:
            app.classic.expires_at = min(app.classic.expires_at, now + self.overlap)
        app.classic = self._new(appid, "classic", now)
        return app.classic

    def stable(self, appid: str, now: float, *, force: bool) -> IssuedToken | int:
        """The stable token (normal or forced mode), or an errcode (45009 / 45011) for forced refreshes."""
        app = self._apps.setdefault(appid, _AppTokens())
        if force:
            day = datetime.fromtimestamp(now, UTC).astimezone(SHANGHAI).date()
            today = [
                t for t in app.forced if datetime.fromtimestamp(t, UTC).astimezone(SHANGHAI).date() == day
            ]
            if len(today) >= self.force_per_day:
                return codes.DAILY_QUOTA
            if app.forced and now - app.forced[-1] < self.force_interval:
                return codes.MINUTE_QUOTA
            app.forced = [*today, now]
            for old in app.stable:
                old.revoked = True
        else:
            current = app.stable[-1] if app.stable else None
            if current is not None and not current.revoked and current.expires_at - now > self.rotate_before:
                return current
        token = self._new(appid, "stable", now)
        app.stable = [t for t in app.stable if not t.revoked and t.expires_at > now] + [token]
        return token

    def check(self, value: str | None, now: float) -> str | int:
        """The appid a token belongs to, or the errcode for it (41001, 40014, 40001, 42001)."""
        if not value:
            return codes.TOKEN_MISSING
        if not _TOKEN_SHAPE.fullmatch(value):
            return codes.INVALID_TOKEN
        token = self._tokens.get(value)
        if token is None or token.revoked:
            return codes.INVALID_CREDENTIAL
        if now >= token.expires_at:
            return codes.TOKEN_EXPIRED
        return token.appid

    def get(self, value: str) -> IssuedToken | None:
        """The record of a token value."""
        return self._tokens.get(value)

    def revoke_all(self, appid: str) -> int:
        """Invalidate every token of ``appid`` (e.g. the AppSecret was reset); returns how many."""
        count = 0
        for token in self._tokens.values():
            if token.appid == appid and not token.revoked:
                token.revoked = True
                count += 1
        return count

    def issued_count(self) -> int:
        """How many tokens were ever issued."""
        return len(self._tokens)
