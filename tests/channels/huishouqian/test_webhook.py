"""Tier 1: the sans-IO notification handler on forms signed independently."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from complaintdesk.channels.huishouqian.errors import WrongMerchant
from complaintdesk.channels.huishouqian.webhook import HuishouqianWebhook
from complaintdesk.errors import MalformedNotification, SignatureInvalid, UnsupportedAlgorithm

from .fakes import credentials
from .keys import form_body, notification_form

NOW = 1_709_259_630.0
CONTENT = {"actionType": "USER_RESPONSE", "complaintId": "200210220211228100360913215"}
HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def _handler(
    *, agent: bool = False, reply_text: str = "SUCCESS", dedupe_seconds: int = 60
) -> HuishouqianWebhook:
    return HuishouqianWebhook(
        credentials(), agent=agent, reply_text=reply_text, dedupe_seconds=dedupe_seconds
    )


def test_genuine_notification_is_opened_and_answered_success() -> None:
    outcome = _handler().open("POST", {}, HEADERS, form_body(notification_form(CONTENT)), NOW)
    (opened,) = outcome.notifications
    assert opened.external_id == CONTENT["complaintId"]
    assert opened.action == "USER_RESPONSE"
    assert opened.known is True
    assert opened.event_type == "COMPLAINT_NOTIFY"
    assert opened.payload["complaintId"] == CONTENT["complaintId"]
    assert opened.payload["envelope"]["merchantNo"] == credentials().merchant_no
    assert (outcome.reply.status, outcome.reply.body) == (200, b"SUCCESS")
    assert outcome.reply.content_type.startswith("text/plain")


def test_reply_text_is_configurable() -> None:
    outcome = _handler(reply_text="Success").open("POST", {}, {}, form_body(notification_form(CONTENT)), NOW)
    assert outcome.reply.body == b"Success"


def test_forged_and_tampered_notifications_are_refused() -> None:
    forged = notification_form(CONTENT, signer="attacker")
    with pytest.raises(SignatureInvalid):
        _handler().open("POST", {}, HEADERS, form_body(forged), NOW)
    genuine = notification_form(CONTENT)
    tampered = genuine | {"signContent": genuine["signContent"].replace("USER_RESPONSE", "SELLER_REFUND")}
    with pytest.raises(SignatureInvalid):
        _handler().open("POST", {}, HEADERS, form_body(tampered), NOW)
    unsigned = {k: v for k, v in genuine.items() if k != "sign"}
    with pytest.raises(SignatureInvalid):
        _handler().open("POST", {}, HEADERS, form_body(unsigned), NOW)


def test_wrong_merchant_number_is_refused_unless_agent() -> None:
    other = notification_form(CONTENT, merchant_no="814000000001")
    with pytest.raises(WrongMerchant):
        _handler().open("POST", {}, HEADERS, form_body(other), NOW)
    # an agent account accepts sub-merchant numbers, but only when the platform signed them
    (opened,) = _handler(agent=True).open("POST", {}, HEADERS, form_body(other), NOW).notifications
    assert opened.payload["envelope"]["merchantNo"] == "814000000001"
    with pytest.raises(SignatureInvalid):
        forged = notification_form(CONTENT, merchant_no="814000000001", signer="attacker")
        _handler(agent=True).open("POST", {}, HEADERS, form_body(forged), NOW)


def test_unknown_action_type_is_stored_flagged() -> None:
    content = {"actionType": "SOMETHING_NEW", "complaintId": "1"}
    (opened,) = _handler().open("POST", {}, HEADERS, form_body(notification_form(content)), NOW).notifications
    assert opened.known is False and opened.action == "SOMETHING_NEW" and opened.external_id == "1"
    (opened,) = (
        _handler()
        .open("POST", {}, {}, form_body(notification_form({"actionType": "USER_RESPONSE"})), NOW)
        .notifications
    )
    assert opened.known is False and opened.external_id is None


def test_non_json_sign_content_is_refused() -> None:
    for content in ("actionType=USER_RESPONSE", '["USER_RESPONSE"]', ""):
        with pytest.raises(MalformedNotification):
            _handler().open("POST", {}, HEADERS, form_body(notification_form(content)), NOW)


def test_malformed_calls() -> None:
    body = form_body(notification_form(CONTENT))
    with pytest.raises(MalformedNotification):
        _handler().open("GET", {}, HEADERS, body, NOW)
    with pytest.raises(MalformedNotification):
        _handler().open("POST", {}, HEADERS, b"\xff\xfe", NOW)
    with pytest.raises(MalformedNotification):
        _handler().open("POST", {}, HEADERS, body + b"&sign=00", NOW)
    with pytest.raises(MalformedNotification):
        _handler().open("POST", {}, HEADERS, urlencode({"merchantNo": "814000473149"}).encode(), NOW)
    with pytest.raises(UnsupportedAlgorithm):
        _handler().open(
            "POST", {}, HEADERS, form_body(notification_form(CONTENT) | {"signType": "CFCA"}), NOW
        )


def test_fields_in_the_query_string_are_accepted_when_the_body_is_empty() -> None:
    outcome = _handler().open("POST", notification_form(CONTENT), {}, b"", NOW)
    assert outcome.notifications[0].known


def test_dedupe_identity_is_the_content_and_the_window_is_left_to_the_inbox() -> None:
    body = form_body(notification_form(CONTENT))
    handler = _handler(dedupe_seconds=60)
    first = handler.open("POST", {}, {}, body, 1_709_259_659.0).notifications[0]
    later = handler.open("POST", {}, {}, body, 1_709_259_661.0).notifications[0]  # across a minute
    other = handler.open(
        "POST", {}, {}, form_body(notification_form(CONTENT | {"actionType": "MERCHANT_RESPONSE"})), 1.0
    ).notifications[0]
    assert first.dedupe_key == later.dedupe_key != other.dedupe_key
    assert first.window_seconds == 60 and len(first.dedupe_key) <= 100
    assert _handler(dedupe_seconds=0).open("POST", {}, {}, body, 1.0).notifications[0].window_seconds == 0


def test_the_carrier_of_the_envelope_is_reported() -> None:
    assert _handler().open("POST", notification_form(CONTENT), {}, b"", NOW).envelope_in == "query"
    assert _handler().open("POST", {}, {}, form_body(notification_form(CONTENT)), NOW).envelope_in == "body"


def test_refusal_replies() -> None:
    handler = _handler()
    assert handler.refusal(SignatureInvalid("bad")).status == 401
    assert handler.refusal(MalformedNotification("bad")).status == 400
    assert handler.refusal(WrongMerchant("bad")).status == 400
    failure = handler.refusal(RuntimeError("database down"))
    assert (failure.status, failure.body) == (500, b"FAIL")
    assert handler.refusal(SignatureInvalid("bad")).body == b"FAIL"
