"""Mini program credentials for the simulator, generated at run time (never committed)."""

from __future__ import annotations

import base64
import secrets
import string
from dataclasses import dataclass

from complaintdesk.sandbox.miniprogram.crypto import random_string

_HEX = "0123456789abcdef"


@dataclass(frozen=True)
class AppCredentials:
    """What a developer copies from the mini program admin: AppID, AppSecret, Token, EncodingAESKey."""

    appid: str
    secret: str
    token: str
    encoding_aes_key: str
    original_id: str  # gh_… : the ``ToUserName`` of pushes

    def __repr__(self) -> str:
        return f"AppCredentials(appid={self.appid!r}, original_id={self.original_id!r}, secrets=***)"


def new_encoding_aes_key() -> str:
    """A 43-character [A-Za-z0-9] EncodingAESKey that is the canonical base64 of 32 random bytes."""
    while True:
        text = base64.b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
        if text.isalnum():
            return text


def new_appid() -> str:
    """``wx`` plus 16 lowercase hex digits."""
    return "wx" + random_string(16, _HEX)


def generate_app(appid: str | None = None) -> AppCredentials:
    """Fresh credentials (AppSecret: 32 hex; Token: 32 alphanumerics)."""
    return AppCredentials(
        appid=appid or new_appid(),
        secret=random_string(32, _HEX),
        token=random_string(32, string.ascii_letters + string.digits),
        encoding_aes_key=new_encoding_aes_key(),
        original_id="gh_" + random_string(12, _HEX),
    )
