"""The one exception tree of complaintdesk.

    ComplaintDeskError
    ├── ConfigError                 settings or credentials unusable (bad key file, missing secret)
    ├── WriteFailed                 the database refused a commit; the whole unit of work was rolled back
    ├── ChannelError                anything that went wrong talking to an upstream
    │   ├── ChannelTransportError   connection failed / timed out (``sent`` tells if the request left)
    │   ├── ChannelAPIError         upstream answered with an error body (code, message, detail)
    │   │   ├── RateLimited         429 / FREQUENCY_LIMITED
    │   │   ├── AuthFailed          401 SIGN_ERROR / 403 NO_AUTH
    │   │   ├── InvalidRequest      400 PARAM_ERROR / INVALID_REQUEST
    │   │   ├── UpstreamNotFound    404 / RESOURCE_NOT_EXISTS
    │   │   └── UpstreamUnavailable 5xx SYSTEM_ERROR / SERVICE_UNAVAILABLE
    │   ├── ResponseVerificationError  a 2xx response whose signature did not verify
    │   └── WebhookError            an inbound notification we refuse
    │       ├── MissingHeaders
    │       ├── SignatureInvalid    (also signature probes ``WECHATPAY/SIGNTEST/``)
    │       ├── TimestampOutOfWindow
    │       ├── UnknownSerial       no certificate / public key for ``Wechatpay-Serial``
    │       ├── UnsupportedAlgorithm
    │       ├── DecryptFailed       AEAD tag mismatch: almost always a wrong APIv3 key
    │       └── MalformedNotification  broken JSON or missing fields
    ├── StorageError                the evidence store failed: unreachable, credentials or bucket refused
    ├── AlertDeliveryFailed         an alert destination refused or did not answer (code, answer kept)
    └── DomainError                 a rule of ours was broken
        ├── NotFound                (ComplaintNotFound, AccountNotFound)
        │   └── MediaMissing        an archived image's bytes are not in the evidence store
        ├── AlreadyExists
        ├── IllegalTransition
        ├── LeaseLost               another worker took over a send or download this one had claimed
        ├── ConversationMoved       a reply or a consumer message arrived since the operator looked
        ├── ActionRefused           an action failed validation (length, images, state, scope)
        │   └── DestinationInvalid  an alert destination, rule or template refused when saved
        └── Forbidden

Messages never contain secrets or personal data; ``public_message`` is safe to show to a caller.
"""

from __future__ import annotations

from typing import Any


class ComplaintDeskError(Exception):
    """Root of every error raised on purpose by complaintdesk."""

    #: HTTP status used when this error reaches an API edge.
    http_status: int = 500

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    @property
    def public_message(self) -> str:
        """Text that is safe to return to a caller."""
        return self.message


class ConfigError(ComplaintDeskError):
    """Settings or credentials are missing or unusable."""


class WriteFailed(ComplaintDeskError):
    """A commit failed: nothing of the unit of work was kept (the web edge answers 500)."""


class ChannelError(ComplaintDeskError):
    """An upstream exchange failed."""

    http_status = 502

    def __init__(self, message: str, *, channel: str = "", retryable: bool = False, **context: Any) -> None:
        super().__init__(message, **context)
        self.channel = channel
        self.retryable = retryable


class ChannelTransportError(ChannelError):
    """The request could not complete on the network; ``sent`` tells whether it may have arrived."""

    def __init__(self, message: str, *, channel: str = "", sent: bool, **context: Any) -> None:
        super().__init__(message, channel=channel, retryable=not sent, **context)
        self.sent = sent


class ChannelAPIError(ChannelError):
    """The upstream answered with an error document."""

    def __init__(
        self,
        message: str,
        *,
        channel: str = "",
        status: int = 0,
        code: str = "",
        detail: Any = None,
        request_id: str = "",
        retryable: bool = False,
        **context: Any,
    ) -> None:
        super().__init__(message, channel=channel, retryable=retryable, **context)
        self.status = status
        self.code = code
        self.detail = detail
        self.request_id = request_id

    def __str__(self) -> str:
        rid = f" request_id={self.request_id}" if self.request_id else ""
        return f"{self.channel} {self.status} {self.code}: {self.message}{rid}"


