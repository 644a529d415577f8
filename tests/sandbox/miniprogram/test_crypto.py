"""The simulator's message crypto against the spec's official vector and an independent implementation."""

from __future__ import annotations

import base64
import re

import pytest

from complaintdesk.sandbox.miniprogram import (
    MessageCryptoError,
    decrypt_message,
    encrypt_message,
    generate_app,
    msg_signature,
    new_encoding_aes_key,
    url_signature,
)

from . import wxmsg

APPID = "wx1234567890abcdef"


def test_official_url_signature_vector() -> None:
    # spec A.6: token AAAAA, timestamp 1714036504, nonce 1514711492
    assert url_signature("AAAAA", "1714036504", "1514711492") == "f464b24fc39322e44b38aa78f5edd27bd1441696"


def test_msg_signature_sorts_all_four_values() -> None:
    expected = wxmsg.sha1_sorted("tok", "1714036504", "99", "ENCRYPTED+/=")
    assert msg_signature("tok", "1714036504", "99", "ENCRYPTED+/=") == expected
    assert msg_signature("tok", "1714036504", "99", "other") != expected


@pytest.mark.parametrize("message", [b"", b"x", "<xml>投诉</xml>".encode(), b"a" * 1000])
def test_simulator_ciphertext_opens_with_an_independent_decryptor(message: bytes) -> None:
    key = new_encoding_aes_key()
    sealed = encrypt_message(key, APPID, message)
    opened, appid, _pad = wxmsg.decrypt(key, sealed)
    assert opened == message and appid == APPID
    assert len(base64.b64decode(sealed)) % 32 == 0


def test_padding_is_to_32_bytes_with_a_full_block_when_aligned() -> None:
    key = new_encoding_aes_key()
    message = b"m" * (64 - 16 - 4 - len(APPID))  # random16 + len + msg + appid is exactly 64 bytes
    _opened, _appid, pad = wxmsg.decrypt(key, encrypt_message(key, APPID, message))
    assert pad == 32
    _opened, _appid, pad = wxmsg.decrypt(key, encrypt_message(key, APPID, message + b"xyz"))
    assert pad == 29


def test_independent_ciphertext_opens_with_the_simulator() -> None:
    key = new_encoding_aes_key()
    sealed = wxmsg.encrypt(key, APPID, "投诉单 complaint".encode())
    assert decrypt_message(key, APPID, sealed) == "投诉单 complaint".encode()


def test_wrong_appid_or_key_is_refused() -> None:
    key = new_encoding_aes_key()
    sealed = wxmsg.encrypt(key, APPID, b"hello")
    with pytest.raises(MessageCryptoError, match="appid"):
        decrypt_message(key, "wx0000000000000000", sealed)
    with pytest.raises(MessageCryptoError):
        decrypt_message(new_encoding_aes_key(), APPID, sealed)
    with pytest.raises(MessageCryptoError):
        decrypt_message(key, APPID, "not base64!")
    with pytest.raises(MessageCryptoError):
        encrypt_message("short", APPID, b"x")


def test_fixed_random_prefix_is_deterministic() -> None:
    key = new_encoding_aes_key()
    one = encrypt_message(key, APPID, b"same", random16=b"0123456789abcdef")
    two = encrypt_message(key, APPID, b"same", random16=b"0123456789abcdef")
    assert one == two != encrypt_message(key, APPID, b"same")


def test_generated_credentials_have_wechat_shapes() -> None:
    creds = generate_app()
    assert re.fullmatch(r"wx[0-9a-f]{16}", creds.appid)
    assert re.fullmatch(r"[0-9a-f]{32}", creds.secret)
    assert re.fullmatch(r"[A-Za-z0-9]{32}", creds.token)
    assert re.fullmatch(r"gh_[0-9a-f]{12}", creds.original_id)
    key = creds.encoding_aes_key
    assert re.fullmatch(r"[A-Za-z0-9]{43}", key)
    raw = base64.b64decode(key + "=")
    assert len(raw) == 32 and base64.b64encode(raw).decode().rstrip("=") == key  # canonical encoding
    assert creds.secret not in repr(creds) and key not in repr(creds)
