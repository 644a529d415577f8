"""Field checks shared by the channels' action validators."""

from __future__ import annotations

from typing import NoReturn

from complaintdesk.errors import ActionRefused

__all__ = ["refuse", "unsupported_character"]


def refuse(message: str, field: str) -> NoReturn:
    """Raise the refusal for ``field``."""
    raise ActionRefused(message, field=field)


def unsupported_character(text: str) -> tuple[int, str] | None:
    """(1-based position, description) of the first character above U+FFFF or lone surrogate, else None."""
    for index, char in enumerate(text):
        code = ord(char)
        if code > 0xFFFF:
            return index + 1, f"{char} (U+{code:04X})"
        if 0xD800 <= code <= 0xDFFF:
            return index + 1, f"an invalid lone surrogate (U+{code:04X})"
    return None
