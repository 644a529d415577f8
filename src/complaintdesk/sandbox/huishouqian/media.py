"""Images held by the Huishouqian simulator: complaint media (by URL) and merchants' uploads (by fileId)."""

from __future__ import annotations

import random

from complaintdesk.sandbox.huishouqian.crypto import png_for
from complaintdesk.sandbox.huishouqian.model import Upload, new_media_url


class MediaStore:
    """Downloadable media (URL -> complaint, optional stored bytes) and uploaded files."""

    def __init__(self) -> None:
        self._complaint_of: dict[str, str] = {}
        self._content: dict[str, tuple[bytes, str]] = {}
        self._uploads: dict[int, Upload] = {}

    def register(self, url: str, complaint_id: str, content: tuple[bytes, str] | None = None) -> None:
        """Make ``url`` downloadable as part of ``complaint_id`` (a PNG is drawn when no bytes are given)."""
        self._complaint_of[url] = complaint_id
        if content is not None:
            self._content[url] = content

    def attach(self, complaint_id: str, rng: random.Random, content: tuple[bytes, str] | None = None) -> str:
        """Register a fresh, unused media URL for ``complaint_id`` and return it."""
        url = new_media_url(rng)
        while url in self._complaint_of:
            url = new_media_url(rng)
        self.register(url, complaint_id, content)
        return url

    def known(self, url: str) -> bool:
        """True for a URL already in use."""
        return url in self._complaint_of

    def complaint_of(self, url: str) -> str | None:
        """The complaint a media URL belongs to."""
        return self._complaint_of.get(url)

    def content(self, url: str) -> tuple[bytes, str]:
        """Bytes and suffix (``png``/``jpg``/``bmp``) of a registered URL."""
        return self._content.get(url) or (png_for(url), "png")

    def add_upload(self, upload: Upload) -> None:
        """Keep an uploaded image."""
        self._uploads[upload.file_id] = upload

    def upload(self, file_id: int, owner: str | None = None) -> Upload | None:
        """The upload with that id (only if ``owner`` uploaded it, when given)."""
        found = self._uploads.get(file_id)
        return found if found is not None and (owner is None or found.owner == owner) else None

    def upload_count(self) -> int:
        """How many files merchants uploaded."""
        return len(self._uploads)
