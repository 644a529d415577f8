"""Map Mini Program ``errcode`` answers (and odd HTTP answers) onto the project's exception tree.

Every error carries ``code`` (the errcode as text), ``detail`` (the upstream ``errmsg``, phone numbers
masked, at most 300 characters) and ``request_id`` (the ``rid`` WeChat appends to ``errmsg``). Messages
tell an operator what to do. Errcodes 1, 2, 309, 1002, 10001, 40001 and -1 are the documented ones
(spec A.3); the others are WeChat's general codes.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from pydantic import ValidationError

from complaintdesk.errors import (
    AuthFailed,
    ChannelAPIError,
    ChannelError,
    InvalidRequest,
    RateLimited,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from complaintdesk.security import redact

__all__ = [
    "MEDIA_EXPIRED_ERRCODES",
    "STALE_STATE_ERRCODES",
    "TOKEN_ERRCODES",
    "error_from_errcode",
    "error_from_http",
    "is_media_expired",
    "shape_error",
]

CHANNEL = "miniprogram"
#: The access token was refused: renew it and try once more.
TOKEN_ERRCODES = frozenset({40001, 42001, 40014})
#: A media id is unknown or past its 3 days: upload the image again.
MEDIA_EXPIRED_ERRCODES = frozenset({40007})
#: The complaint moved on before our call arrived: refresh it before deciding anything.
STALE_STATE_ERRCODES = frozenset({309, 1002})
_MAX_DETAIL = 300
_RID = re.compile(r"\brid:\s*([\w-]{6,80})")

_KNOWN: dict[int, tuple[type[ChannelAPIError], str, bool]] = {
    1: (
        UpstreamNotFound,
        "complaint not found (单号不存在): use the complaint id (complaintOrderId), "
        "not the WeChat Pay order id",
        False,
    ),
    2: (
        InvalidRequest,
        "content or mediaIdList is badly formed (appeal): check the text and that every image was uploaded",
        False,
    ),
    309: (
        InvalidRequest,
        "the complaint is not in a state that allows this any more (状态不对): it has probably moved on; "
        "refresh it and check what is allowed now",
        False,
    ),
    1002: (
        InvalidRequest,
        "the complaint's current state does not allow this action (当前状态不支持该操作); "
        "for an appeal, the 72-hour appeal window may have passed",
        False,
    ),
    10001: (InvalidRequest, "parameter error (参数异常)", False),
    40001: (
        AuthFailed,
        "the access_token was refused (invalid credential) even after renewing it: check the AppSecret and "
        "that no other system force-refreshes this mini program's token",
        False,
    ),
    42001: (AuthFailed, "the access_token expired and renewing it did not help", False),
    40014: (AuthFailed, "the access_token was refused as invalid and renewing it did not help", False),
    -1: (
        UpstreamUnavailable,
        "WeChat system busy (-1); if it persists for one complaint, check that its id is the complaint id, "
        "not the WeChat Pay order id",
        True,
    ),
    40004: (InvalidRequest, "invalid media type: only images (PNG, JPEG, GIF) can be uploaded", False),
    40007: (
        InvalidRequest,
        "an image media id is invalid or expired (media ids live 3 days): upload the image again",
        False,
    ),
    40013: (AuthFailed, "invalid appid: check the appid of this mini program account", False),
    40125: (AuthFailed, "invalid AppSecret: check the app_secret configured for this account", False),
    40164: (
        AuthFailed,
        "this server's IP address is not in the mini program's API IP whitelist (开发管理 → 开发设置)",
        False,
    ),
    45009: (RateLimited, "the daily API quota of this mini program is used up", False),
    45011: (RateLimited, "the per-minute API quota was hit", True),
    48001: (
        AuthFailed,
        "API unauthorized: the mini program lacks this capability (a third-party platform needs permission "
        "set 76)",
        False,
    ),
}


def _detail(errmsg: Any) -> tuple[str, str]:
    """Return (errmsg masked and cut, rid) from an upstream ``errmsg``."""
    text = errmsg if isinstance(errmsg, str) else ""
    found = _RID.search(text)
    return redact(text)[:_MAX_DETAIL], found.group(1) if found else ""


def error_from_errcode(endpoint: str, errcode: int, errmsg: Any, *, status: int = 200) -> ChannelAPIError:
    """Build the exception for an answer with a non-zero ``errcode``."""
    detail, rid = _detail(errmsg)
    cls, message, retryable = _KNOWN.get(errcode, (ChannelAPIError, "", False))
    if not message:
        message = f"WeChat refused the call (errcode {errcode})"
    if detail and (errcode == 10001 or cls is ChannelAPIError or errcode == 2):
        message = f"{message}: {detail}"
    error = cls(
        f"{endpoint}: {message}",
        channel=CHANNEL,
        status=status,
        code=str(errcode),
        detail=detail,
        request_id=rid,
        retryable=retryable,
    )
    if errcode in MEDIA_EXPIRED_ERRCODES:
        error.context["media_expired"] = True
    if errcode in STALE_STATE_ERRCODES:
        error.context["stale_state"] = True
    return error


def error_from_http(endpoint: str, status: int, body: bytes) -> ChannelAPIError:
    """Build the exception for a non-2xx HTTP answer (an errcode body inside it wins)."""
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("errcode"), int) and doc["errcode"] != 0:
        error = error_from_errcode(endpoint, doc["errcode"], doc.get("errmsg"), status=status)
        if status >= 500:
            error.retryable = True
        return error
    described = f"{endpoint}: HTTP {status} from WeChat ({len(body)} bytes)"
    if status == 429:
        return RateLimited(described, channel=CHANNEL, status=status, retryable=True)
    if status >= 500:
        return UpstreamUnavailable(described, channel=CHANNEL, status=status, retryable=True)
    if status in (401, 403):
        return AuthFailed(described, channel=CHANNEL, status=status)
    if status == 404:
        return UpstreamNotFound(described, channel=CHANNEL, status=status)
    return InvalidRequest(described, channel=CHANNEL, status=status)


def is_media_expired(error: BaseException) -> bool:
    """Whether ``error`` says an uploaded media id is no longer valid (upload the images again)."""
    return isinstance(error, ChannelAPIError) and bool(error.context.get("media_expired"))


def shape_error(what: str, exc: ValidationError) -> ChannelError:
    """Describe a document that does not fit the protocol, by location only (values may be personal data)."""
    where = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['type']}"
        for err in exc.errors(include_input=False, include_url=False)[:5]
    )
    return ChannelError(f"{what} does not match the protocol ({where})", channel=CHANNEL)
