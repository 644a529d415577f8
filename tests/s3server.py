"""A real S3-compatible server for tests: moto's server mode on loopback, with signatures checked.

The server runs in a thread of the test process on 127.0.0.1 and a free port; our code talks to it
through boto3 over HTTP, exactly as it would talk to MinIO. Authentication is switched on once an IAM
user with S3 rights exists, so a wrong secret key is refused with ``SignatureDoesNotMatch``.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
from moto.server import ThreadedMotoServer
from mypy_boto3_s3 import S3Client
from pydantic import SecretStr

from complaintdesk.settings import MediaSettings

_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


@dataclass
class MotoS3:
    """A running server and the credentials of a user allowed to use S3 there."""

    server: ThreadedMotoServer
    endpoint: str
    access_key_id: str
    secret_access_key: str
    secrets_dir: Path

    @functools.cached_property
    def admin(self) -> S3Client:
        """A plain boto3 client: the tests' own view of the buckets (clients are thread-safe)."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def new_bucket(self) -> str:
        """Create an empty bucket with a fresh name."""
        name = f"evidence-{uuid.uuid4().hex[:12]}"
        self.admin.create_bucket(Bucket=name)
        return name

    def settings(self, bucket: str, **overrides: Any) -> MediaSettings:
        """``[media]`` settings for the bucket, with the credentials as ``file:`` references."""
        values: dict[str, Any] = {
            "storage": "s3",
            "s3_bucket": bucket,
            "s3_endpoint_url": self.endpoint,
            "s3_region": "us-east-1",
            "s3_addressing_style": "path",
            "s3_access_key_id_ref": SecretStr(f"file:{self.secrets_dir / 'access_key_id'}"),
            "s3_secret_access_key_ref": SecretStr(f"file:{self.secrets_dir / 'secret_access_key'}"),
            "s3_max_attempts": 2,
            **overrides,
        }
        return MediaSettings(**values)

    def keys(self, bucket: str) -> list[str]:
        """Every object key in a bucket."""
        pages = self.admin.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def start_moto_s3(secrets_dir: Path) -> MotoS3:
    """Start the server, create an S3 user, then require signed requests from everyone."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    bootstrap = {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap"}
    iam = boto3.session.Session().client("iam", endpoint_url=endpoint, region_name="us-east-1", **bootstrap)
    iam.create_user(UserName="complaintdesk")
    iam.put_user_policy(UserName="complaintdesk", PolicyName="s3", PolicyDocument=json.dumps(_POLICY))
    key = iam.create_access_key(UserName="complaintdesk")["AccessKey"]
    httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
    secrets_dir.mkdir(parents=True, exist_ok=True)
    (secrets_dir / "access_key_id").write_text(key["AccessKeyId"] + "\n")
    (secrets_dir / "secret_access_key").write_text(key["SecretAccessKey"] + "\n")
    return MotoS3(server, endpoint, key["AccessKeyId"], key["SecretAccessKey"], secrets_dir)
