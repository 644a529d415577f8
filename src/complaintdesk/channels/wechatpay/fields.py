"""Field checks shared by the action rules: each refusal is an ``ActionRefused`` an operator can act on.

Every check is pure. ``label`` is how the operator knows the field ("reply", "reject reason"), ``field`` is
the parameter path returned in ``ActionRefused.field`` (e.g. ``blocks[1].text.text``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from complaintdesk.channels.common.text import refuse, unsupported_character

__all__ = [
    "MAX_IMAGES",
    "bool_field",
    "check_keys",
    "choice_field",
    "https_url",
    "image_refs_field",
    "mapping_field",
    "refuse",
    "text_field",
    "unsupported_character",
]

#: Images per reply / per refund rejection (``response_images``, ``reject_media_list``).
MAX_IMAGES = 4
_MAX_REF = 128


def text_field(
    value: Any,
    *,
    field: str,
    label: str,
    max_chars: int | None = None,
    required: bool = True,
    strip: bool = True,
) -> str | None:
    """Check a text value: a string, non-blank when required, ≤ ``max_chars``, only 1–3-byte characters.

    Returns the (stripped) text, or None when it is optional and absent or blank.
    """
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            refuse(f"{label} is required", field)
        return None
    if not isinstance(value, str):
        refuse(f"{label} must be text, not {type(value).__name__}", field)
    bad = unsupported_character(value)
    if bad is not None:
        position, what = bad
        refuse(
            f"{label} contains {what} at character {position}; WeChat Pay accepts only characters of "
            "up to 3 bytes in UTF-8 (no emoji or other characters beyond U+FFFF)",
            field,
        )
    text = value.strip() if strip else value
    if not text.strip():
        refuse(f"{label} is empty", field)
    if max_chars is not None and len(text) > max_chars:
        refuse(f"{label} is {len(text)} characters; WeChat Pay accepts at most {max_chars}", field)
    return text


def image_refs_field(value: Any, *, field: str, label: str, max_count: int = MAX_IMAGES) -> list[str]:
    """Check a list of local image references (archive SHA-256 values); duplicates are dropped."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        refuse(f"{label} must be a list of image references", field)
    refs: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            refuse(f"{label}: item {index + 1} is not an image reference", f"{field}[{index}]")
        ref = item.strip()
        if len(ref) > _MAX_REF or any(char.isspace() for char in ref):
            refuse(f"{label}: item {index + 1} is not an image reference", f"{field}[{index}]")
        if ref not in refs:
            refs.append(ref)
    if len(refs) > max_count:
        refuse(f"{len(refs)} {label} attached; WeChat Pay accepts at most {max_count}", field)
    return refs


def https_url(value: Any, *, field: str, label: str, max_chars: int | None = None) -> str:
    """Check an absolute https URL."""
    url = text_field(value, field=field, label=label, max_chars=max_chars)
    assert url is not None
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.netloc or any(char.isspace() for char in url):
        refuse(f"{label} must be an https:// link, got {url[:80]!r}", field)
    return url


def choice_field(
    value: Any, *, field: str, label: str, choices: Iterable[str], default: str | None = None
) -> str:
    """Check an enum value."""
    allowed = list(choices)
    if value is None and default is not None:
        return default
    if value not in allowed:
        refuse(f"{label} must be one of {', '.join(allowed)}, got {str(value)[:40]!r}", field)
    return str(value)


def bool_field(value: Any, *, field: str, label: str) -> bool | None:
    """Check an optional boolean."""
    if value is None or isinstance(value, bool):
        return value
    refuse(f"{label} must be true or false", field)


def mapping_field(value: Any, *, field: str, label: str) -> Mapping[str, Any]:
    """Check that a value is an object."""
    if not isinstance(value, Mapping):
        refuse(f"{label} must be an object", field)
    return value


def check_keys(value: Mapping[str, Any], allowed: Iterable[str], *, field: str, what: str) -> None:
    """Refuse members that are not in ``allowed`` (typos would otherwise be dropped silently)."""
    known = set(allowed)
    unknown = sorted(str(key) for key in value if key not in known)
    if unknown:
        prefix = f"{field}." if field else ""
        refuse(
            f"{what} does not take {', '.join(unknown)}; it takes {', '.join(sorted(known)) or 'nothing'}",
            prefix + unknown[0],
        )
