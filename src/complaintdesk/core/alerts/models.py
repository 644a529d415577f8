"""Alerts: destinations, rules, the events they fire on, and one delivery per (event, destination).

    event (unique ``key``) ──< delivery (unique event × destination) >── destination ──< attempt
                                                                        └──< rule (who gets what)

A destination is also the unit a sender claims (``fence`` + ``lease_until``): one sender per
destination at a time, which is what makes a burst one digest and the rate limit hold.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from complaintdesk.clock import utcnow
from complaintdesk.db import Base, UTCDateTime


class DestinationKind:
    """Where an alert goes."""

    WECOM = "wecom"  # 企业微信群机器人
    DINGTALK = "dingtalk"  # 钉钉自定义机器人 (加签)
    FEISHU = "feishu"  # 飞书 / Lark 自定义机器人 (签名校验)
    EMAIL = "email"  # SMTP
    WEBHOOK = "webhook"  # generic JSON POST (a digest like the chats)
    ENDPOINT = "endpoint"  # the merchant's own system: one Standard Webhooks message per event

    ALL = (WECOM, DINGTALK, FEISHU, EMAIL, WEBHOOK, ENDPOINT)
    CHATS = (WECOM, DINGTALK, FEISHU, EMAIL, WEBHOOK)


class DeliveryStatus:
    """pending → sending → sent | pending (retry, backoff) → … → failed."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    OPEN = (PENDING, SENDING)


class AlertDestination(Base):
    """A chat robot, a mailbox or an endpoint; its URL and secrets are stored encrypted."""

    __tablename__ = "alert_destination"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: Only events of this merchant account reach it (None: every account).
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("merchant_account.id", ondelete="CASCADE"), default=None
    )
    #: The URL carries the robot's token, so it is a secret: ``DataCipher`` text; shown as ``url_hint``.
    url_enc: Mapped[str] = mapped_column(Text, default="")
    url_hint: Mapped[str] = mapped_column(String(256), default="")
    #: Signing secret (DingTalk, Feishu, endpoint), SMTP password: encrypted, never shown or logged.
    secret_enc: Mapped[str] = mapped_column(Text, default="")
    #: An endpoint's previous secret, still signed with until ``previous_secret_until`` (rotation overlap).
    previous_secret_enc: Mapped[str] = mapped_column(Text, default="")
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: Non-secret options: SMTP host/port/from/to/starttls/username, …
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(8), default="zh-CN")
    #: Quiet hours, local time "HH:MM" (both empty: none). Alerts wait and arrive as one digest after.
    quiet_start: Mapped[str] = mapped_column(String(5), default="")
    quiet_end: Mapped[str] = mapped_column(String(5), default="")
    #: Least seconds between two messages (None: the settings' default; endpoints: 0).
    min_interval_seconds: Mapped[float | None] = mapped_column(default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The sender's claim (one at a time per destination) and its schedule.
    fence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    next_send_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertRule(Base):
    """Who gets what: events of a kind (or all), for an account (or all), or a user's own events."""

    __tablename__ = "alert_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("alert_destination.id", ondelete="CASCADE"))
    #: Event kinds (empty: every kind).
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("merchant_account.id", ondelete="CASCADE"), default=None
    )
    #: A user's rule: that user's own events (assigned, mention) and events of complaints assigned to them.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertEvent(Base):
    """Something worth telling someone; ``key`` makes it happen once however many processes see it."""

    __tablename__ = "alert_event"
    __table_args__ = (Index("ix_alert_event_complaint", "complaint_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    complaint_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaint.id", ondelete="CASCADE"), default=None
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("merchant_account.id", ondelete="CASCADE"), default=None
    )
    #: The user an event is about (assigned to, mentioned), if any.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), default=None)
    #: Facts for the message: ids, status, amounts, deadline; never phone numbers or other personal data.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertDelivery(Base):
    """One event to one destination: sent once, retried with backoff, every attempt logged."""

    __tablename__ = "alert_delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "destination_id"),
        Index("ix_alert_delivery_destination_status", "destination_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_event.id", ondelete="CASCADE"))
    destination_id: Mapped[int] = mapped_column(ForeignKey("alert_destination.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    #: The destination fence of the claim that is sending it (only that claim may settle it).
    claim_fence: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_id: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AlertAttempt(Base):
    """One message sent (or tried) to a destination, with the destination's answer."""

    __tablename__ = "alert_attempt"
    __table_args__ = (Index("ix_alert_attempt_destination", "destination_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    destination_id: Mapped[int] = mapped_column(ForeignKey("alert_destination.id", ondelete="CASCADE"))
    fence: Mapped[int] = mapped_column(Integer)
    delivery_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: sent | failed | test
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    #: What the destination answered (trimmed; secrets are never part of it).
    answer: Mapped[str] = mapped_column(Text, default="")
    #: The Standard Webhooks ``webhook-id`` (endpoints), so a replay is recognisable.
    message_id: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AlertCounter(Base):
    """A count shared by every process, per key and window (refused webhook signatures per account)."""

    __tablename__ = "alert_counter"
    __table_args__ = (Index("ix_alert_counter_window_start", "window_start"),)

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
