"""Tier 1: WeChat message crypto against the spec's test vector and an independent implementation."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaintdesk.channels.miniprogram.crypto import aes_key, check_signature, decrypt, encrypt, signature
from complaintdesk.errors import ConfigError, DecryptFailed, SignatureInvalid

from .wxref import (
    APPID,
    ENCODING_AES_KEY,
    OTHER_ENCODING_AES_KEY,
    ref_decrypt,
    ref_encrypt,
    ref_encrypt_plain,
    ref_key,
    ref_layout,
    ref_pad,
)

KEY = ref_key()


def test_official_url_check_vector() -> None:
    # spec A.6: token AAAAA, timestamp 1714036504, nonce 1514711492
    assert signature("AAAAA", "1714036504", "1514711492") == "f464b24fc39322e44b38aa78f5edd27bd1441696"
    check_signature("f464b24fc39322e44b38aa78f5edd27bd1441696", "1714036504", "AAAAA", "1514711492", what="s")


def test_signature_checks_are_strict() -> None:
    good = "f464b24fc39322e44b38aa78f5edd27bd1441696"
    check_signature(good.upper(), "AAAAA", "1714036504", "1514711492", what="signature")
    with pytest.raises(SignatureInvalid, match="signature does not verify"):
        check_signature(good, "AAAAB", "1714036504", "1514711492", what="signature")
    with pytest.raises(SignatureInvalid, match="missing"):
        check_signature(None, "AAAAA", "1714036504", "1514711492", what="signature")
    with pytest.raises(SignatureInvalid):
        check_signature("签名", "AAAAA", "1714036504", "1514711492", what="signature")


def test_encoding_aes_key_becomes_32_bytes() -> None:
    assert aes_key(ENCODING_AES_KEY) == base64.b64decode(ENCODING_AES_KEY + "=")
    assert len(aes_key(ENCODING_AES_KEY.encode())) == 32
    for bad in ("", ENCODING_AES_KEY[:-1], ENCODING_AES_KEY + "A", ENCODING_AES_KEY[:-1] + "+"):
        with pytest.raises(ConfigError, match="43 letters and digits"):
            aes_key(bad)


def test_message_from_the_independent_implementation_decrypts() -> None:
    message = "<xml><Event><![CDATA[complaint_callback]]></Event><c>投诉</c></xml>".encode()
    assert decrypt(KEY, ref_encrypt(message), appid=APPID) == message


def test_our_encryption_opens_with_the_independent_implementation() -> None:
    message = b'{"Event":"complaint_callback"}'
    opened, appid = ref_decrypt(encrypt(KEY, message, appid=APPID))
    assert (opened, appid) == (message, APPID.encode())


@settings(max_examples=60, deadline=None)
@given(message=st.binary(max_size=300), appid=st.text(alphabet="abcdefwx0123456789", min_size=1, max_size=20))
def test_round_trips_with_the_reference(message: bytes, appid: str) -> None:
    assert decrypt(KEY, ref_encrypt(message, appid=appid), appid=appid) == message
    assert ref_decrypt(encrypt(KEY, message, appid=appid)) == (message, appid.encode())


def test_wrong_encoding_aes_key_is_refused() -> None:
    encrypted = ref_encrypt(b"<xml/>" * 5, encoding_aes_key=OTHER_ENCODING_AES_KEY)
    with pytest.raises(DecryptFailed, match="EncodingAESKey is probably wrong"):
        decrypt(KEY, encrypted, appid=APPID)


def test_message_for_another_appid_is_refused() -> None:
    with pytest.raises(DecryptFailed, match="for appid 'wx0000000000000000', not this account"):
        decrypt(KEY, ref_encrypt(b"<xml/>", appid="wx0000000000000000"), appid=APPID)


@pytest.mark.parametrize(
    "tail",
    [
        bytes([0]) * 32,  # pad byte 0
        bytes([33]) * 32,  # pad byte beyond the 32-byte block
        bytes([7]) * 31 + bytes([8]),  # pad bytes that disagree
    ],
)
def test_bad_padding_is_refused(tail: bytes) -> None:
    body = ref_layout(b"<xml/>")
    body += b"x" * (-len(body) % 32)
    with pytest.raises(DecryptFailed, match="bad padding"):
        decrypt(KEY, ref_encrypt_plain(body + tail), appid=APPID)


def test_sixteen_byte_padding_of_other_libraries_is_also_pkcs7_valid() -> None:
    # a sender padding to 16-byte blocks still produces valid pad bytes 1..16
    plain = ref_pad(ref_layout(b"<xml>ok</xml>"), block=16)
    assert decrypt(KEY, ref_encrypt_plain(plain), appid=APPID) == b"<xml>ok</xml>"


def test_truncated_or_altered_base64_is_refused() -> None:
    encrypted = ref_encrypt(b"<xml>hello</xml>")
    with pytest.raises(DecryptFailed, match="not valid base64"):
        decrypt(KEY, encrypted[:-3], appid=APPID)
    with pytest.raises(DecryptFailed, match="not a whole number of AES blocks"):
        decrypt(KEY, encrypted[:-4], appid=APPID)
    with pytest.raises(DecryptFailed, match="not valid base64"):
        decrypt(KEY, encrypted[:10] + "*" + encrypted[11:], appid=APPID)
    with pytest.raises(DecryptFailed):
        decrypt(KEY, "", appid=APPID)


def test_length_field_beyond_the_data_is_refused() -> None:
    body = b"0123456789abcdef" + (10_000).to_bytes(4, "big") + b"<xml/>" + APPID.encode()
    with pytest.raises(DecryptFailed, match="length field exceeds"):
        decrypt(KEY, ref_encrypt_plain(ref_pad(body)), appid=APPID)
