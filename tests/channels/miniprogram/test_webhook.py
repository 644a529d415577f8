"""Tier 1: the message server on pushes built independently (reference crypto, hand-written documents)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaintdesk.channels.miniprogram.messages import complaint_event, parse_document
from complaintdesk.channels.miniprogram.webhook import MiniProgramWebhookHandler, dedupe_key
from complaintdesk.errors import (
    DecryptFailed,
    MalformedNotification,
    MissingHeaders,
    SignatureInvalid,
    TimestampOutOfWindow,
)

from .samples import EVENT_FIELDS, SEED, SEED_XML, json_event, xml_event, xml_safe_body
from .wxref import APPID, ENCODING_AES_KEY, OTHER_ENCODING_AES_KEY, TOKEN, ref_encrypt, signed_query

NOW = 1714036504.0


def handler(mode: str = "safe", **kwargs: Any) -> MiniProgramWebhookHandler:
    return MiniProgramWebhookHandler(
        appid=APPID,
        token=TOKEN,
        encoding_aes_key=ENCODING_AES_KEY,
        mode=mode,
        **kwargs,  # type: ignore[arg-type]
    )


def post(h: MiniProgramWebhookHandler, body: bytes, query: dict[str, str]) -> Any:
    return h.open("POST", query, {"Content-Type": "text/xml"}, body, NOW)


def safe_post(h: MiniProgramWebhookHandler, inner: bytes, **kwargs: Any) -> Any:
    encrypted = ref_encrypt(inner, **kwargs)
    return post(h, xml_safe_body(encrypted), signed_query(encrypt=encrypted))


# -- URL check --------------------------------------------------------------------------------------------


def test_url_check_echoes_echostr_as_plain_text() -> None:
    query = signed_query(echostr="7351846126453")
    outcome = handler().open("GET", query, {}, b"", NOW)
    assert outcome.notifications == ()
    assert (outcome.reply.status, outcome.reply.body) == (200, b"7351846126453")
    assert outcome.reply.content_type.startswith("text/plain")


def test_url_check_with_the_official_vector() -> None:
    h = MiniProgramWebhookHandler(
        appid=APPID, token="AAAAA", encoding_aes_key=None, mode="plaintext", tolerance=0
    )
    query = {
        "signature": "f464b24fc39322e44b38aa78f5edd27bd1441696",
        "timestamp": "1714036504",
        "nonce": "1514711492",
        "echostr": "hello",
    }
    assert h.open("GET", query, {}, b"", 1.9e9).reply.body == b"hello"


def test_url_check_refuses_a_wrong_signature_or_missing_parameters() -> None:
    query = signed_query(echostr="x", token="other-token")
    with pytest.raises(SignatureInvalid):
        handler().open("GET", query, {}, b"", NOW)
    with pytest.raises(MissingHeaders, match="nonce"):
        handler().open("GET", {"timestamp": "1714036504", "signature": "x", "echostr": "x"}, {}, b"", NOW)
    with pytest.raises(MalformedNotification, match="echostr"):
        handler().open("GET", signed_query(), {}, b"", NOW)


def test_the_url_check_never_depends_on_our_clock() -> None:
    for skew in (-301, 301, 10**6):
        assert handler().open("GET", signed_query(echostr="x"), {}, b"", NOW + skew).reply.body == b"x"


def test_a_push_outside_the_window_is_refused_with_the_window_named() -> None:
    body = xml_event()
    with pytest.raises(TimestampOutOfWindow, match=r"301 s old.*300 s window.*timestamp_tolerance_seconds"):
        handler("plaintext").open("POST", signed_query(), {}, body, NOW + 301)
    with pytest.raises(TimestampOutOfWindow, match="in the future"):
        handler("plaintext").open("POST", signed_query(), {}, body, NOW - 301)
    assert (
        handler("plaintext", tolerance=900).open("POST", signed_query(), {}, body, NOW + 301).reply.status
        == 200
    )
    assert (
        handler("plaintext", tolerance=0).open("POST", signed_query(), {}, body, NOW + 10**6).reply.status
        == 200
    )


# -- safe mode --------------------------------------------------------------------------------------------


def test_safe_mode_xml_event_becomes_one_notification() -> None:
    outcome = safe_post(handler(), xml_event())
    assert outcome.reply.status == 200 and outcome.reply.body == b"success"
    (note,) = outcome.notifications
    assert note.event_type == "complaint_callback"
    assert note.external_id == "1000000123456789"
    assert note.action == "status:201"
    assert note.known
    assert note.occurred_at == datetime.fromtimestamp(1714036504, tz=UTC)
    payload = note.payload
    assert payload["status"] == 201 and payload["type"] == 641 and payload["total_cost"] == 12800
    assert payload["customer_material_media_id_list"] == [
        "https://cdn.example/a.jpg",
        "https://cdn.example/b.jpg",
    ]
    assert "phone_number" not in payload and "13812345678" not in json.dumps(payload)


def test_safe_mode_json_event_opens_too() -> None:
    encrypted = ref_encrypt(json_event())
    body = json.dumps({"ToUserName": "gh_123", "Encrypt": encrypted}).encode()
    (note,) = post(handler(message_format="json"), body, signed_query(encrypt=encrypted)).notifications
    assert note.external_id == "1000000123456789" and note.payload["product_name"] == "连衣裙"


def test_safe_mode_refuses_tampering() -> None:
    encrypted = ref_encrypt(xml_event())
    body = xml_safe_body(encrypted)
    query = signed_query(encrypt=encrypted)
    with pytest.raises(SignatureInvalid, match="msg_signature"):
        post(handler(), body, query | {"msg_signature": "0" * 40})
    with pytest.raises(SignatureInvalid, match="msg_signature"):
        post(handler(), body, {k: v for k, v in query.items() if k != "msg_signature"})
    with pytest.raises(SignatureInvalid, match=r"^signature does not verify"):
        post(handler(), body, query | {"signature": "0" * 40})
    altered = encrypted[:20] + ("A" if encrypted[20] != "A" else "B") + encrypted[21:]
    with pytest.raises(SignatureInvalid):  # the msg_signature covers Encrypt
        post(handler(), xml_safe_body(altered), query)


def test_safe_mode_refuses_wrong_key_or_appid_even_when_signed() -> None:
    with pytest.raises(DecryptFailed, match="EncodingAESKey"):
        safe_post(handler(), xml_event(), encoding_aes_key=OTHER_ENCODING_AES_KEY)
    with pytest.raises(DecryptFailed, match=r"another|not this account"):
        safe_post(handler(), xml_event(), appid="wx9999999999999999")


def test_safe_mode_refuses_a_plaintext_body() -> None:
    with pytest.raises(SignatureInvalid, match="only encrypted"):
        post(handler(), xml_event(), signed_query())


def test_compatible_mode_uses_the_encrypted_copy_and_accepts_plaintext() -> None:
    forged = xml_event(EVENT_FIELDS | {"complaint_order_id": "666"})
    encrypted = ref_encrypt(xml_event())
    body = forged.replace(b"</xml>", f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode())
    (note,) = post(handler("compatible"), body, signed_query(encrypt=encrypted)).notifications
    assert note.external_id == "1000000123456789"  # the plaintext copy is never trusted
    (plain,) = post(handler("compatible"), xml_event(), signed_query()).notifications
    assert plain.external_id == "1000000123456789"


def test_encrypt_type_aes_without_encrypt_is_refused() -> None:
    with pytest.raises(MalformedNotification, match="no Encrypt"):
        post(handler("compatible"), xml_event(), signed_query(encrypt_type="aes"))


# -- plaintext mode and documents -------------------------------------------------------------------------


def plain_handler() -> MiniProgramWebhookHandler:
    return MiniProgramWebhookHandler(appid=APPID, token=TOKEN, encoding_aes_key=None, mode="plaintext")


def test_plaintext_mode_needs_the_signature() -> None:
    with pytest.raises(SignatureInvalid):
        post(plain_handler(), xml_event(), signed_query(token="wrong"))
    encrypted = ref_encrypt(xml_event())
    with pytest.raises(DecryptFailed, match="no EncodingAESKey"):
        post(plain_handler(), xml_safe_body(encrypted), signed_query(encrypt=encrypted))


def test_the_seed_sample_with_its_malformed_tag_is_parsed() -> None:
    if SEED.exists():
        assert SEED_XML in SEED.read_text(encoding="utf-8")
    outcome = post(plain_handler(), SEED_XML.encode(), signed_query())
    (note,) = outcome.notifications
    assert note.external_id == "123"
    assert note.payload["history"] == [
        {"time": 123, "content": "123", "media_id_list": ["123"]},
        {"time": 123, "content": "123", "media_id_list": ["123"]},
    ]
    assert note.payload["customer_material_media_id_list"] == ["123"]
    assert not note.known  # status 123 is not a documented status; the appid differs too: stored, flagged
    assert note.payload["appid_mismatch"] is True


def test_broken_xml_that_repair_cannot_fix_is_refused() -> None:
    with pytest.raises(MalformedNotification, match="well-formed"):
        post(plain_handler(), b"<xml><ToUserName>a</xml>", signed_query())


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b"<xml><MsgType>&lol2;</MsgType></xml>",
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<xml><MsgType>&xxe;</MsgType></xml>",
        b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml><MsgType>event</MsgType></xml>',
        # a DTD in a document that is also malformed must not slip through the repair pass
        b'<!DOCTYPE x [<!ENTITY a "b">]><xml><content>&a;<content></xml>',
    ],
)
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedNotification, match=r"DTD|well-formed"):
        post(plain_handler(), body, signed_query())


def test_dtd_inside_an_encrypted_message_is_refused() -> None:
    inner = b'<!DOCTYPE x [<!ENTITY a "b">]><xml><MsgType>&a;</MsgType></xml>'
    with pytest.raises(MalformedNotification, match="DTD"):
        safe_post(handler(), inner)


def test_json_flat_and_nested_give_the_same_event() -> None:
    flat = post(plain_handler(), json_event(), signed_query()).notifications[0]
    nested = post(plain_handler(), json_event(nested=True), signed_query()).notifications[0]
    assert flat.payload == nested.payload
    assert flat.dedupe_key == nested.dedupe_key


def test_json_history_as_object_or_array_and_numbers_as_strings() -> None:
    entry = {"time": "1714036100", "content": "补充说明", "media_id_list": "https://cdn.example/c.jpg"}
    as_object = json_event(history=entry, status="201", complaint_order_id=1000000123456789)
    as_array = json_event(history=[entry, entry | {"time": 1714036200, "media_id_list": ["u1", "u2"]}])
    first = post(plain_handler(), as_object, signed_query()).notifications[0].payload
    second = post(plain_handler(), as_array, signed_query()).notifications[0].payload
    assert first["status"] == 201 and first["complaint_order_id"] == "1000000123456789"
    assert first["history"] == [
        {"time": 1714036100, "content": "补充说明", "media_id_list": ["https://cdn.example/c.jpg"]}
    ]
    assert second["history"][1] == {"time": 1714036200, "content": "补充说明", "media_id_list": ["u1", "u2"]}


def test_other_events_and_messages_are_acknowledged_and_ignored() -> None:
    other = b"<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>"
    text = b'{"MsgType":"text","Content":"hi"}'
    for body in (other, text):
        outcome = post(plain_handler(), body, signed_query())
        assert outcome.notifications == ()
        assert (outcome.reply.status, outcome.reply.body) == (200, b"success")


def test_complaint_event_without_id_is_stored_flagged() -> None:
    fields = {k: v for k, v in EVENT_FIELDS.items() if k != "complaint_order_id"}
    (note,) = post(plain_handler(), xml_event(fields), signed_query()).notifications
    assert note.external_id is None and not note.known


def test_unknown_status_is_flagged_not_refused() -> None:
    (note,) = post(plain_handler(), json_event(status=999), signed_query()).notifications
    assert note.action == "status:999" and not note.known


def test_dedupe_key_is_stable_and_tells_events_apart() -> None:
    first = post(plain_handler(), xml_event(), signed_query()).notifications[0]
    again = post(plain_handler(), xml_event(), signed_query(nonce="42")).notifications[0]
    moved = post(plain_handler(), xml_event(EVENT_FIELDS | {"status": 203}), signed_query()).notifications[0]
    assert first.dedupe_key == again.dedupe_key
    assert first.dedupe_key != moved.dedupe_key
    assert first.dedupe_key.startswith("1000000123456789:201:1714036504:")
    assert "oSystem" not in first.dedupe_key and len(first.dedupe_key) <= 128
    other_sender = dedupe_key(first.payload | {"FromUserName": "oOther"})
    assert other_sender != first.dedupe_key


def test_garbage_and_other_methods_are_refused() -> None:
    with pytest.raises(MalformedNotification, match="neither"):
        post(plain_handler(), b"hello", signed_query())
    with pytest.raises(MalformedNotification, match="neither"):
        post(plain_handler(), b"[1, 2]", signed_query())
    with pytest.raises(MalformedNotification, match="not valid JSON"):
        post(plain_handler(), b'{"MsgType": ', signed_query())
    with pytest.raises(MalformedNotification, match="method"):
        plain_handler().open("PUT", signed_query(), {}, b"", NOW)


def test_refusal_is_plain_text_4xx_or_5xx() -> None:
    reply = handler().refusal(SignatureInvalid("msg_signature does not verify"))
    assert (reply.status, reply.body) == (401, b"msg_signature does not verify")
    assert reply.content_type.startswith("text/plain")
    assert handler().refusal(MalformedNotification("x")).status == 400
    assert handler().refusal(RuntimeError("db down")).status == 500


def test_construction_refuses_bad_configuration() -> None:
    with pytest.raises(ValueError, match="EncodingAESKey"):
        MiniProgramWebhookHandler(appid=APPID, token=TOKEN, encoding_aes_key=None, mode="safe")
    with pytest.raises(ValueError, match="message_mode"):
        handler(mode="secret")
    with pytest.raises(ValueError, match="message_format"):
        handler(message_format="yaml")


# -- properties -------------------------------------------------------------------------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


_bodies = (
    st.binary(max_size=200)
    | st.text(max_size=120).map(lambda t: ("<" + t).encode())
    | st.text(max_size=120).map(lambda t: ("{" + t).encode())
    | st.text(alphabet="<>/xml!=\"'[]&;CDATA", max_size=80).map(str.encode)
)


@settings(max_examples=300, deadline=None)
@given(body=_bodies)
def test_any_bytes_either_parse_or_are_refused_cleanly(body: bytes) -> None:
    try:
        doc, fmt = parse_document(body)
    except MalformedNotification:
        return
    assert isinstance(doc, dict) and fmt in ("xml", "json")


@settings(max_examples=200, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from([*EVENT_FIELDS, "history", "BussiCallBackInfo", "CreateTime"]), _json
    )
)
def test_any_event_shape_normalises_without_crashing(fields: dict[str, Any]) -> None:
    event = complaint_event(fields | {"MsgType": "event", "Event": "complaint_callback"})
    assert isinstance(event["complaint_order_id"], str)
    assert all(isinstance(entry, dict) for entry in event["history"])
    assert isinstance(event["customer_material_media_id_list"], list)
    assert len(dedupe_key(event)) <= 128
