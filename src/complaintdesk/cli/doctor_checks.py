"""What ``complaintdesk doctor`` checks for every channel: the report line, clock skew, certificate dates,
and the callback URL fetched from outside through ``public_base_url``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
from cryptography import x509

from complaintdesk.settings import Settings

__all__ = ["Check", "callback_url", "certificate_checks", "skew_check", "upstream_date"]

#: Certificates expiring within this many days are reported.
EXPIRY_WARNING_DAYS = 30


@dataclass
class Check:
    """One line of the doctor's report."""

    ok: bool
    what: str
    hint: str = ""


def callback_url(settings: Settings, channel: str, account: str) -> str:
    """The URL the upstream calls: ``public_base_url`` + ``/webhooks/<channel>/<account>``."""
    return f"{settings.public_base_url.rstrip('/')}/webhooks/{channel}/{account}"


async def upstream_date(client: httpx.AsyncClient, url: str) -> tuple[datetime | None, str]:
    """The upstream's ``Date`` header (any answer carries one), or None and why not."""
    try:
        response = await client.get(url, headers={"User-Agent": "complaintdesk-doctor"})
    except httpx.HTTPError as exc:
        return None, f"unreachable ({type(exc).__name__})"
    date = response.headers.get("date")
    if not date:
        return None, "its answer carries no Date header"
    try:
        return parsedate_to_datetime(date), ""
    except (TypeError, ValueError):
        return None, "its Date header is not a date"


def skew_check(
    upstream: str, theirs: datetime | None, why: str, ours: datetime, limit: float, hint: str
) -> Check:
    """Our clock against the upstream's: fails at ``limit`` s or more, saying which way and how far."""
    if theirs is None:
        return Check(False, f"clock compared with {upstream}", why)
    skew = (ours - theirs).total_seconds()
    what = f"clock skew against {upstream}: {abs(skew):.0f} s"
    if abs(skew) < limit:
        return Check(True, what)
    direction = "ahead of" if skew > 0 else "behind"
    return Check(
        False, what, f"this server's clock is {abs(skew):.0f} s {direction} {upstream}: fix NTP; {hint}"
    )


def certificate_checks(label: str, data: bytes, now: datetime) -> list[Check]:
    """A certificate (PEM or DER) is readable, valid now and not expiring within ``EXPIRY_WARNING_DAYS``."""
    try:
        cert = (
            x509.load_pem_x509_certificate(data)
            if b"-----BEGIN" in data
            else x509.load_der_x509_certificate(data)
        )
    except ValueError:
        return [Check(False, f"{label} readable", "not an X.509 certificate (PEM or DER)")]
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < start:
        return [Check(False, f"{label} valid", f"not valid before {start:%Y-%m-%d %H:%M} UTC")]
    if now >= end:
        return [Check(False, f"{label} valid", f"expired on {end:%Y-%m-%d} UTC")]
    days = (end - now).days
    if days < EXPIRY_WARNING_DAYS:
        return [Check(False, f"{label} valid until {end:%Y-%m-%d}", f"expires in {days} days: renew it")]
    return [Check(True, f"{label} valid until {end:%Y-%m-%d}")]


async def fetch_callback(
    client: httpx.AsyncClient, method: str, url: str, params: dict[str, str] | None = None
) -> httpx.Response | Check:
    """Fetch our own public webhook URL from outside; a failure names the URL and the transport error."""
    try:
        return await client.request(
            method, url, params=params, headers={"User-Agent": "complaintdesk-doctor"}
        )
    except httpx.HTTPError as exc:
        return Check(
            False,
            f"callback URL {url} reachable",
            f"unreachable ({type(exc).__name__}): check public_base_url, DNS, reverse proxy, firewall",
        )
