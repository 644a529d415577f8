"""Key files uploaded in the console: kept under ``data_dir/secrets`` (0700 / 0600), referenced as ``file:``.

Values never go into the database or a log; each upload gets a new file, so a failed save leaves the
account's current reference (and its file) untouched.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

__all__ = ["secrets_dir", "store"]

_SAFE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def secrets_dir(data_dir: Path) -> Path:
    """The protected directory (created 0700 on first use)."""
    folder = data_dir / "secrets"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def store(data_dir: Path, account: str, secret: str, data: bytes) -> str:
    """Write one secret file (0600) for ``account`` and return its ``file:`` reference."""
    if not _SAFE.match(account) or not _SAFE.match(secret):
        raise ValueError("account and secret names must be short lowercase slugs")
    folder = secrets_dir(data_dir) / account
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{secret}.{secrets.token_hex(4)}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return f"file:{path.resolve()}"
