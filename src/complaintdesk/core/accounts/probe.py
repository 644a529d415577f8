""" "Test connection" for one merchant account: a signed call or a token fetch against its upstream.

The result is a short code the console translates (and an upstream error code shown as data); secret
values never appear in it.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from complaintdesk.channels.registry import build_runtime
from complaintdesk.core.accounts.models import MerchantAccount
from complaintdesk.errors import (
    AuthFailed,
    ChannelAPIError,
    ChannelError,
    ChannelTransportError,
    ConfigError,
    ResponseVerificationError,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from complaintdesk.ratelimit import SlidingWindowLimiter
from complaintdesk.settings import Settings

__all__ = ["PROBE_CODES", "ProbeResult", "check_connection"]

#: ok / ok_public_key / ok_token / ok_query; failures: config, missing_app_secret, missing_private_key,
#: unreachable, auth_failed, verify_failed, refused.
PROBE_CODES = (
    "ok", "ok_public_key", "ok_token", "ok_query", "config", "missing_app_secret", "missing_private_key",
    "unreachable", "auth_failed", "verify_failed", "refused",
)  # fmt: skip


@dataclass(frozen=True)
class ProbeResult:
    """``code`` is one of :data:`PROBE_CODES`; ``upstream_code`` is the upstream's error code, if any."""

    ok: bool
    code: str
    upstream_code: str = ""


async def check_connection(
    account: MerchantAccount, *, settings: Settings, certificate_pems: list[str]
) -> ProbeResult:
    """Build the account's runtime from its stored references and make one harmless signed call."""
    if account.channel == "miniprogram" and not (account.secret_refs or {}).get("app_secret"):
        return ProbeResult(False, "missing_app_secret")
    if account.channel == "huishouqian" and not (account.secret_refs or {}).get("private_key_p12"):
        return ProbeResult(False, "missing_private_key")
    try:
        runtime = build_runtime(
            account,
            settings=settings,
            certificate_pems=certificate_pems,
            limiter=SlidingWindowLimiter(),
            time=time.time,
        )
    except ConfigError:
        return ProbeResult(False, "config")
    try:
        return await _call(account.channel, runtime.adapter, runtime.extra)
    except UpstreamNotFound:
        return ProbeResult(True, "ok_public_key")  # public-key mode: no /v3/certificates
    except AuthFailed as exc:
        return ProbeResult(False, "auth_failed", exc.code)
    except (ChannelTransportError, UpstreamUnavailable):
        return ProbeResult(False, "unreachable")
    except ChannelAPIError as exc:
        return ProbeResult(False, "refused", exc.code)
    except ResponseVerificationError:
        return ProbeResult(False, "verify_failed")
    except ConfigError:
        return ProbeResult(False, "config")
    except ChannelError:
        return ProbeResult(False, "refused")
    finally:
        await runtime.adapter.aclose()


async def _call(channel: str, adapter: object, extra: dict[str, object]) -> ProbeResult:
    if channel == "wechatpay":
        await adapter.client.download_certificates()  # type: ignore[attr-defined]
        return ProbeResult(True, "ok")
    if channel == "miniprogram":
        await extra["client"].tokens.get()  # type: ignore[attr-defined]
        return ProbeResult(True, "ok_token")
    today = dt.datetime.now(dt.UTC).date()
    await adapter.client.query(begin_date=today, end_date=today, limit=1)  # type: ignore[attr-defined]
    return ProbeResult(True, "ok_query")
