"""Store evidence by content hash, link upstream URLs to complaints, find what is still to fetch.

The bytes go to a :class:`~complaintdesk.core.media.storage.MediaStorage` (``ctx.media_storage``: a
local directory or an S3-compatible bucket); the ``media_file`` rows go to the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Text, cast, or_, select, update
from sqlalchemy.orm import Session

from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.media.models import MediaFile, MediaLink, MediaUpload
from complaintdesk.core.media.storage import MediaStorage
from complaintdesk.dbutil import execute_insert_ignore
from complaintdesk.errors import ActionRefused, NotFound

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"BM", "image/bmp"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
#: The largest file the archive accepts from an operator (channels apply their own, smaller limits).
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
#: What operators may upload as evidence (the types every channel accepts).
UPLOAD_TYPES = ("image/jpeg", "image/png", "image/bmp")
#: Give up on an upstream image after this many failed downloads (its link expires within an hour anyway).
MAX_DOWNLOAD_ATTEMPTS = 6


@dataclass(frozen=True)
class StoredFile:
    """What the archive knows about one file."""

    sha256: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Uploader:
    """Who uploads a file and the merchant accounts it may then be used for in actions."""

    by: str
    all_accounts: bool
    account_ids: frozenset[int]

    @classmethod
    def for_complaint(cls, by: str, complaint: Complaint) -> Uploader:
        """An upload meant for one complaint: usable in that complaint's merchant account only."""
        return cls(by, False, frozenset({complaint.merchant_account_id}))


def sniff_image(data: bytes) -> str | None:
    """The image type told by the file's first bytes (never by its name), or None."""
    for magic, content_type in _SIGNATURES:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def store_bytes(*, session: Session, storage: MediaStorage, data: bytes, content_type: str) -> StoredFile:
    """Write the bytes to storage, then record them; storing the same bytes again is a no-op.

    The object is written before the ``media_file`` row is even flushed, so a committed row never
    points at a missing object. A crash in between leaves an object no row names: harmless, since it
    is content-addressed (the next store of the same bytes finds it and only adds the row).
    """
    sha256 = hashlib.sha256(data).hexdigest()
    storage.put(sha256, data, content_type)
    execute_insert_ignore(
        session,
        MediaFile.__table__,  # type: ignore[arg-type]
        ("sha256",),
        [{"sha256": sha256, "content_type": content_type, "size": len(data)}],
    )
    return StoredFile(sha256, content_type, len(data))


def store_upload(*, session: Session, storage: MediaStorage, data: bytes, uploader: Uploader) -> StoredFile:
    """Accept an operator's image: a real image by content, not empty, not above the archive limit.

    The upload is recorded with ``uploader``'s accounts: an action may use the image only on a
    complaint of those accounts (or one whose own evidence it is, see :func:`usable_for`).
    """
    if not data:
        raise ActionRefused("the file is empty", field="file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ActionRefused(
            f"the file is {len(data) / 2**20:.1f} MB; at most {MAX_UPLOAD_BYTES // 2**20} MB is accepted",
            field="file",
        )
    content_type = sniff_image(data)
    if content_type not in UPLOAD_TYPES:
        found = f"a {content_type.split('/')[1].upper()} image" if content_type else "not an image"
        raise ActionRefused(f"the file is {found}; JPG, PNG or BMP expected", field="file")
    stored = store_bytes(session=session, storage=storage, data=data, content_type=content_type)
    record_upload(session=session, sha256=stored.sha256, uploader=uploader)
    return stored


def record_upload(*, session: Session, sha256: str, uploader: Uploader) -> None:
    """Remember who uploaded a file for which accounts (once per uploader and accounts)."""
    ids = sorted(uploader.account_ids)
    known = session.scalars(
        select(MediaUpload).where(MediaUpload.sha256 == sha256, MediaUpload.uploaded_by == uploader.by[:128])
    )
    if any(row.all_accounts == uploader.all_accounts and sorted(row.account_ids) == ids for row in known):
        return
    session.add(
        MediaUpload(
            sha256=sha256, uploaded_by=uploader.by[:128], all_accounts=uploader.all_accounts, account_ids=ids
        )
    )
    session.flush()


