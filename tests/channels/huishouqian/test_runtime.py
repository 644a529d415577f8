"""``build_runtime`` from a stored account (PKCS#12 and certificate made here); the public surface."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import complaintdesk.channels.huishouqian as huishouqian
from complaintdesk.channels.base import AccountConfig, ActionKind, ComplaintFacts
from complaintdesk.channels.huishouqian import HuishouqianChannel, HuishouqianWebhook, build_runtime
from complaintdesk.errors import ConfigError
from complaintdesk.ratelimit import SlidingWindowLimiter
from complaintdesk.settings import Settings

from .fakes import FakeGateway, row
from .keys import (
    MERCHANT_NO,
    P12_PASSWORD,
    SIGN_KEY,
    certificate_bytes,
    form_body,
    notification_form,
    pkcs12_bytes,
)

pytestmark = pytest.mark.anyio


def _account(
    *, kind: str = "merchant", options: dict[str, Any] | None = None, **secrets: bytes
) -> AccountConfig:
    values = {
        "private_key_p12": pkcs12_bytes("merchant"),
        "private_key_password": P12_PASSWORD + b"\n",
        "platform_certificate": certificate_bytes("platform", der=True),
        "sign_key": SIGN_KEY.encode() + b"\n",
    } | secrets
    return AccountConfig(
        id=7,
        name="hsq-main",
        channel="huishouqian",
        kind=kind,
        merchant_id=MERCHANT_NO,
        api_base_url="https://test-api.huishouqian.com",
        options=options or {},
        secrets={k: v for k, v in values.items() if v},
    )


def _build(account: AccountConfig, transport: httpx.AsyncBaseTransport | None = None) -> Any:
    return build_runtime(
        account, settings=Settings(), limiter=SlidingWindowLimiter(), transport=transport, time=lambda: 1.0e9
    )


async def test_runtime_talks_to_the_gateway_and_opens_notifications() -> None:
    gateway = FakeGateway([row("C1")])
    runtime = _build(_account(options={"act_type": "3"}), httpx.MockTransport(gateway))
    assert (runtime.account_id, runtime.name, runtime.channel, runtime.can_list) == (
        7,
        "hsq-main",
        "huishouqian",
        True,
    )
    assert isinstance(runtime.adapter, HuishouqianChannel) and isinstance(runtime.webhook, HuishouqianWebhook)
    assert runtime.adapter.act_type == 3 and runtime.adapter.agent is False
    snap = await runtime.adapter.fetch("C1")
    assert snap.external_id == "C1"
    assert runtime.adapter.allowed_actions(ComplaintFacts(raw_status="PENDING")) == {
        ActionKind.REPLY,
        ActionKind.COMPLETE,
    }
    outcome = runtime.webhook.open(
        "POST",
        {},
        {},
        form_body(notification_form({"actionType": "CREATE_COMPLAINT", "complaintId": "C1"})),
        1.0e9,
    )
    assert outcome.notifications[0].known and outcome.reply.body == b"SUCCESS"
    await runtime.adapter.aclose()


async def test_without_the_private_key_notifications_open_and_calls_fail_precisely() -> None:
    gateway, sent = FakeGateway([row("C1")]), list[httpx.Request]()
    transport = httpx.MockTransport(lambda request: sent.append(request) or gateway(request))
    runtime = _build(_account(private_key_p12=b"", private_key_password=b""), transport)
    outcome = runtime.webhook.open(
        "POST", {}, {}, form_body(notification_form({"actionType": "CREATE_COMPLAINT", "complaintId": "C1"})),
        1.0e9,
    )  # fmt: skip
    assert outcome.notifications[0].known
    with pytest.raises(ConfigError, match="private_key_p12 is not set"):
        await runtime.adapter.fetch("C1")
    assert sent == []  # nothing was sent
    await runtime.adapter.aclose()


async def test_options_reach_the_parts() -> None:
    runtime = _build(
        _account(kind="service_provider", options={"notify_reply": "Success", "date_format": "yyyyMMdd"})
    )
    assert runtime.adapter.agent is True and runtime.webhook.agent is True
    assert runtime.webhook.reply_text == "Success"
    assert runtime.adapter.client.date_format == "yyyyMMdd"
    cfca = _build(_account(options={"sign_type": "cfca"}, sign_key=b""))
    assert cfca.adapter.client.credentials.sign_type == "CFCA"


@pytest.mark.parametrize(
    ("account", "needle"),
    [
        (_account(kind="sub_merchant"), "kind"),
        (_account(sign_key=b""), "sign_key"),
        (_account(platform_certificate=b""), "platform_certificate"),
        (_account(private_key_password=b"nope"), "PKCS#12"),
        (_account(options={"sign_type": "MD5"}), "sign_type"),
        (_account(options={"act_type": "reply"}), "act_type"),
        (_account(options={"date_format": "dd/MM/yyyy"}), "date_format"),
        (_account(options={"sign_type": "CFCA", "cfca_chunk_size": 500}), "cfca_chunk_size"),
    ],
)
def test_configuration_errors_fail_fast(account: AccountConfig, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        _build(account)
    assert needle in str(info.value)
    assert "nope" not in str(info.value) and SIGN_KEY not in str(info.value)


def test_all_names_exist_and_are_unique() -> None:
    assert len(huishouqian.__all__) == len(set(huishouqian.__all__))
    for name in huishouqian.__all__:
        assert hasattr(huishouqian, name), name


def test_public_names_are_exported() -> None:
    public = {name for name in vars(huishouqian) if not name.startswith("_")}
    modules = {
        "actions",
        "annotations",
        "cfca",
        "channel",
        "client",
        "envelope",
        "errors",
        "mapping",
        "models",
        "options",
        "runtime",
        "transport",
        "webhook",
    }
    assert public - modules == set(huishouqian.__all__)
