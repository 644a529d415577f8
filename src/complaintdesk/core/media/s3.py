"""Evidence in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Aliyun OSS, Tencent COS, …) via boto3.

Keys follow the local layout under an optional prefix, ``<prefix>aa/bb/<sha256>``, so an existing
``data_dir/media`` directory can be copied into the bucket as it is. A single ``PutObject`` is atomic:
readers see the whole object or a 404, never part of it.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    ResponseStreamingError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from pydantic import SecretStr

from complaintdesk.core.media.storage import checked_name, probe_name
from complaintdesk.errors import ConfigError, MediaMissing, StorageError
from complaintdesk.security import resolve_secret

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from complaintdesk.settings import MediaSettings

#: Error codes that mean "these credentials may not do this" (S3 and its look-alikes).
_REFUSED = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "AuthorizationHeaderMalformed",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidSecurity",
        "InvalidToken",
        "SignatureDoesNotMatch",
    }
)
_RETRYABLE = frozenset({"SlowDown", "RequestTimeout", "ServiceUnavailable", "InternalError", "Throttling"})


def _credential(ref: SecretStr | None, setting: str) -> str | None:
    """Resolve an ``env:``/``file:`` reference; refuse anything else without echoing it."""
    value = ref.get_secret_value().strip() if ref is not None else ""
    if not value:
        return None
    if not value.startswith(("env:", "file:")):
        raise ConfigError(
            f"media.{setting} must be a reference (env:NAME or file:/path), not the credential itself"
        )
    return resolve_secret(value).decode("utf-8").strip()


class S3Storage:
    """Objects in one bucket under one key prefix; the boto3 client is thread-safe and built once."""

    def __init__(self, client: S3Client, *, bucket: str, prefix: str = "", endpoint: str = "") -> None:
        if not bucket:
            raise ConfigError("media.s3_bucket must be set when media.storage is s3")
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint = endpoint

    @classmethod
    def from_settings(cls, media: MediaSettings) -> S3Storage:
        """Build the client from ``[media]`` settings (credentials read from their references now)."""
        key_id = _credential(media.s3_access_key_id_ref, "s3_access_key_id_ref")
        secret = _credential(media.s3_secret_access_key_ref, "s3_secret_access_key_ref")
        if (key_id is None) != (secret is None):
            raise ConfigError(
                "set both media.s3_access_key_id_ref and media.s3_secret_access_key_ref, or neither "
                "(then boto3's own chain is used: AWS_* variables, instance role)"
            )
        config = Config(
            s3={"addressing_style": media.s3_addressing_style},
            retries={"max_attempts": max(1, media.s3_max_attempts), "mode": "standard"},
            connect_timeout=media.s3_connect_timeout,
            read_timeout=media.s3_read_timeout,
            # Many S3 look-alikes reject the CRC checksum headers boto3 sends by default; we send Content-MD5.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=media.s3_endpoint_url or None,
            region_name=media.s3_region or None,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=config,
        )
        return cls(client, bucket=media.s3_bucket, prefix=media.s3_prefix, endpoint=media.s3_endpoint_url)

    def key(self, sha256: str) -> str:
        """The object key of a SHA-256."""
        name = checked_name(sha256)
        return f"{self.prefix}{name[:2]}/{name[2:4]}/{name}"

    def put(self, sha256: str, data: bytes, content_type: str) -> None:
        """Upload unless present (never overwrites; the store checks the bytes against Content-MD5)."""
        key = self.key(checked_name(sha256, data))
        if self._head(key, "look up an image"):
            return
        self._put(key, data, content_type, "store an image")

    def get(self, sha256: str) -> bytes:
        """Download an object."""
        key = self.key(sha256)
        try:
            return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if _code(exc) in {"NoSuchKey", "404"}:
                raise MediaMissing(f"image {sha256[:12]}… is missing from {self.describe()}") from exc
            raise self._error(exc, "read an image") from exc
        except BotoCoreError as exc:
            raise self._error(exc, "read an image") from exc

    def exists(self, sha256: str) -> bool:
        """Whether the object is in the bucket (a HEAD request)."""
        return self._head(self.key(sha256), "look up an image")

    def check(self) -> str:
        """HEAD the bucket, then put, get back and delete a probe object."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "open the bucket") from exc
        key = self.prefix + probe_name()
        payload = b"complaintdesk probe " + key.encode()
        self._put(key, payload, "text/plain", "write a probe object")
        try:
            echoed = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "read back and delete a probe object") from exc
        if echoed != payload:
            raise StorageError(f"{self.describe()} returned other bytes than written")
        return self.describe()

    def describe(self) -> str:
        """Bucket, endpoint and prefix (no credentials)."""
        where = self.endpoint or "AWS"
        return f"S3 bucket {self.bucket!r} at {where}" + (f" under {self.prefix!r}" if self.prefix else "")

    def _head(self, key: str, action: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise self._error(exc, action) from exc
        except BotoCoreError as exc:
            raise self._error(exc, action) from exc
        return True

    def _put(self, key: str, data: bytes, content_type: str, action: str) -> None:
        md5 = hashlib.md5(data, usedforsecurity=False).digest()
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                ContentMD5=base64.b64encode(md5).decode("ascii"),
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, action) from exc

    def _error(self, exc: ClientError | BotoCoreError, action: str) -> StorageError:
        """Our error for a boto3 failure: the code and status only, never boto3's text (nor a secret)."""
        where = self.describe()
        if isinstance(exc, NoCredentialsError):
            return StorageError(
                f"no credentials for {where}: "
                "set media.s3_access_key_id_ref and media.s3_secret_access_key_ref"
            )
        if isinstance(exc, BotoConnectionError | HTTPClientError | ResponseStreamingError):
            return StorageError(f"cannot reach {where} to {action} ({type(exc).__name__})", retryable=True)
        if isinstance(exc, BotoCoreError):
            return StorageError(f"{where} failed to {action} ({type(exc).__name__})", retryable=True)
        code, status = _code(exc), exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _REFUSED or status in (401, 403):
            return StorageError(
                f"{where} refused the credentials to {action} ({code}): check "
                "media.s3_access_key_id_ref, media.s3_secret_access_key_ref and the bucket's policy"
            )
        if code == "NoSuchBucket" or (status == 404 and action == "open the bucket"):
            return StorageError(f"{where}: the bucket does not exist ({code})")
        retryable = status >= 500 or status == 429 or code in _RETRYABLE
        return StorageError(f"{where} answered {code} (HTTP {status}) to {action}", retryable=retryable)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) or "?"
