"""Builders shared by the console-core tests (users, audit, SLA, templates, workflow)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session, sessionmaker

from complaintdesk.core.accounts import service as account_service
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.core.complaints.models import Complaint
from complaintdesk.core.users import passwords
from complaintdesk.core.users import service as user_service
from complaintdesk.core.users.models import User
from complaintdesk.core.users.permissions import Principal
from complaintdesk.db import make_engine, make_session_factory
from complaintdesk.security import DataCipher

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
CIPHER = DataCipher(b"k" * 40)
PASSWORD = "correct horse battery"
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_ids = itertools.count(1)


@contextmanager
def cheap_hashing() -> Iterator[None]:
    """Use fast argon2 parameters for the duration of a test."""
    previous = passwords.use_hasher(CHEAP_HASHER)
    try:
        yield
    finally:
        passwords.use_hasher(previous)


def sessions_for(db_url: str) -> sessionmaker[Session]:
    """A session factory on the test database (no pooling, so PostgreSQL cleanup is not blocked)."""
    return make_session_factory(make_engine(db_url, pool_size=0))


def account(s: Session, name: str, *, kind: str = "merchant", channel: str = "wechatpay") -> MerchantAccount:
    """A merchant account."""
    return account_service.create(
        session=s, name=name, channel=channel, mchid=f"19{next(_ids):08d}", kind=kind
    )


def sub_merchant(s: Session, parent: MerchantAccount, mchid: str) -> MerchantAccount:
    """A sub-merchant of a service provider (created the way a complaint would create it)."""
    return account_service.resolve_merchant(session=s, account=parent, merchant_id=mchid)


def complaint(
    s: Session,
    owner: MerchantAccount,
    *,
    merchant: MerchantAccount | None = None,
    channel: str | None = None,
    status: str = "open",
    raw_status: str = "PENDING",
    complained_at: datetime = T0,
    phone: str | None = None,
    **fields: Any,
) -> Complaint:
    """A stored complaint of ``owner`` (about ``merchant``, default the owner itself)."""
    target = merchant or owner
    row = Complaint(
        channel=channel or owner.channel,
        account_id=owner.id,
        merchant_account_id=target.id,
        merchant_id=target.mchid,
        external_id=fields.pop("external_id", f"EXT{next(_ids):010d}"),
        status=status,
        raw_status=raw_status,
        complained_at=complained_at,
        payer_phone_enc=CIPHER.encrypt(phone) if phone else None,
        payer_phone_masked=f"{phone[:3]}****{phone[-4:]}" if phone else None,
        orders=fields.pop("orders", []),
        media_urls=[],
        unknown_values=[],
        raw=fields.pop("raw", {}),
        created_at=complained_at,
        updated_at=fields.pop("updated_at", complained_at),
        **fields,
    )
    s.add(row)
    s.flush()
    return row


def user(
    s: Session,
    username: str,
    role: str = "agent",
    *,
    accounts: list[MerchantAccount] | None = None,
    all_accounts: bool = False,
    password: str = PASSWORD,
) -> User:
    """A user with a known password."""
    return user_service.create(
        session=s,
        username=username,
        password=password,
        role=role,
        now=T0,
        account_ids=[a.id for a in accounts or []],
        all_accounts=all_accounts,
    )


def principal(s: Session, who: User) -> Principal:
    """The principal of ``who``."""
    return user_service.principal_for(session=s, user=who)
