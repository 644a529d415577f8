"""Images of the Mini Program simulator: merchant uploads (``media_id``, 3 days) and expiring CDN links.

Complaint images appear in the detail and in pushes as CDN URLs
``{base}/sandbox/cdn/{key}?expires={unix}&sign={hmac}`` that stop working ``cdn_ttl`` seconds (1 h,
ASSUMPTION) after they were rendered; ``GET /sandbox/cdn/{key}`` serves them.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from complaintdesk.sandbox.common.png import match_magic
from complaintdesk.sandbox.miniprogram.crypto import png_for

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MEDIA_TTL = 3 * 24 * 3600
CDN_PATH = "/sandbox/cdn/"
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_image(data: bytes) -> str | None:
    """The content type of PNG/JPEG/GIF bytes judged by magic bytes, else None."""
    return match_magic(data, _MAGIC)


@dataclass(frozen=True)
class Upload:
    """An image uploaded through ``/cgi-bin/media/upload``."""

    media_id: str
    appid: str
    created_at: datetime
    data: bytes
    content_type: str


class MediaStore:
    """Uploaded media ids and the images complaints show (bytes drawn when not given)."""

    def __init__(self, rng: random.Random, *, ttl: int = MEDIA_TTL, cdn_ttl: int = 3600) -> None:
        self.rng = rng
        self.ttl = ttl
        self.cdn_ttl = cdn_ttl
        self._secret = secrets.token_bytes(32)
        self._uploads: dict[str, Upload] = {}
        self._images: dict[str, tuple[bytes, str] | None] = {}

    # ----------------------------------------------------------- uploads
    def add_upload(self, appid: str, data: bytes, content_type: str, now: datetime) -> Upload:
        """Keep an uploaded image under a fresh 64-character media id."""
        media_id = self._fresh(64)
        upload = Upload(media_id, appid, now, data, content_type)
        self._uploads[media_id] = upload
        return upload

    def resolve(self, media_id: str, appid: str, now: datetime) -> Upload | str:
        """The upload behind ``media_id`` for ``appid``, or ``"unknown"`` / ``"expired"``."""
        upload = self._uploads.get(media_id)
        if upload is None or upload.appid != appid:
            return "unknown"
        if (now - upload.created_at).total_seconds() >= self.ttl:
            return "expired"
        return upload

    def upload(self, media_id: str) -> Upload | None:
        """The upload with that id, whatever its age or app."""
        return self._uploads.get(media_id)

    def upload_count(self) -> int:
        """How many images merchants uploaded."""
        return len(self._uploads)

    # ------------------------------------------------------------ images
    def new_image(self, content: tuple[bytes, str] | None = None) -> str:
        """A new complaint image (a drawn PNG unless ``content`` is given); returns its key."""
        key = self._fresh(32)
        self._images[key] = content
        return key

    def image_of_upload(self, upload: Upload) -> str:
        """The image key under which a merchant's upload appears in the complaint's history."""
        return self.new_image((upload.data, upload.content_type))

    def cdn_url(self, base: str, key: str, now: datetime) -> str:
        """An expiring link to image ``key`` under ``base``."""
        expires = int(now.timestamp()) + self.cdn_ttl
        query = urlencode({"expires": expires, "sign": self._sign(key, expires)})
        return f"{base.rstrip('/')}{CDN_PATH}{key}?{query}"

    def fetch(self, key: str, expires: str, sign: str, now: datetime) -> tuple[bytes, str] | str:
        """The image bytes for a CDN link, or ``"forbidden"`` (bad link) / ``"expired"``."""
        if key not in self._images or not expires.isdigit():
            return "forbidden"
        if not hmac.compare_digest(self._sign(key, int(expires)), sign):
            return "forbidden"
        if now.timestamp() >= int(expires):
            return "expired"
        return self._images[key] or (png_for(key), "image/png")

    def _sign(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def _fresh(self, length: int) -> str:
        while True:
            value = "".join(self.rng.choice(_ID_CHARS) for _ in range(length))
            if value not in self._uploads and value not in self._images:
                return value
