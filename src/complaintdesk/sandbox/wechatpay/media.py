"""Images held by the WeChat Pay simulator: complaint media, merchant uploads, multipart parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from complaintdesk.sandbox.common.png import match_magic

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"BM", "image/bmp"))
_PARAM = re.compile(r';\s*([A-Za-z*]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


def sniff_image(data: bytes) -> str | None:
    """The content type of a JPG/PNG/BMP judged by its magic bytes, else None."""
    return match_magic(data, _MAGIC)


@dataclass(frozen=True)
class Upload:
    """An image a merchant uploaded (``POST /v3/merchant-service/images/upload``)."""

    media_id: str
    owner: str  # the calling mchid (the service provider in SP mode)
    filename: str
    content: bytes
    content_type: str


class MediaStore:
    """Downloadable media (id -> complaint, optional stored bytes) and merchants' uploads."""

    def __init__(self) -> None:
        self._complaint_of: dict[str, str] = {}
        self._content: dict[str, tuple[bytes, str]] = {}
        self._uploads: dict[str, Upload] = {}

    def register(self, media_id: str, complaint_id: str, content: tuple[bytes, str] | None = None) -> None:
        """Make ``media_id`` downloadable as part of ``complaint_id`` (bytes generated when not given)."""
        self._complaint_of[media_id] = complaint_id
        if content is not None:
            self._content[media_id] = content

    def complaint_of(self, media_id: str) -> str | None:
        """The complaint a downloadable media id belongs to."""
        return self._complaint_of.get(media_id)

    def content(self, media_id: str) -> tuple[bytes, str] | None:
        """Stored bytes and content type of a downloadable id (None: the simulator draws a PNG)."""
        return self._content.get(media_id)

    def expire_downloads(self) -> int:
        """Make every download link stop working, as WeChat Pay's links do within an hour."""
        expired = len(self._complaint_of)
        self._complaint_of.clear()
        self._content.clear()
        return expired

    def known(self, media_id: str) -> bool:
        """True for any id in use (downloadable or uploaded)."""
        return media_id in self._complaint_of or media_id in self._uploads

    def add_upload(self, upload: Upload) -> None:
        """Keep an uploaded image."""
        self._uploads[upload.media_id] = upload

    def upload(self, media_id: str, owner: str | None = None) -> Upload | None:
        """The upload with that id (only if ``owner`` uploaded it, when given)."""
        found = self._uploads.get(media_id)
        return found if found is not None and (owner is None or found.owner == owner) else None

    def upload_count(self) -> int:
        """How many images merchants uploaded."""
        return len(self._uploads)


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def header_params(value: str) -> dict[str, str]:
    """``key=value`` parameters of a header like ``form-data; name="meta"`` (keys lower-cased)."""
    return {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(value)
    }


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """Split a multipart/form-data body into its parts, in order; ``ValueError`` when malformed."""
    if content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
        raise ValueError("Content-Type必须是multipart/form-data")
    boundary = header_params(content_type).get("boundary") or _leading_boundary(body)
    if not boundary:
        raise ValueError("Content-Type缺少boundary，且请求体不以--boundary开头")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    parts: list[Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return parts
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep or not head.lstrip(b" \t").startswith(b"\r\n"):
            raise ValueError("multipart分段格式错误")
        parts.append(_part(head.decode("utf-8", errors="replace"), data))
    raise ValueError("multipart缺少结束分隔符")


def _leading_boundary(body: bytes) -> str | None:
    """The boundary a body opens with (``--xyz\r\n``), for a bare ``multipart/form-data`` header.

    Spec §1.8 names the header ``multipart/form-data`` without parameters and the PyPI SDK
    ``wechatpayv3`` sends exactly that (RFC 7578 wants ``boundary=``); the body still names it.
    """
    first, sep, _ = body.partition(b"\r\n")
    token = first[2:].rstrip(b" \t")
    if not sep or not first.startswith(b"--") or not 1 <= len(token) <= 70:
        return None
    return token.decode("latin-1")


def _part(head: str, data: bytes) -> Part:
    headers: dict[str, str] = {}
    for line in head.strip().split("\r\n"):
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError("multipart分段头格式错误")
        headers[name.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    if not disposition.lower().startswith("form-data"):
        raise ValueError("multipart分段缺少Content-Disposition: form-data")
    params = header_params(disposition)
    if "name" not in params:
        raise ValueError("multipart分段缺少name")
    return Part(params["name"], params.get("filename"), headers.get("content-type"), data)