class RateLimited(ChannelAPIError):
    """429: the upstream's frequency limit was hit."""


class AuthFailed(ChannelAPIError):
    """401/403: signature refused or no permission."""


class InvalidRequest(ChannelAPIError):
    """400: parameters or business rules refused the request."""


class UpstreamNotFound(ChannelAPIError):
    """404 / RESOURCE_NOT_EXISTS."""


class UpstreamUnavailable(ChannelAPIError):
    """5xx: the upstream failed; safe to retry read requests."""


class ResponseVerificationError(ChannelError):
    """A successful response did not carry a valid upstream signature."""

    def __init__(self, message: str, *, request_id: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.request_id = request_id


class WebhookError(ChannelError):
    """An inbound notification was refused; ``http_status`` is what we answer."""

    http_status = 400


class MissingHeaders(WebhookError):
    """Required signature headers are absent."""


class SignatureInvalid(WebhookError):
    """The signature does not verify (including deliberate signature probes)."""

    http_status = 401


class TimestampOutOfWindow(WebhookError):
    """The signed timestamp is too old or too far in the future."""

    http_status = 401


class UnknownSerial(WebhookError):
    """No platform certificate or public key matches the announced serial."""

    http_status = 401


class UnsupportedAlgorithm(WebhookError):
    """The resource uses an algorithm we do not accept."""


class DecryptFailed(WebhookError):
    """The encrypted resource could not be opened (wrong APIv3 key or tampering)."""


class MalformedNotification(WebhookError):
    """The body is not the JSON document the protocol describes."""


class BodyTooLarge(WebhookError):
    """The request body exceeds the configured cap."""

    http_status = 413


class StorageError(ComplaintDeskError):
    """The evidence store (local directory or S3-compatible bucket) could not be read or written.

    The message names the store (directory, or endpoint and bucket) and the upstream error code, never a
    credential; ``retryable`` tells whether the same call may succeed later (network, 5xx, throttling).
    """

    http_status = 503

    def __init__(self, message: str, *, retryable: bool = False, **context: Any) -> None:
        super().__init__(message, **context)
        self.retryable = retryable


class DomainError(ComplaintDeskError):
    """A rule of ours refused the operation."""

    http_status = 400


class NotFound(DomainError):
    """The thing asked for does not exist (or is outside the caller's scope)."""

    http_status = 404


class ComplaintNotFound(NotFound):
    """No such complaint."""


class AccountNotFound(NotFound):
    """No such merchant account."""


class MediaMissing(NotFound):
    """The evidence store has no object for this SHA-256 (deleted by hand, or a store not shared)."""


class AlreadyExists(DomainError):
    """A unique thing exists already."""

    http_status = 409


class IllegalTransition(DomainError):
    """The complaint's current state does not allow this."""

    http_status = 409


class AlertDeliveryFailed(ComplaintDeskError):
    """An alert destination refused a message or could not be reached; ``answer`` is what it said."""

    http_status = 502

    def __init__(self, message: str, *, status_code: int | None = None, answer: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.answer = answer


class LeaseLost(DomainError):
    """This worker's claim on an action or download was taken over: it must not send or record it."""

    http_status = 409


class ConversationMoved(DomainError):
    """An action was asked on an old view of the conversation: look at what changed, then confirm."""

    http_status = 409

    def __init__(self, message: str, *, current_version: int | None, **context: Any) -> None:
        super().__init__(message, **context)
        self.current_version = current_version


class ActionRefused(DomainError):
    """An action was refused before anything was sent; ``field`` names the offending input."""

    http_status = 422

    def __init__(self, message: str, *, field: str = "", **context: Any) -> None:
        super().__init__(message, **context)
        self.field = field


class Forbidden(DomainError):
    """The caller's role or scope does not allow this."""

    http_status = 403


class DestinationInvalid(ActionRefused):
    """An alert destination, rule or message template was refused when saved (the message says why)."""
