"""Where evidence bytes live: a small content-addressed store, on local disk or in an S3-compatible bucket.

Every object is named by the SHA-256 of its bytes, so writing is idempotent and an object never changes
once written. The interface is synchronous on purpose: its callers run inside a unit of work, which
already runs in a worker thread (``AppContext.db``, FastAPI's threadpool for ``def`` routes, the CLI);
an ``async def`` caller wraps the call in ``asyncio.to_thread``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from complaintdesk.errors import MediaMissing, StorageError

if TYPE_CHECKING:
    from complaintdesk.settings import Settings

_SHA256_RE = re.compile(r"[0-9a-f]{64}")
#: Start of the names ``check()`` writes, reads back and deletes (outside the ``aa/bb/`` layout).
PROBE_PREFIX = "complaintdesk-probe-"


def probe_name() -> str:
    """A fresh probe object name (unique, so two doctors on two machines never race)."""
    return f"{PROBE_PREFIX}{uuid.uuid4().hex}"


@runtime_checkable
class MediaStorage(Protocol):
    """A content-addressed object store for evidence images.

    ``put`` is idempotent (the same bytes under the same name) and atomic: a reader sees the whole
    object or none of it. ``get`` raises :class:`~complaintdesk.errors.MediaMissing` for an absent
    object and :class:`~complaintdesk.errors.StorageError` when the store itself fails. Sketch::

        storage = build_storage(settings)
        storage.put(sha256, data, "image/png")
        assert storage.exists(sha256) and storage.get(sha256) == data
    """

    def put(self, sha256: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under its SHA-256 (a no-op when it is there already)."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``."""
        ...

    def exists(self, sha256: str) -> bool:
        """Whether an object is stored under ``sha256``."""
        ...

    def check(self) -> str:
        """Prove the store is reachable and writable (write, read back, delete a probe); describe it."""
        ...

    def describe(self) -> str:
        """Where the store is, for logs and the doctor (never a credential)."""
        ...


def checked_name(sha256: str, data: bytes | None = None) -> str:
    """Refuse a name that is not a lowercase SHA-256 hex digest (or not the digest of ``data``)."""
    if not _SHA256_RE.fullmatch(sha256):
        raise ValueError("an evidence object is named by the lowercase hex SHA-256 of its bytes")
    if data is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("the bytes do not hash to the name they are stored under")
    return sha256


class LocalStorage:
    """Objects as files ``directory/aa/bb/<sha256>``, written to a temporary file and renamed into place.

    Several machines may share it only through a filesystem mounted at the same path on each
    (``os.replace`` is atomic on NFS and SMB within one directory).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, sha256: str) -> Path:
        """Where the bytes of an object live."""
        name = checked_name(sha256)
        return self.directory / name[:2] / name[2:4] / name

    def put(self, sha256: str, data: bytes, content_type: str) -> None:
        """Write once: a temporary file in the same directory, flushed to disk, then renamed."""
        path = self.path(checked_name(sha256, data))
        if path.exists():
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write_atomically(path, data)
        except OSError as exc:
            raise StorageError(
                f"cannot write to the evidence directory {self.directory}: {exc.strerror}", retryable=True
            ) from exc

    def get(self, sha256: str) -> bytes:
        """Read an object's file."""
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise MediaMissing(f"image {sha256[:12]}… is missing from the evidence directory") from exc
        except OSError as exc:
            raise StorageError(
                f"cannot read the evidence directory {self.directory}: {exc.strerror}", retryable=True
            ) from exc

    def exists(self, sha256: str) -> bool:
        """Whether the object's file is there."""
        return self.path(sha256).is_file()

    def check(self) -> str:
        """Write, read back and delete a probe file in the directory."""
        probe = self.directory / probe_name()
        payload = os.urandom(16)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._write_atomically(probe, payload)
            ok = probe.read_bytes() == payload
            probe.unlink()
        except OSError as exc:
            raise StorageError(
                f"the evidence directory {self.directory} is not writable: {exc.strerror}"
            ) from exc
        if not ok:
            raise StorageError(f"the evidence directory {self.directory} returned other bytes than written")
        return self.describe()

    def describe(self) -> str:
        """The directory."""
        return f"local directory {self.directory}"

    @staticmethod
    def _write_atomically(path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:16]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def build_storage(settings: Settings) -> MediaStorage:
    """The store named by ``settings.media`` (``local`` under ``data_dir/media`` unless told otherwise)."""
    media = settings.media
    if media.storage == "s3":
        from complaintdesk.core.media.s3 import S3Storage  # boto3 is imported only when it is used

        return S3Storage.from_settings(media)
    return LocalStorage(media.local_dir or settings.data_dir / "media")
