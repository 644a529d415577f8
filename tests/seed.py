"""Small shared seeds for database tests."""

from __future__ import annotations

from sqlalchemy.orm import Session

from complaintdesk.core.accounts.models import MerchantAccount


def two_accounts(db: Session) -> tuple[int, int]:
    """A WeChat Pay account ``a`` and a Mini Program account ``b`` (flushed); their ids."""
    a = MerchantAccount(name="a", channel="wechatpay", mchid="1")
    b = MerchantAccount(name="b", channel="miniprogram", mchid="2")
    db.add_all([a, b])
    db.flush()
    return a.id, b.id