def usable_for(*, session: Session, sha256: str, complaint: Complaint) -> bool:
    """Whether an action on ``complaint`` may carry this image.

    Yes when it is evidence of a complaint of the same merchant account, or when it was uploaded by
    a caller whose scope covers the complaint's account. Any other image, whether archived for
    another merchant or not archived at all, is refused alike (no existence oracle).
    """
    evidence = session.scalar(
        select(MediaLink.id)
        .join(Complaint, Complaint.id == MediaLink.complaint_id)
        .where(MediaLink.sha256 == sha256, Complaint.merchant_account_id == complaint.merchant_account_id)
        .limit(1)
    )
    if evidence is not None:
        return True
    accounts = {complaint.account_id, complaint.merchant_account_id}
    uploads = session.execute(
        select(MediaUpload.all_accounts, MediaUpload.account_ids).where(MediaUpload.sha256 == sha256)
    )
    return any(everything or accounts & set(ids) for everything, ids in uploads)


def get_file(*, session: Session, sha256: str) -> MediaFile:
    """A stored file's record, or NotFound."""
    record = session.get(MediaFile, sha256)
    if record is None:
        raise NotFound("no such image in the archive")
    return record


def read_bytes(storage: MediaStorage, sha256: str) -> bytes:
    """The bytes of a stored file (``MediaMissing`` when storage has no such object)."""
    return storage.get(sha256)


def register_links(*, session: Session, complaint_id: int, urls: list[str]) -> None:
    """Remember upstream image URLs of a complaint so the archiver fetches each once."""
    rows = [
        {"complaint_id": complaint_id, "url": url[:1024], "attempts": 0, "last_error": ""}
        for url in dict.fromkeys(urls)
    ]
    if rows:
        execute_insert_ignore(session, MediaLink.__table__, ("complaint_id", "url"), rows)  # type: ignore[arg-type]


def due_links(*, session: Session, now: datetime, limit: int = 20) -> list[MediaLink]:
    """Links not archived yet whose next attempt is due."""
    return list(
        session.scalars(
            select(MediaLink)
            .where(
                MediaLink.sha256.is_(None),
                MediaLink.attempts < MAX_DOWNLOAD_ATTEMPTS,
                or_(MediaLink.next_attempt_at.is_(None), MediaLink.next_attempt_at <= now),
            )
            .order_by(MediaLink.id)
            .limit(limit)
        )
    )


def mark_archived(*, session: Session, link_id: int, sha256: str) -> None:
    """Point a link at its stored file."""
    session.execute(update(MediaLink).where(MediaLink.id == link_id).values(sha256=sha256, last_error=""))


def mark_failed(*, session: Session, link_id: int, now: datetime, error: str) -> None:
    """Record a failed download; retry with backoff."""
    link = session.get(MediaLink, link_id)
    if link is None:
        return
    link.attempts += 1
    link.last_error = error[:500]
    link.next_attempt_at = now + timedelta(seconds=30 * 2**link.attempts)


def links_for(*, session: Session, complaint_id: int) -> list[MediaLink]:
    """Every image link of a complaint (archived or not)."""
    return list(
        session.scalars(
            select(MediaLink).where(MediaLink.complaint_id == complaint_id).order_by(MediaLink.id)
        )
    )


def visible(*, session: Session, sha256: str, complaint_filter: ColumnElement[bool] | None) -> bool:
    """Whether an archived file belongs to a complaint the caller may see (evidence, or used in an action).

    ``complaint_filter`` is the caller's scope as a condition on ``Complaint``; None means every account.
    """
    if complaint_filter is None:
        return True
    from complaintdesk.core.outbox.models import OutboundAction

    linked = session.scalar(
        select(MediaLink.id)
        .join(Complaint, Complaint.id == MediaLink.complaint_id)
        .where(MediaLink.sha256 == sha256, complaint_filter)
        .limit(1)
    )
    if linked is not None:
        return True
    used = session.scalar(
        select(OutboundAction.id)
        .join(Complaint, Complaint.id == OutboundAction.complaint_id)
        .where(complaint_filter, cast(OutboundAction.image_refs, Text).contains(sha256))
        .limit(1)
    )
    return used is not None
