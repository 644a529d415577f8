"""Deterministic PNG drawing and magic-byte sniffing for simulated images."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterable

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def gradient_png(seed: str, size: int, step: int) -> bytes:
    """A ``size``-square RGB PNG whose colours derive from ``seed`` (gradient ``step`` per pixel)."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter type: none
        for x in range(size):
            rows += bytes(((digest[0] + step * x) % 256, (digest[1] + step * y) % 256, digest[2]))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows)))
        + _png_chunk(b"IEND", b"")
    )


def match_magic(data: bytes, table: Iterable[tuple[bytes, str]]) -> str | None:
    """The label of the first ``(magic, label)`` in ``table`` that ``data`` starts with, else None."""
    for magic, label in table:
        if data.startswith(magic):
            return label
    return None
