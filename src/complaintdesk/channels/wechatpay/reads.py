"""Read calls of the complaint API: list, detail, negotiation history, platform certificates, images."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from urllib.parse import quote

import httpx

from complaintdesk.channels.wechatpay.crypto import aead_open, load_certificate
from complaintdesk.channels.wechatpay.errors import header
from complaintdesk.channels.wechatpay.models import (
    CertificateList,
    Complaint,
    ComplaintListPage,
    HistoryEntry,
    HistoryPage,
    PlatformCertificate,
)
from complaintdesk.channels.wechatpay.transport import COMPLAINTS_PATH, WeChatPayTransport
from complaintdesk.channels.wechatpay.webhook import AEAD_ALGORITHM
from complaintdesk.errors import ComplaintDeskError, ResponseVerificationError

__all__ = ["MAX_WINDOW_DAYS", "WECHATPAY_API_HOSTS", "WeChatPayReads"]

CHANNEL = "wechatpay"
CERTIFICATES_PATH = "/v3/certificates"
#: Largest ``end_date - begin_date`` the list endpoint accepts.
MAX_WINDOW_DAYS = 30
#: Hosts a ``media_url`` may point at (the signed request is only ever sent to these or to ``base_url``).
WECHATPAY_API_HOSTS = frozenset(
    {"api.mch.weixin.qq.com", "api2.mch.weixin.qq.com", "api.wechatpay.cn", "api2.wechatpay.cn"}
)


def _check_window(begin_date: date, end_date: date) -> None:
    """Refuse date windows the list endpoint would reject."""
    if end_date < begin_date:
        raise ValueError("end_date is before begin_date")
    if (end_date - begin_date).days > MAX_WINDOW_DAYS:
        raise ValueError(f"the list window may span at most {MAX_WINDOW_DAYS} days; split it")


def _query(pairs: list[tuple[str, str]]) -> str:
    """Encode query pairs in the given (fixed) order."""
    return "&".join(f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in pairs)


class WeChatPayReads(WeChatPayTransport):
    """GET calls: JSON answers are signature-verified; reads are retried on 429, 5xx and network errors."""

    # -- complaints -------------------------------------------------------------------------------------

    async def list_complaints(
        self,
        *,
        begin_date: date,
        end_date: date,
        limit: int = 50,
        offset: int = 0,
        complainted_mchid: str | None = None,
    ) -> ComplaintListPage:
        """Fetch one page of complaints created in [begin_date, end_date] (span ≤ 30 days)."""
        _check_window(begin_date, end_date)
        if not 1 <= limit <= 50 or offset < 0:
            raise ValueError("limit must be in [1, 50] and offset >= 0")
        pairs = [
            ("limit", str(limit)),
            ("offset", str(offset)),
            ("begin_date", begin_date.isoformat()),
            ("end_date", end_date.isoformat()),
        ]
        if complainted_mchid:
            pairs.append(("complainted_mchid", complainted_mchid))
        return await self._get_verified(ComplaintListPage, "list", f"{COMPLAINTS_PATH}?{_query(pairs)}")

    async def iter_complaints(
        self, *, begin_date: date, end_date: date, complainted_mchid: str | None = None
    ) -> AsyncIterator[Complaint]:
        """Yield every complaint in the window, page by page (each complaint once)."""
        _check_window(begin_date, end_date)
        limit = max(1, min(50, self.settings.list_page_size))
        offset, total = 0, None
        seen: set[str] = set()
        while True:
            page = await self.list_complaints(
                begin_date=begin_date,
                end_date=end_date,
                limit=limit,
                offset=offset,
                complainted_mchid=complainted_mchid,
            )
            if offset == 0:
                total = page.total_count
            for complaint in page.data:
                if complaint.complaint_id not in seen:
                    seen.add(complaint.complaint_id)
                    yield complaint
            offset += len(page.data)
            if len(page.data) < limit or (total is not None and offset >= total):
                return

    async def get_complaint(self, complaint_id: str) -> Complaint:
        """Fetch one complaint's detail."""
        if not complaint_id:
            raise ValueError("complaint_id is empty")
        return await self._get_verified(
            Complaint, "detail", f"{COMPLAINTS_PATH}/{quote(complaint_id, safe='')}"
        )

    async def get_history(self, complaint_id: str, *, limit: int = 100, offset: int = 0) -> HistoryPage:
        """Fetch one page of a complaint's negotiation history."""
        if not complaint_id:
            raise ValueError("complaint_id is empty")
        if not 1 <= limit <= 300 or offset < 0:
            raise ValueError("limit must be in [1, 300] and offset >= 0")
        path = f"{COMPLAINTS_PATH}/{quote(complaint_id, safe='')}/negotiation-historys"
        query = _query([("limit", str(limit)), ("offset", str(offset))])
        return await self._get_verified(HistoryPage, "history", f"{path}?{query}")

    async def iter_history(self, complaint_id: str) -> list[HistoryEntry]:
        """Fetch the complete negotiation history (all pages, each entry once)."""
        limit = max(1, min(300, self.settings.history_page_size))
        offset, total = 0, None
        entries: dict[str, HistoryEntry] = {}
        while True:
            page = await self.get_history(complaint_id, limit=limit, offset=offset)
            if offset == 0:
                total = page.total_count
            for entry in page.data:
                entries.setdefault(entry.log_id, entry)
            offset += len(page.data)
            if len(page.data) < limit or (total is not None and offset >= total):
                return list(entries.values())

    # -- certificates and media -------------------------------------------------------------------------

    async def download_certificates(self) -> list[PlatformCertificate]:
        """Download, decrypt and trust the platform certificates (old ones stay trusted)."""
        response = await self._get("certificates", CERTIFICATES_PATH)
        listing = self._model(CertificateList, self._json(response, "certificates"), "certificates")
        request_id = header(response.headers, "Request-ID")
        certificates: list[PlatformCertificate] = []
        for item in listing.data:
            resource = item.encrypt_certificate
            if resource.algorithm != AEAD_ALGORITHM:
                raise ResponseVerificationError(
                    f"certificate {item.serial_no[:64]!r}: unsupported algorithm {resource.algorithm[:40]!r}",
                    channel=CHANNEL,
                    request_id=request_id,
                )
            try:
                pem = aead_open(
                    self.credentials.apiv3_key,
                    nonce=resource.nonce,
                    associated_data=resource.associated_data,
                    ciphertext=resource.ciphertext,
                )
                serial, key = load_certificate(pem)
            except ComplaintDeskError as exc:
                raise ResponseVerificationError(
                    f"certificate {item.serial_no[:64]!r} could not be opened: {exc.message}",
                    channel=CHANNEL,
                    request_id=request_id,
                ) from exc
            if item.serial_no and item.serial_no.upper().lstrip("0") != serial.lstrip("0"):
                raise ResponseVerificationError(
                    f"certificate serial {serial} does not match the listed serial_no",
                    channel=CHANNEL,
                    request_id=request_id,
                )
            certificates.append(PlatformCertificate(serial, item.effective_time, item.expire_time, pem, key))
        # the response may be signed by a certificate it introduces (first download or rotation):
        # its authenticity then rests on the AEAD, which only WeChat Pay and we can produce
        candidates = self.credentials.verifier.copy()
        for cert in certificates:
            if cert.serial_no not in candidates:
                candidates.add_key(cert.serial_no, cert.public_key, expires=cert.not_after)
        self._verify(response, "certificates", keys=candidates)
        for cert in certificates:
            if cert.serial_no not in self.credentials.verifier:
                self.credentials.verifier.add_key(cert.serial_no, cert.public_key, expires=cert.not_after)
        return certificates

    def _media_request_url(self, media_url: str) -> httpx.URL:
        """Resolve ``media_url`` without touching its escaped path; refuse foreign hosts."""
        url = httpx.URL(media_url)
        base = self._base_url
        prefix = base.raw_path.rstrip(b"/")
        if not url.is_absolute_url:
            if not url.raw_path.startswith(b"/"):
                raise ValueError("media_url must be absolute or start with '/'")
            return base.copy_with(raw_path=prefix + url.raw_path)
        if (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port):
            return url
        if url.host in WECHATPAY_API_HOSTS:
            if base.host in WECHATPAY_API_HOSTS:
                if url.scheme != "https":
                    raise ValueError("media_url must use https")
                return url
            # talking to a sandbox: keep its traffic there, path and query verbatim
            return base.copy_with(raw_path=prefix + url.raw_path)
        raise ValueError("media_url does not point at a WeChat Pay API host")

    async def download_image(self, media_url: str) -> tuple[bytes, str]:
        """Download a complaint image from its ``media_url`` (signed GET; the binary reply is unsigned)."""
        response = await self._get("image", self._media_request_url(media_url))
        content_type = header(response.headers, "Content-Type") or "application/octet-stream"
        return response.content, content_type
