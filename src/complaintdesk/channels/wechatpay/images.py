"""Evidence images before upload (spec §1.8): JPG/PNG/BMP by magic bytes, at most 2 MB, never empty."""

from __future__ import annotations

import re

from complaintdesk.channels.common.images import (
    check_image_size,
    image_name,
    name_other_format,
    sniff_jpg_png_bmp,
)
from complaintdesk.channels.wechatpay.fields import refuse

__all__ = ["IMAGE_TYPES", "MAX_IMAGE_BYTES", "check_image", "upload_filename"]

MAX_IMAGE_BYTES = 2 * 1024 * 1024
#: Content type → file extension for the upload ``meta.filename``.
IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/bmp": "bmp"}
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
_OTHER_IMAGE_TYPES = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"%PDF", "PDF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
)


_sniff = sniff_jpg_png_bmp


def _other_type(data: bytes) -> str | None:
    """Name a format we refuse, so the operator knows what the file really is."""
    return name_other_format(data, _OTHER_IMAGE_TYPES)


def check_image(data: bytes, filename: str) -> str:
    """Check evidence for upload: non-empty, ≤ 2 MB, really JPG/PNG/BMP. Return its content type."""
    name = image_name(filename)
    check_image_size(
        data, name, max_bytes=MAX_IMAGE_BYTES, max_mb=MAX_IMAGE_BYTES // 1048576, upstream="WeChat Pay"
    )
    content_type = _sniff(data)
    if content_type is None:
        other = _other_type(data)
        what = f"is a {other} image" if other else "is not a recognisable image"
        refuse(f"{name} {what}; WeChat Pay accepts only JPG, PNG or BMP", "image")
    return content_type


def upload_filename(sha256: str, content_type: str) -> str:
    """Return the upload ``meta.filename``: ``<sha256>.<jpg|png|bmp>`` (no personal file names upstream)."""
    if not _SHA256_RE.fullmatch(sha256):
        raise ValueError("sha256 must be 64 hexadecimal characters")
    extension = IMAGE_TYPES.get(content_type)
    if extension is None:
        raise ValueError(f"content type {content_type[:40]!r} is not JPG, PNG or BMP")
    return f"{sha256.lower()}.{extension}"
