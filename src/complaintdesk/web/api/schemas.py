"""Response and request models of the JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from complaintdesk.channels.base import ActionKind


class OrderOut(BaseModel):
    transaction_id: str
    out_trade_no: str
    amount_fen: int | None


class ComplaintSummary(BaseModel):
    """One row of the complaint list."""

    id: int
    channel: str
    external_id: str
    account_id: int
    merchant_account_id: int
    merchant_id: str
    status: str
    raw_status: str
    problem_type: str
    problem_description: str
    amount_fen: int | None
    refund_amount_fen: int | None
    complained_at: datetime
    updated_at: datetime
    user_message_waiting: bool
    refund_requested: bool
    immediate_service: bool
    platform_assistance: bool
    payer_phone_masked: str | None


class TimelineOut(BaseModel):
    id: int
    source: str
    kind: str
    actor: str
    actor_label: str
    occurred_at: datetime
    text: str
    images: list[str] = Field(description="archive URLs of the entry's images (served by /api/v1/media)")
    known: bool
    status: str | None = Field(
        default=None, description="for our own actions: pending, sent, uncertain, failed"
    )


class ActionOut(BaseModel):
    id: str
    complaint_id: int
    kind: str
    params: dict[str, Any]
    status: str
    attempts: int
    error_code: str
    error_message: str
    upstream_ref: str | None
    requested_by: str
    created_at: datetime
    sent_at: datetime | None


class ComplaintDetail(ComplaintSummary):
    """A complaint with everything needed to handle it."""

    detail: str
    complaint_times: int
    fully_refunded: bool
    orders: list[OrderOut]
    unknown_values: list[str]
    images: list[str] = Field(description="archived copies of the user's complaint images")
    allowed_actions: list[str]
    version: int = Field(
        description="conversation version: send it back as `expected_version` with an action"
    )
    timeline: list[TimelineOut]
    actions: list[ActionOut]
    raw: dict[str, Any]


class ComplaintPage(BaseModel):
    items: list[ComplaintSummary]
    total: int
    limit: int
    offset: int
    #: Incremental pulls (``updated_since``): pass it as ``cursor`` for the next page; null at the end.
    next_cursor: str | None = None


class ActionIn(BaseModel):
    """An action request. ``params`` by kind:

    * reply: ``content`` (≤ 200 characters), ``images`` (≤ 4 archive SHA-256s),
      ``jump_url`` + ``jump_url_text``
    * immediate_reply: ``blocks`` (TEXT, IMAGE, LINK, FAQ_LIST, BUTTON, BUTTON_GROUP), ``sender_identity``
    * complete: nothing
    * refund_approve: ``launch_refund_day``, ``remark``
    * refund_reject: ``reject_reason``, ``reject_media`` (≤ 4 archive SHA-256s), ``remark``
    """

    kind: ActionKind
    params: dict[str, Any] = Field(default_factory=dict)
    expected_version: int | None = Field(
        default=None,
        ge=0,
        le=2**31 - 1,
        description="the complaint's `version` your user saw; 409 ConversationMoved if a reply or a user "
        "message arrived since (also accepted as the `If-Match` header)",
    )


class MediaOut(BaseModel):
    sha256: str
    content_type: str
    size: int
    url: str
