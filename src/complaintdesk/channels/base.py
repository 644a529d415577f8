"""What every channel hands the core, and what the core asks of a channel.

A channel translates one upstream protocol into these neutral shapes:

* ``OpenedNotification`` — an inbound webhook after verification and decryption (pure, no IO);
* ``ComplaintSnapshot`` — one complaint as the upstream sees it now, with its history;
* ``HistoryEntry`` — one entry of the upstream's negotiation history.

Usage sketch for a channel adapter::

    class MyChannel:
        name = "mychannel"
        async def fetch(self, external_id: str) -> ComplaintSnapshot: ...
        async def list_window(self, begin: date, end: date) -> AsyncIterator[ComplaintSnapshot]: ...

The core never imports a channel's internals; it calls these methods and stores what comes back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol


class UnifiedStatus(StrEnum):
    """The small status set used by the inbox and the SLA engine (raw status is always kept too)."""

    OPEN = "open"  # waiting for the merchant's first answer
    RESPONDED = "responded"  # merchant answered, complaint still in progress
    IN_PLATFORM = "in_platform"  # platform (WeChat CS) is mediating
    RESOLVED = "resolved"  # finished by the merchant / refund
    CLOSED = "closed"  # closed for another reason (revoked, expired)
    UNKNOWN = "unknown"  # raw status not recognised: shown raw, flagged


@dataclass(frozen=True, slots=True)
class OpenedNotification:
    """A verified, decrypted inbound notification."""

    dedupe_key: str  # upstream notification id (or a derived stable key)
    event_type: str  # e.g. COMPLAINT.CREATE
    external_id: str | None  # complaint id announced, if any
    action: str | None  # e.g. USER_RESPONSE
    payload: dict[str, Any]  # decrypted plaintext document (no secrets)
    known: bool = True  # False when event/action type is not in our enum list
    occurred_at: datetime | None = None
    #: Set when ``dedupe_key`` is a content identity (no upstream id): copies arriving at most this many
    #: seconds after the previous one are duplicates (a sliding window; 0 = forever; see ``inbox.window``).
    window_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One upstream negotiation-history entry."""

    external_id: str  # upstream log id; the timeline dedupe key
    occurred_at: datetime
    kind: str  # raw operate type, e.g. USER_RESPONSE
    actor: str  # "user" | "merchant" | "platform" | "system"
    actor_label: str = ""  # raw operator label from upstream
    text: str = ""
    media_urls: tuple[str, ...] = ()
    known: bool = True
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OrderRef:
    """An order the complaint is about."""

    transaction_id: str
    out_trade_no: str
    amount_fen: int | None


@dataclass(slots=True)
class ComplaintSnapshot:
    """One complaint as the upstream describes it now."""

    channel: str
    external_id: str
    merchant_id: str  # the merchant complained about (complainted_mchid in SP mode)
    raw_status: str
    status: UnifiedStatus
    complained_at: datetime
    detail: str = ""
    problem_description: str = ""
    problem_type: str = ""
    amount_fen: int | None = None  # sum of orders
    refund_amount_fen: int | None = None
    orders: list[OrderRef] = field(default_factory=list)
    payer_phone: str | None = field(default=None, repr=False)  # plaintext: encrypted at rest, never logged
    payer_openid: str | None = None
    user_message_waiting: bool = False
    refund_requested: bool = False
    immediate_service: bool = False
    platform_assistance: bool = False
    fully_refunded: bool = False
    complaint_times: int = 1
    media_urls: list[str] = field(default_factory=list)
    #: The media URLs carry a signature in their query that changes on every read (the path names the
    #: image): the archive keeps one link per path and refreshes its URL instead of adding a new one.
    signed_media_links: bool = False
    deadline_at: datetime | None = None  # the upstream's deadline for the current status, if given
    history: list[HistoryEntry] | None = None  # None: history was not fetched this time
    unknown_values: list[str] = field(default_factory=list)  # enum values we did not recognise
    raw: dict[str, Any] = field(default_factory=dict)


class ActionKind(StrEnum):
    """Merchant actions the outbox can send (each channel supports a subset)."""

    REPLY = "reply"
    IMMEDIATE_REPLY = "immediate_reply"
    COMPLETE = "complete"
    REFUND_APPROVE = "refund_approve"
    REFUND_REJECT = "refund_reject"


@dataclass(frozen=True, slots=True)
class ComplaintFacts:
    """What a status guard needs to know about a stored complaint."""

    raw_status: str
    problem_type: str = ""
    immediate_service: bool = False
    fully_refunded: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """One validated action, ready to send. ``params`` are the channel's normalised parameters.

    ``media_ids`` maps a local image reference (the archive's SHA-256) to the upstream media id
    uploaded for it; the dispatcher uploads images first and fills this in.
    """

    action_id: str
    kind: ActionKind
    external_id: str
    merchant_id: str
    params: dict[str, Any]
    requested_at: datetime
    media_ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """What the upstream said when it accepted an action."""

    upstream_ref: str | None = None  # e.g. log_id of an immediate-service reply
    raw: dict[str, Any] = field(default_factory=dict)


