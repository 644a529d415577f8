"""Inbox rows for the writer's tests: an account to hang them on and a row as the webhook builds it."""

from __future__ import annotations

from datetime import UTC, datetime

from complaintdesk.channels.base import OpenedNotification
from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.inbox import service as inbox_service
from complaintdesk.db import make_engine, make_session_factory, unit_of_work


def account(url: str) -> int:
    engine = make_engine(url, pool_size=0)
    with unit_of_work(make_session_factory(engine)) as s:
        account_id = account_service.create(
            session=s, name="shop", channel="wechatpay", mchid="1900000001"
        ).id
    engine.dispose()
    return account_id


def row(account_id: int, key: str) -> dict[str, object]:
    opened = OpenedNotification(
        dedupe_key=key,
        event_type="COMPLAINT.CREATE",
        external_id="2001",
        action="CREATE_COMPLAINT",
        payload={},
    )
    return inbox_service.build_row(
        channel="wechatpay",
        account_id=account_id,
        opened=opened,
        raw_body=b"{}",
        received_at=datetime.now(UTC),
    )
