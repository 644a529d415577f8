"""The evidence-store contract, run against both backends: a local directory and a real S3 server."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr
from tests.s3server import MotoS3

from complaintdesk.core.media.s3 import S3Storage
from complaintdesk.core.media.storage import LocalStorage, MediaStorage, build_storage
from complaintdesk.errors import ConfigError, MediaMissing, NotFound, StorageError
from complaintdesk.settings import Settings


def blob(size: int = 64, seed: bytes = b"") -> tuple[str, bytes]:
    """Random bytes and their SHA-256."""
    data = seed + os.urandom(size)
    return hashlib.sha256(data).hexdigest(), data


class Backend:
    """A store under test plus a way to see what it physically holds."""

    def __init__(self, storage: MediaStorage, raw: Callable[[], list[str]]) -> None:
        self.storage = storage
        self.raw = raw  #: the names actually present, sorted (files or object keys)


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        root = tmp_path / "media"
        return Backend(
            LocalStorage(root),
            lambda: sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()),
        )
    s3: MotoS3 = request.getfixturevalue("s3")
    bucket = s3.new_bucket()
    store = S3Storage.from_settings(s3.settings(bucket, s3_prefix="tenant-a"))
    return Backend(store, lambda: s3.keys(bucket))


def test_put_then_get_and_exists(backend: Backend) -> None:
    sha, data = blob()
    store = backend.storage
    assert not store.exists(sha)
    store.put(sha, data, "image/png")
    assert store.exists(sha)
    assert store.get(sha) == data


def test_layout_and_prefix_are_honoured(backend: Backend) -> None:
    sha, data = blob()
    backend.storage.put(sha, data, "image/png")
    prefix = "tenant-a/" if isinstance(backend.storage, S3Storage) else ""
    assert backend.raw() == [f"{prefix}{sha[:2]}/{sha[2:4]}/{sha}"]


def test_put_is_idempotent(backend: Backend) -> None:
    sha, data = blob()
    backend.storage.put(sha, data, "image/png")
    backend.storage.put(sha, data, "image/png")
    assert len(backend.raw()) == 1  # one object, no temporary leftovers
    assert backend.storage.get(sha) == data


def test_concurrent_puts_of_the_same_object(backend: Backend) -> None:
    sha, data = blob(256 * 1024)
    start = threading.Barrier(8)

    def put() -> None:
        start.wait()
        backend.storage.put(sha, data, "image/jpeg")

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(put) for _ in range(8)]:
            future.result()
    assert len(backend.raw()) == 1
    assert backend.storage.get(sha) == data


def test_a_missing_object_is_our_not_found(backend: Backend) -> None:
    sha, _ = blob()
    with pytest.raises(MediaMissing) as caught:
        backend.storage.get(sha)
    assert isinstance(caught.value, NotFound) and caught.value.http_status == 404
    assert sha[:12] in str(caught.value)


def test_a_large_object_round_trips(backend: Backend) -> None:
    sha, data = blob(5 * 1024 * 1024)
    backend.storage.put(sha, data, "image/bmp")
    assert backend.storage.get(sha) == data


def test_names_must_be_the_hash_of_the_bytes(backend: Backend) -> None:
    sha, data = blob()
    with pytest.raises(ValueError, match="do not hash"):
        backend.storage.put(sha, data + b"!", "image/png")
    with pytest.raises(ValueError, match="SHA-256"):
        backend.storage.get("../../etc/passwd")
    assert backend.raw() == []


def test_check_writes_reads_and_deletes_a_probe(backend: Backend) -> None:
    sha, data = blob()
    backend.storage.put(sha, data, "image/png")
    described = backend.storage.check()
    assert described == backend.storage.describe()
    assert len(backend.raw()) == 1  # the probe is gone, the evidence is not


def test_another_prefix_in_the_same_bucket_sees_nothing(s3: MotoS3) -> None:
    bucket = s3.new_bucket()
    sha, data = blob()
    S3Storage.from_settings(s3.settings(bucket, s3_prefix="a/")).put(sha, data, "image/png")
    other = S3Storage.from_settings(s3.settings(bucket, s3_prefix="b/"))
    assert not other.exists(sha)
    with pytest.raises(MediaMissing):
        other.get(sha)


def test_a_wrong_secret_key_is_a_clear_error_without_the_secret(s3: MotoS3, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    wrong = "wR0ng-" + s3.secret_access_key[6:]
    (tmp_path / "wrong").write_text(wrong)
    store = S3Storage.from_settings(
        s3.settings(bucket, s3_secret_access_key_ref=SecretStr(f"file:{tmp_path / 'wrong'}"))
    )
    sha, data = blob()
    for attempt in (lambda: store.put(sha, data, "image/png"), store.check, lambda: store.get(sha)):
        with pytest.raises(StorageError) as caught:
            attempt()
        message = str(caught.value)
        assert "refused the credentials" in message and bucket in message
        assert not caught.value.retryable
        told = "".join(traceback.format_exception(caught.value))  # the chained boto3 error too
        assert wrong not in told and s3.secret_access_key not in told
    assert "SignatureDoesNotMatch" in message  # a GET answers with the code (a HEAD only with 403)
    assert s3.keys(bucket) == []


def test_an_unknown_access_key_and_a_missing_bucket(s3: MotoS3, tmp_path: Path) -> None:
    (tmp_path / "id").write_text("AKIAUNKNOWN000000000")
    stranger = S3Storage.from_settings(
        s3.settings(s3.new_bucket(), s3_access_key_id_ref=SecretStr(f"file:{tmp_path / 'id'}"))
    )
    with pytest.raises(StorageError, match=r"refused the credentials.*InvalidAccessKeyId"):
        stranger.get(blob()[0])
    nowhere = S3Storage.from_settings(s3.settings("no-such-bucket-here"))
    with pytest.raises(StorageError, match="does not exist"):
        nowhere.check()
    with pytest.raises(StorageError, match="NoSuchBucket"):
        nowhere.get(blob()[0])


def test_an_unreachable_endpoint_is_retryable(s3: MotoS3) -> None:
    with socket.socket() as sock:  # a port nobody listens on any more
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    store = S3Storage.from_settings(s3.settings("b", s3_endpoint_url=endpoint, s3_max_attempts=1))
    with pytest.raises(StorageError, match="cannot reach") as caught:
        store.get(blob()[0])
    assert caught.value.retryable and caught.value.http_status == 503


def test_an_unwritable_directory_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    store = LocalStorage(tmp_path / "file")
    sha, data = blob()
    with pytest.raises(StorageError, match="cannot write"):
        store.put(sha, data, "image/png")
    with pytest.raises(StorageError, match="not writable"):
        store.check()


def test_settings_choose_the_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3: MotoS3) -> None:
    local = build_storage(Settings(data_dir=tmp_path))
    assert isinstance(local, LocalStorage) and local.directory == tmp_path / "media"
    shared = build_storage(Settings(data_dir=tmp_path, media={"local_dir": tmp_path / "nfs"}))
    assert isinstance(shared, LocalStorage) and shared.directory == tmp_path / "nfs"
    bucket = s3.new_bucket()
    monkeypatch.setenv("COMPLAINTDESK_MEDIA__STORAGE", "s3")
    monkeypatch.setenv("COMPLAINTDESK_MEDIA__S3_BUCKET", bucket)
    monkeypatch.setenv("COMPLAINTDESK_MEDIA__S3_ENDPOINT_URL", s3.endpoint)
    monkeypatch.setenv("COMPLAINTDESK_MEDIA__S3_ADDRESSING_STYLE", "path")
    monkeypatch.setenv("COMPLAINTDESK_MEDIA__S3_PREFIX", "desk")
    monkeypatch.setenv("S3_KEY_ID", s3.access_key_id)
    monkeypatch.setenv("S3_SECRET", s3.secret_access_key)
    monkeypatch.setenv("COMPLAINTDESK_MEDIA__S3_ACCESS_KEY_ID_REF", "env:S3_KEY_ID")
    monkeypatch.setenv("COMPLAINTDESK_MEDIA__S3_SECRET_ACCESS_KEY_REF", "env:S3_SECRET")
    settings = Settings(data_dir=tmp_path)
    assert s3.secret_access_key not in repr(settings)
    remote = build_storage(settings)
    assert isinstance(remote, S3Storage)
    sha, data = blob()
    remote.put(sha, data, "image/png")
    assert s3.keys(bucket) == [f"desk/{sha[:2]}/{sha[2:4]}/{sha}"]


def test_credentials_must_be_references(s3: MotoS3) -> None:
    pasted = s3.settings("b", s3_secret_access_key_ref=SecretStr(s3.secret_access_key))
    with pytest.raises(ConfigError) as caught:
        S3Storage.from_settings(pasted)
    assert "reference" in str(caught.value) and s3.secret_access_key not in str(caught.value)
    with pytest.raises(ConfigError, match="both"):
        S3Storage.from_settings(s3.settings("b", s3_access_key_id_ref=None))
    with pytest.raises(ConfigError, match="s3_bucket"):
        S3Storage.from_settings(s3.settings(""))


def test_files_of_the_old_layout_are_still_read(tmp_path: Path) -> None:
    sha, data = blob()
    old = tmp_path / "media" / sha[:2] / sha[2:4] / sha  # written by earlier releases
    old.parent.mkdir(parents=True)
    old.write_bytes(data)
    store = build_storage(Settings(data_dir=tmp_path))
    assert store.exists(sha) and store.get(sha) == data
