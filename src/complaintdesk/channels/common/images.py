"""Evidence-image checks shared by the channels: magic-byte sniffing and the size limit."""

from __future__ import annotations

from collections.abc import Iterable

from complaintdesk.channels.common.text import refuse

__all__ = ["check_image_size", "image_name", "name_other_format", "sniff_jpg_png_bmp"]


def sniff_jpg_png_bmp(data: bytes) -> str | None:
    """Return the content type of a JPG/PNG/BMP by its magic bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"BM") and len(data) >= 26:
        return "image/bmp"
    return None


def name_other_format(data: bytes, magics: Iterable[tuple[bytes, str]]) -> str | None:
    """Name a format we refuse (from ``magics``, then WebP/HEIC), so the operator knows what the file is."""
    for magic, name in magics:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:8] == b"ftyp":
        return "HEIC/AVIF (or video)"
    return None


def image_name(filename: str) -> str:
    """How refusals name the file: its (shortened) name, or "the image"."""
    return repr(filename[:80]) if filename else "the image"


def check_image_size(data: bytes, name: str, *, max_bytes: int, max_mb: float, upstream: str) -> None:
    """Refuse empty evidence and evidence over ``max_bytes`` (``max_mb`` is how the limit is shown)."""
    size = len(data)
    if size == 0:
        refuse(f"{name} is empty", "image")
    if size > max_bytes:
        refuse(
            f"{name} is {size / 1048576:.1f} MB ({size} bytes); {upstream} accepts at most "
            f"{max_mb:g} MB ({max_bytes} bytes)",
            "image",
        )
