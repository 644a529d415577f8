from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from consolekit import T0, account, cheap_hashing, complaint, principal, sessions_for, user

from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.templates import render
from complaintdesk.core.templates import service as template_service
from complaintdesk.db import unit_of_work
from complaintdesk.errors import ActionRefused, AlreadyExists, Forbidden, NotFound


@pytest.fixture(autouse=True)
def _fast_hashes() -> Iterator[None]:
    with cheap_hashing():
        yield


def _complaint(**over: object) -> Complaint:
    fields: dict[str, object] = {
        "channel": "wechatpay",
        "external_id": "200201820261101080076610000",
        "status": "open",
        "orders": [
            {
                "transaction_id": "4200000000000000000000000001",
                "out_trade_no": "T20261101-7",
                "amount_fen": 1990,
            }
        ],
        "amount_fen": 1990,
        "problem_description": "没收到货",
        "problem_type": "REFUND",
        "deadline_at": None,
        "sla_due_at": T0 + timedelta(hours=24),
    }
    fields.update(over)
    return Complaint(**fields)


MERCHANT = MerchantAccount(name="shop-a", display_name="甲商店")
NOW = T0 + timedelta(hours=17)  # 2026-11-03 01:00 in Shanghai


def test_every_variable_renders_for_the_customer() -> None:
    body = (
        "{{ merchant_name }}：订单 {{ order_no }}（{{ amount_yuan }} 元），投诉单 {{ complaint_id }}，"
        "问题“{{ problem }}”，请于 {{ deadline }} 前处理。{{ today }}"
    )
    assert render.render(body, _complaint(), MERCHANT, now=NOW) == (
        "甲商店：订单 T20261101-7（19.90 元），投诉单 200201820261101080076610000，"
        "问题“没收到货”，请于 2026-11-03 08:00 前处理。2026-11-03"
    )


def test_missing_values_are_empty_and_upstream_deadline_wins() -> None:
    bare = _complaint(orders=[{"transaction_id": "4200000009"}], amount_fen=None, problem_description="")
    assert render.render("[{{ order_no }}|{{ amount_yuan }}|{{ problem }}]", bare, None, now=NOW) == (
        "[4200000009||REFUND]"
    )
    upstream = _complaint(deadline_at=T0 + timedelta(hours=48))
    assert render.render("{{ deadline }}", upstream, MERCHANT, now=NOW) == "2026-11-04 08:00"


def test_filters_and_conditions_are_allowed() -> None:
    body = "{% if amount_yuan %}退款 {{ amount_yuan }} 元{% else %}无金额{% endif %} {{ order_no | lower }}"
    assert render.render(body, _complaint(), MERCHANT, now=NOW) == "退款 19.90 元 t20261101-7"
    assert render.render(body, _complaint(amount_fen=None), MERCHANT, now=NOW) == "无金额 t20261101-7"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{{ complaint.__class__ }}", "attributes"),
        ("{{ x.y }}", "attributes"),
        ("{{ order_no.upper() }}", "attributes"),
        ("{{ order_no[0] }}", "attributes"),
        ("{{ foo }}", "unknown variable 'foo'"),
        ("{{ complaint }}", "unknown variable 'complaint'"),
        ("{% for c in order_no %}{{ c }}{% endfor %}", "not allowed"),
        ("{% set x = 1 %}", "not allowed"),
        ("{{ order_no | attr('__class__') }}", "filter 'attr'"),
        ("{{ cycler }}", "unknown variable"),
        ("{{ 'a' * 100000000 }}", "not allowed"),
        ("{% include 'x' %}", "not allowed"),
        ("{{ order_no", "syntax error"),
    ],
)
def test_unsafe_or_unknown_templates_are_refused_with_a_clear_message(body: str, message: str) -> None:
    with pytest.raises(ActionRefused, match=message) as refused:
        render.validate(body)
    assert refused.value.field == "body"
    with pytest.raises(ActionRefused):  # rendering re-checks, so a stored bad template cannot run
        render.render(body, _complaint(), MERCHANT, now=NOW)


def test_templates_crud_respects_roles_scope_and_channel(db_url: str) -> None:
    sessions = sessions_for(db_url)
    with unit_of_work(sessions) as s:
        shop, other = account(s, "shop"), account(s, "other", channel="miniprogram")
        admin = principal(s, user(s, "root", "admin", all_accounts=True))
        agent = principal(s, user(s, "alice", "agent", accounts=[shop]))
        with pytest.raises(Forbidden):
            template_service.create(session=s, by=agent, name="x", body="hi", now=T0)
        with pytest.raises(ActionRefused, match="unknown variable"):
            template_service.create(session=s, by=admin, name="bad", body="{{ secret }}", now=T0)
        general = template_service.create(
            session=s, by=admin, name="通用", body="您好 {{ order_no }}", now=T0
        )
        wechat = template_service.create(
            session=s, by=admin, name="微信支付", body="wp", channel="wechatpay", now=T0
        )
        other_only = template_service.create(
            session=s, by=admin, name="其他商户", body="o", all_accounts=False, account_ids=[other.id], now=T0
        )
        with pytest.raises(AlreadyExists):
            template_service.create(session=s, by=admin, name="通用", body="again", now=T0)
        mine = complaint(s, shop, orders=[{"out_trade_no": "T1"}])
        assert [t.name for t in template_service.list_for(session=s, by=agent)] == sorted(
            ["通用", "微信支付"]
        )
        usable = template_service.list_for(session=s, by=agent, complaint=mine)
        assert {t.id for t in usable} == {general.id, wechat.id}
        with pytest.raises(NotFound):
            template_service.get(session=s, by=agent, template_id=other_only.id)
        assert (
            template_service.render_for(session=s, by=agent, template_id=general.id, complaint=mine, now=T0)
            == "您好 T1"
        )
        updated = template_service.update(
            session=s, by=admin, template_id=wechat.id, body="{{ today }}", now=T0 + timedelta(days=1)
        )
        assert updated.updated_at == T0 + timedelta(days=1) and updated.channel == "wechatpay"
        template_service.delete(session=s, by=admin, template_id=wechat.id, now=T0)
        assert [t.name for t in template_service.list_for(session=s, by=admin)] == sorted(
            ["通用", "其他商户"]
        )
