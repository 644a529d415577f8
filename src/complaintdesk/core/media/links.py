"""Evidence links to download: register them with their jobs, claim one, record the outcome.

Each link is fetched once: a download claims the link (its ``fence`` goes up and a lease starts),
confirms the claim right before the request leaves, and records the file only while the fence is
still its own. A worker paused past its lease finds the fence moved on and neither fetches nor records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from complaintdesk.core.media.models import MediaLink
from complaintdesk.core.media.service import MAX_DOWNLOAD_ATTEMPTS, register_links
from complaintdesk.jobs import queue


@dataclass(frozen=True)
class LinkClaim:
    """A downloader's hold on one link."""

    link_id: int
    fence: int
    url: str
    complaint_id: int


def register(*, session: Session, complaint_id: int, urls: list[str], signed: bool = False) -> None:
    """Remember a complaint's image URLs and defer a download for each one not archived yet.

    ``signed``: the URLs' queries are signatures that change per read, so an image is known by its
    path; a pending link gets the fresh URL (its old signature may have expired), an archived one
    needs nothing, and no second link is added for the same image.
    """
    if signed:
        urls = _refresh_signed(session, complaint_id, urls)
    register_links(session=session, complaint_id=complaint_id, urls=urls)
    if urls and queue.uses_procrastinate(session):
        session.flush()
        waiting = session.scalars(
            select(MediaLink.id).where(
                MediaLink.complaint_id == complaint_id,
                MediaLink.url.in_([u[:1024] for u in urls]),
                MediaLink.sha256.is_(None),
                MediaLink.attempts < MAX_DOWNLOAD_ATTEMPTS,
                MediaLink.lease_until.is_(None),
            )
        )
        queue.defer(session, *(queue.archive_link(link_id) for link_id in waiting))


def image_key(url: str) -> str:
    """What names an image behind a signed URL: the URL without its query (the signature)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


_without_query = image_key


def _refresh_signed(session: Session, complaint_id: int, urls: list[str]) -> list[str]:
    """Update the known links of these images to their fresh URLs; return the URLs of new images."""
    known = {
        _without_query(link.url): link
        for link in session.scalars(select(MediaLink).where(MediaLink.complaint_id == complaint_id))
    }
    new: list[str] = []
    for url in dict.fromkeys(urls):
        link = known.get(_without_query(url))
        if link is None:
            new.append(url)
        elif link.sha256 is None and link.url != url[:1024]:
            link.url = url[:1024]
    return new


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        MediaLink.sha256.is_(None),
        MediaLink.attempts < MAX_DOWNLOAD_ATTEMPTS,
        or_(MediaLink.next_attempt_at.is_(None), MediaLink.next_attempt_at <= now),
        or_(MediaLink.lease_until.is_(None), MediaLink.lease_until < now),
    ]


def due_ids(*, session: Session, now: datetime, limit: int = 20) -> list[int]:
    """Links to download now (not archived, attempts left, due, not held by a live downloader)."""
    return list(session.scalars(select(MediaLink.id).where(*_due(now)).order_by(MediaLink.id).limit(limit)))


def claim(*, session: Session, link_id: int, now: datetime, lease: timedelta) -> LinkClaim | None:
    """Claim a link for download if it is due; None when archived, not due, or held by another."""
    link = session.scalar(select(MediaLink).where(MediaLink.id == link_id, *_due(now)))
    if link is None:
        return None
    result = session.execute(
        update(MediaLink)
        .where(MediaLink.id == link.id, MediaLink.fence == link.fence, MediaLink.sha256.is_(None))
        .values(fence=link.fence + 1, lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return LinkClaim(link.id, link.fence + 1, link.url, link.complaint_id)


def confirm(*, session: Session, claim: LinkClaim, now: datetime, lease: timedelta) -> bool:
    """The fetch gate: renew the lease right before the download; False when another took over."""
    result = session.execute(
        update(MediaLink)
        .where(MediaLink.id == claim.link_id, MediaLink.fence == claim.fence, MediaLink.sha256.is_(None))
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def holds(*, session: Session, claim: LinkClaim) -> bool:
    """Whether the claim is still the link's (checked, with a row lock, before recording the outcome)."""
    link = session.get(MediaLink, claim.link_id, with_for_update=True)
    return link is not None and link.fence == claim.fence and link.sha256 is None


def archived(*, session: Session, claim: LinkClaim, sha256: str) -> None:
    """Point the link at its stored file and release the claim."""
    session.execute(
        update(MediaLink)
        .where(MediaLink.id == claim.link_id)
        .values(sha256=sha256, last_error="", lease_until=None)
        .execution_options(synchronize_session=False)
    )


def failed(*, session: Session, claim: LinkClaim, now: datetime, error: str) -> None:
    """Record a failed download, release the claim and defer the retry (with backoff)."""
    link = session.get(MediaLink, claim.link_id)
    if link is None:
        return
    link.attempts += 1
    link.last_error = error[:500]
    link.lease_until = None
    link.next_attempt_at = now + timedelta(seconds=30 * 2**link.attempts)
    if link.attempts < MAX_DOWNLOAD_ATTEMPTS:
        queue.defer(session, queue.archive_link(link.id, at=link.next_attempt_at))