class ChannelAdapter(Protocol):
    """The calls the core makes on a channel bound to one merchant account."""

    name: str

    async def fetch(self, external_id: str, *, with_history: bool = True) -> ComplaintSnapshot:
        """Fetch one complaint (and its history) by upstream id."""
        ...

    def list_window(self, begin: date, end: date) -> AsyncIterator[ComplaintSnapshot]:
        """Yield every complaint created in [begin, end] (history not fetched)."""
        ...

    async def fetch_history(self, external_id: str) -> list[HistoryEntry]:
        """Fetch the complete negotiation history of one complaint."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class ActionChannel(Protocol):
    """The write side a channel offers the outbox (all validation is pure and happens first)."""

    def allowed_actions(self, facts: ComplaintFacts) -> set[ActionKind]:
        """Which actions the complaint's current upstream state allows."""
        ...

    def validate(self, kind: ActionKind, params: dict[str, Any], facts: ComplaintFacts) -> dict[str, Any]:
        """Check and normalise an action's parameters; raise ActionRefused with an operator message."""
        ...

    def image_refs(self, kind: ActionKind, params: dict[str, Any]) -> list[str]:
        """Local image references in validated params (uploaded before ``perform``)."""
        ...

    def check_image(self, data: bytes, filename: str) -> str:
        """Refuse an image the upstream would refuse; return its content type."""
        ...

    async def upload_image(self, data: bytes, filename: str) -> str:
        """Upload evidence and return the upstream media id."""
        ...

    async def perform(self, request: ActionRequest) -> ActionOutcome:
        """Send one action. Transport errors after sending raise ChannelTransportError(sent=True)."""
        ...

    def applied_in_history(self, request: ActionRequest, history: list[HistoryEntry]) -> bool:
        """Whether the upstream history shows this action already applied (for uncertain sends)."""
        ...

    async def download_image(self, url: str) -> tuple[bytes, str]:
        """Fetch complaint evidence by its upstream URL: (bytes, content type)."""
        ...


@dataclass(frozen=True, slots=True)
class WebhookReply:
    """What we answer an upstream's webhook call (after storing what it brought)."""

    status: int = 204
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """A verified webhook call: the notifications to store (maybe none) and the reply to give."""

    notifications: tuple[OpenedNotification, ...]
    reply: WebhookReply
    #: False when the raw body carries personal data only encrypted (WeChat Pay's envelope), so it
    #: is stored as received; otherwise phone numbers in it are masked before it is stored.
    raw_body_plaintext: bool = True
    #: Which part of the request carried the signed envelope ("query" when the body was empty): that
    #: part is stored, as received, as the notification's raw evidence.
    envelope_in: str = "body"


class WebhookHandler(Protocol):
    """Sans-IO webhook side of a channel bound to one account (no web framework imports).

    ``open`` verifies first, then decrypts and parses; every refusal raises a ``WebhookError``
    subclass, and ``refusal`` turns it into the reply the upstream expects (so it retries).
    """

    def open(
        self, method: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes, now: float
    ) -> WebhookOutcome:
        """Verify and open one webhook call."""
        ...

    def refusal(self, error: Exception) -> WebhookReply:
        """The reply for a refused call."""
        ...


@dataclass
class ChannelRuntime:
    """One credentialed account's loaded channel: its adapter (reads + actions) and webhook handler.

    ``bootstrap`` (optional) runs before the first upstream call, e.g. to download WeChat Pay
    platform certificates when no verification key is configured yet.
    """

    account_id: int
    name: str
    channel: str
    adapter: Any  # ChannelAdapter and ActionChannel
    webhook: WebhookHandler
    can_list: bool = True  # False: no list API, reconciliation refreshes open complaints by id only
    bootstrap: Callable[[], Awaitable[None]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountConfig:
    """A stored merchant account as a channel sees it: ids, options, and resolved secrets by name.

    ``merchant_id`` is the account's upstream id (WeChat Pay mchid, Mini Program appid, Huishouqian
    merchantNo). ``secrets`` hold secret *values* (read from their file:/env: references); never log them.
    """

    id: int
    name: str
    channel: str
    kind: str
    merchant_id: str
    api_base_url: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def secret(self, name: str) -> bytes:
        """A required secret, or a ConfigError naming what is missing (never its value)."""
        from complaintdesk.errors import ConfigError

        value = self.secrets.get(name)
        if not value:
            raise ConfigError(f"account {self.name}: secret {name!r} is not configured")
        return value


class TokenStore(Protocol):
    """Where access tokens are cached so that every process shares one (e.g. Mini Program)."""

    async def get(self, key: str) -> tuple[str, float] | None:
        """The cached token and its expiry (epoch seconds), if any."""
        ...

    async def put(self, key: str, token: str, expires_at: float) -> None:
        """Cache a token."""
        ...
