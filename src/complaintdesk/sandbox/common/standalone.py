"""Shared parts of the standalone sandboxes: ``id[:key=value,…]`` specs, checks, the JSON control body."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MAX_SEED = 500
_URL = re.compile(r"https?://[^\s]{1,250}")


class SpecError(ValueError):
    """A registration given on the command line or to a control endpoint is malformed."""


def parse_spec(spec: str, allowed: Iterable[str]) -> tuple[str, dict[str, str]]:
    """``id[:key=value,…]`` into ``(id, {key: value})``; unknown keys are refused."""
    names = tuple(allowed)
    ident, _, rest = spec.partition(":")
    options: dict[str, str] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in names:
            raise SpecError(f"option {key!r} unknown (expected {', '.join(names)})")
        options[key] = value
    return ident, options


def check_url(name: str, value: Any) -> str | None:
    """``None`` or an http(s) URL without spaces."""
    if value is None:
        return None
    if not isinstance(value, str) or not _URL.fullmatch(value):
        raise SpecError(f"{name} must be an http(s) URL without spaces")
    return value


def check_count(value: Any) -> int:
    """How many complaints to generate: a whole number 0..MAX_SEED (digits as text accepted)."""
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.isdigit())
    ):
        raise SpecError(f"complaints must be a whole number 0..{MAX_SEED}")
    count = int(value)
    if not 0 <= count <= MAX_SEED:
        raise SpecError(f"complaints must be a whole number 0..{MAX_SEED}")
    return count


def check_fields(options: dict[str, Any], allowed: Iterable[str]) -> None:
    """Refuse fields a control body may not carry."""
    unknown = set(options) - set(allowed)
    if unknown:
        raise SpecError(f"unknown field(s): {', '.join(sorted(unknown))}")


def json_object(raw: bytes) -> dict[str, Any]:
    """A control endpoint's body as a JSON object (``SpecError`` / ``ValueError`` otherwise)."""
    body = json.loads(raw or b"null")
    if not isinstance(body, dict):
        raise SpecError("the body must be a JSON object")
    return body


def write_file(path: Path, data: bytes, mode: int) -> Path:
    """Write ``data`` with ``mode`` set at creation (secrets are never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)
    return path
