"""Secrets by reference, personal data encrypted at rest, masking for display and logs."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from complaintdesk.errors import ConfigError

_PREFIX = "v1:"


def resolve_secret(ref: str) -> bytes:
    """Read a secret named by ``file:/path``, ``env:NAME`` or a bare path; the value is never logged."""
    if not ref:
        raise ConfigError("a required secret reference is empty")
    if ref.startswith("env:"):
        name = ref.removeprefix("env:")
        value = os.environ.get(name)
        if value is None:
            raise ConfigError(f"environment variable {name} (named by a secret reference) is not set")
        return value.encode("utf-8")
    path = Path(ref.removeprefix("file:")).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read secret file {path}: {exc.strerror}") from exc


class DataCipher:
    """AES-256-GCM for personal data at rest, with a key derived from the settings' data key."""

    def __init__(self, key_material: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"complaintdesk/pii/v1").derive(
            key_material
        )
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: str) -> str:
        """Encrypt a short string; the result is safe to store."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), b"pii")
        return _PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a value produced by :meth:`encrypt`."""
        if not token.startswith(_PREFIX):
            raise ConfigError("stored personal data has an unknown format")
        blob = base64.b64decode(token.removeprefix(_PREFIX))
        try:
            return self._aead.decrypt(blob[:12], blob[12:], b"pii").decode("utf-8")
        except InvalidTag as exc:
            raise ConfigError("stored personal data does not open with the configured data_key") from exc


_PHONE_RE = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)\d{4}(\d{4})(?![0-9A-Za-z])")


def mask_phone(phone: str | None) -> str | None:
    """Show a phone number as ``138****8000`` (short or odd values become ``****``)."""
    if not phone:
        return None
    digits = phone.strip()
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "****"


def redact(text: str) -> str:
    """Mask anything that looks like a mainland mobile number inside free text (for logs)."""
    return _PHONE_RE.sub(r"\1****\2", text)
