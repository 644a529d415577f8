from __future__ import annotations

import logging

import pytest

from complaintdesk import logs
from complaintdesk.errors import ConfigError
from complaintdesk.security import DataCipher, mask_phone, redact, resolve_secret
from complaintdesk.settings import Settings


def test_phone_round_trips_and_ciphertext_is_randomised() -> None:
    cipher = DataCipher(b"k" * 40)
    a, b = cipher.encrypt("13800138000"), cipher.encrypt("13800138000")
    assert a != b and "13800138000" not in a
    assert cipher.decrypt(a) == "13800138000"


def test_wrong_data_key_is_a_clear_config_error() -> None:
    token = DataCipher(b"a" * 40).encrypt("13800138000")
    with pytest.raises(ConfigError, match="data_key"):
        DataCipher(b"b" * 40).decrypt(token)


def test_masking() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("12") == "****"
    assert mask_phone(None) is None
    assert redact("call 13800138000 now") == "call 138****8000 now"
    assert redact('{"mobile":"19912345678","tel":"电话15011112222"}') == (
        '{"mobile":"199****5678","tel":"电话150****2222"}'
    )


def test_signatures_and_ids_are_not_taken_for_phone_numbers() -> None:
    """A signed envelope is stored masked: hex, base64 and longer digit runs must come through unchanged."""
    for text in ("sign=ed6525a12886542479dd4f0", "sign=ab13912345678cd", "id=413800138000", "12345678901"):
        assert redact(text) == text


def test_log_lines_mask_phone_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        logs.configure("INFO")
        logging.getLogger("t").info("user %s wrote", "13912345678")
        err = capsys.readouterr().err
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    assert "13912345678" not in err and "139****5678" in err


def test_secret_references(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "k.txt"
    secret.write_bytes(b"s3cret")
    monkeypatch.setenv("CD_TEST_SECRET", "from-env")
    assert resolve_secret(f"file:{secret}") == b"s3cret"
    assert resolve_secret(str(secret)) == b"s3cret"
    assert resolve_secret("env:CD_TEST_SECRET") == b"from-env"
    with pytest.raises(ConfigError, match="CD_TEST_MISSING"):
        resolve_secret("env:CD_TEST_MISSING")
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_secret(f"file:{tmp_path / 'missing'}")


def test_settings_refuse_weak_or_missing_data_key() -> None:
    with pytest.raises(ConfigError):
        Settings(data_key=None).data_key_bytes()
    with pytest.raises(ConfigError):
        Settings(data_key="short").data_key_bytes()
    assert len(Settings(data_key="x" * 31 + "y").data_key_bytes()) == 32


def test_settings_from_env_and_toml(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "cd.toml"
    config.write_text("port = 9100\n[wechatpay]\nlist_per_minute = 120\n", encoding="utf-8")
    monkeypatch.setenv("COMPLAINTDESK_CONFIG", str(config))
    monkeypatch.setenv("COMPLAINTDESK_WECHATPAY__HISTORY_PER_MINUTE", "90")
    monkeypatch.setenv("COMPLAINTDESK_DATABASE_URL", "postgres://u@h/db")
    s = Settings()
    assert s.port == 9100
    assert s.wechatpay.list_per_minute == 120
    assert s.wechatpay.history_per_minute == 90
    assert s.database_url == "postgresql+psycopg://u@h/db"
    assert "secret-value" not in repr(Settings(data_key="secret-value-" * 3))
