"""Merchant accounts and the platform certificates downloaded for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from complaintdesk.clock import utcnow
from complaintdesk.db import Base, UTCDateTime


class MerchantAccount(Base):
    """One upstream merchant identity; secrets are *references* (``file:`` / ``env:``), never values."""

    __tablename__ = "merchant_account"
    __table_args__ = (UniqueConstraint("channel", "mchid", "parent_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # slug used in webhook URLs
    display_name: Mapped[str] = mapped_column(String(128), default="")
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(
        String(32), default="merchant"
    )  # merchant | service_provider | sub_merchant
    mchid: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("merchant_account.id"), default=None)
    merchant_serial: Mapped[str] = mapped_column(String(64), default="")
    private_key_ref: Mapped[str] = mapped_column(String(512), default="")
    merchant_cert_ref: Mapped[str] = mapped_column(String(512), default="")
    apiv3_key_ref: Mapped[str] = mapped_column(String(512), default="")
    platform_cert_refs: Mapped[list[str]] = mapped_column(JSON, default=list)
    public_key_id: Mapped[str] = mapped_column(String(64), default="")
    public_key_ref: Mapped[str] = mapped_column(String(512), default="")
    api_base_url: Mapped[str] = mapped_column(String(256), default="")
    #: Channel options (non-secret), e.g. Mini Program message format, Huishouqian sign type.
    options: Mapped[dict[str, Any]] = mapped_column("settings", JSON, default=dict)
    #: Channel secrets by name as references (``file:`` / ``env:``), e.g. ``{"app_secret": "env:MP_SECRET"}``.
    secret_refs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Bumped by every change of credentials, settings, certificates or ``enabled``: every process drops
    #: a runtime built from an older revision (``AppContext.runtime_for``).
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PlatformCertificate(Base):
    """A WeChat Pay platform certificate downloaded from ``/v3/certificates`` (public material)."""

    __tablename__ = "platform_certificate"
    __table_args__ = (UniqueConstraint("account_id", "serial_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("merchant_account.id", ondelete="CASCADE"))
    serial_no: Mapped[str] = mapped_column(String(64))
    certificate_pem: Mapped[str] = mapped_column(Text)
    effective_time: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    expire_time: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
