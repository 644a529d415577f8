"""``complaintdesk doctor`` proves the evidence store is reachable and writable."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.s3server import MotoS3
from typer.testing import CliRunner

from complaintdesk.cli.main import app


def configure(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, media: str) -> None:
    key_file = tmp_path / "data_key"
    key_file.write_text("d" * 48, encoding="utf-8")
    config = tmp_path / "complaintdesk.toml"
    config.write_text(
        f'database_url = "{db_url}"\ndata_key_file = "{key_file}"\ndata_dir = "{tmp_path}"\n'
        f"\n[media]\n{media}",
        encoding="utf-8",
    )
    monkeypatch.setenv("COMPLAINTDESK_CONFIG", str(config))
    monkeypatch.setenv("COLUMNS", "240")


def s3_section(s3: MotoS3, bucket: str, secret_file: Path) -> str:
    return (
        f'storage = "s3"\ns3_bucket = "{bucket}"\ns3_endpoint_url = "{s3.endpoint}"\n'
        's3_addressing_style = "path"\ns3_prefix = "desk/"\ns3_max_attempts = 1\n'
        f's3_access_key_id_ref = "file:{s3.secrets_dir / "access_key_id"}"\n'
        f's3_secret_access_key_ref = "file:{secret_file}"\n'
    )


def test_doctor_checks_the_local_directory(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(tmp_path, db_url, monkeypatch, 'storage = "local"\n')
    result = CliRunner().invoke(app, ["doctor", "--offline"])
    assert result.exit_code == 0, result.output
    assert f"ok   storage: evidence store reachable and writable: local directory {tmp_path / 'media'}" in (
        result.output
    )
    assert list((tmp_path / "media").iterdir()) == []  # the probe was removed


def test_doctor_checks_the_bucket_and_fails_on_a_wrong_secret(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, s3: MotoS3
) -> None:
    bucket = s3.new_bucket()
    configure(tmp_path, db_url, monkeypatch, s3_section(s3, bucket, s3.secrets_dir / "secret_access_key"))
    result = CliRunner().invoke(app, ["doctor", "--offline"])
    assert result.exit_code == 0, result.output
    assert f"storage: evidence store reachable and writable: S3 bucket '{bucket}'" in result.output
    assert s3.keys(bucket) == []  # the probe was deleted

    wrong = tmp_path / "wrong_secret"
    wrong.write_text("not-the-secret-" + s3.secret_access_key[:8], encoding="utf-8")
    configure(tmp_path, db_url, monkeypatch, s3_section(s3, bucket, wrong))
    result = CliRunner().invoke(app, ["doctor", "--offline"])
    assert result.exit_code == 1
    assert "FAIL storage: evidence store reachable and writable" in result.output
    assert "refused the credentials" in result.output
    assert wrong.read_text() not in result.output and s3.secret_access_key not in result.output
