"""Async client for the Huishouqian complaint methods (HS2, HS3) on top of :mod:`.transport`.

Usage::

    async with HuishouqianClient(credentials, settings=settings.huishouqian) as client:
        async for row in client.iter_complaints(begin_date=d1, end_date=d2):
            ...
        await client.commit_response(complaint_id, content="已为您处理", images=[])

Client-side limits (refused with ``ActionRefused`` before anything is sent): ``limit`` 1–500, a date window
of at most ``query_window_days`` calendar days (inclusive), both dates or neither.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any, TypeVar

from pydantic import ValidationError

from complaintdesk.channels.huishouqian.errors import OK_CODES, UNCERTAIN_CODES, error_for_code
from complaintdesk.channels.huishouqian.models import (
    CommitResult,
    ComplaintRow,
    DownloadResult,
    HistoryPage,
    HistoryRow,
    HsModel,
    QueryPage,
    UploadResult,
)
from complaintdesk.channels.huishouqian.transport import HuishouqianTransport
from complaintdesk.errors import ActionRefused, ChannelError, UpstreamNotFound

__all__ = ["DATE_FORMATS", "MAX_QUERY_LIMIT", "HuishouqianClient", "format_window"]

CHANNEL = "huishouqian"
MAX_QUERY_LIMIT = 500
MAX_HISTORY_LIMIT = 300  # WeChat Pay's bound underneath; Huishouqian publishes none
#: ``beginDate``/``endDate`` formats (account option ``date_format``); the seed documents ``yyyy-MM-dd``.
DATE_FORMATS: dict[str, Callable[[date, date], tuple[str, str]]] = {
    "yyyy-MM-dd": lambda b, e: (b.isoformat(), e.isoformat()),
    "yyyyMMdd": lambda b, e: (b.strftime("%Y%m%d"), e.strftime("%Y%m%d")),
    "yyyyMMddHHmmss": lambda b, e: (b.strftime("%Y%m%d000000"), e.strftime("%Y%m%d235959")),
    "yyyy-MM-dd HH:mm:ss": lambda b, e: (f"{b.isoformat()} 00:00:00", f"{e.isoformat()} 23:59:59"),
}
_M = TypeVar("_M", bound=HsModel)


def format_window(begin: date, end: date, date_format: str) -> tuple[str, str]:
    """Render an inclusive date window in the configured wire format."""
    return DATE_FORMATS[date_format](begin, end)


def _model(model: type[_M], doc: dict[str, Any], method: str) -> _M:
    """Parse ``doc`` or raise a ``ChannelError`` naming field locations only (values may be personal)."""
    try:
        return model.from_raw(doc)
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['type']}"
            for err in exc.errors(include_input=False, include_url=False)[:5]
        )
        raise ChannelError(
            f"{method} result does not match the protocol ({where})", channel=CHANNEL
        ) from None


class HuishouqianClient(HuishouqianTransport):
    """The six complaint methods for one merchant (or agent) number."""

    # -- reads ------------------------------------------------------------------------------------------

    def _check_window(self, begin: date | None, end: date | None) -> tuple[str, str] | None:
        if begin is None and end is None:
            return None
        if begin is None or end is None:
            raise ActionRefused("give both beginDate and endDate, or neither", field="beginDate")
        if end < begin:
            raise ActionRefused("endDate is before beginDate", field="endDate")
        days = (end - begin).days + 1
        allowed = self.settings.query_window_days
        if days > allowed:
            raise ActionRefused(
                f"the query window covers {days} days; Huishouqian takes at most {allowed} (split it)",
                field="endDate",
            )
        if self.date_format not in DATE_FORMATS:
            raise ActionRefused(
                f"date_format {self.date_format[:32]!r} is not one of {', '.join(DATE_FORMATS)}",
                field="date_format",
            )
        return format_window(begin, end, self.date_format)

    async def query(
        self,
        *,
        begin_date: date | None = None,
        end_date: date | None = None,
        limit: int = 100,
        offset: int = 0,
        complaint_id: str | None = None,
        merchant_trade_no: str | None = None,
        merchant_no: str | None = None,
        agent_merchant_no: str | None = None,
    ) -> QueryPage:
        """One ``COMPLAINT_QUERY`` page (filters are optional; the window spans ≤ ``query_window_days``)."""
        if isinstance(limit, bool) or not 1 <= limit <= MAX_QUERY_LIMIT:
            raise ActionRefused(f"limit is {limit}; Huishouqian takes 1 to {MAX_QUERY_LIMIT}", field="limit")
        if offset < 0:
            raise ActionRefused("offset must not be negative", field="offset")
        window = self._check_window(begin_date, end_date)
        business: dict[str, Any] = {
            "beginDate": window[0] if window else None,
            "endDate": window[1] if window else None,
            "limit": limit,
            "offset": offset,
            "agentMerchantNo": agent_merchant_no or None,
            "merchantNo": merchant_no or None,
            "complaintId": complaint_id or None,
            "merchantTradeNo": merchant_trade_no or None,
        }
        doc = await self.call("COMPLAINT_QUERY", business)
        return _model(QueryPage, doc, "COMPLAINT_QUERY")

    async def iter_complaints(
        self,
        *,
        begin_date: date,
        end_date: date,
        merchant_no: str | None = None,
        agent_merchant_no: str | None = None,
    ) -> AsyncIterator[ComplaintRow]:
        """Yield every complaint of the window, page by page, each once.

        ``totalSize`` is read as the grand total only when it exceeds the page (the seed calls it 返回条数,
        "rows returned", which is ambiguous); otherwise paging stops at the first short page.
        """
        self._check_window(begin_date, end_date)
        limit = max(1, min(MAX_QUERY_LIMIT, self.settings.query_page_size))
        offset = 0
        seen: set[str] = set()
        while True:
            page = await self.query(
                begin_date=begin_date,
                end_date=end_date,
                limit=limit,
                offset=offset,
                merchant_no=merchant_no,
                agent_merchant_no=agent_merchant_no,
            )
            fresh = [row for row in page.data if row.complaint_id not in seen]
            for row in fresh:
                seen.add(row.complaint_id)
                yield row
            count = len(page.data)
            offset += count
            total = page.total_size
            if count < limit or not fresh or (total is not None and total > count and offset >= total):
                return

    async def get_complaint(
        self, complaint_id: str, *, merchant_no: str | None = None, agent_merchant_no: str | None = None
    ) -> ComplaintRow:
        """Fetch one complaint by ``complaintId`` (``UpstreamNotFound`` when no row carries it)."""
        if not complaint_id:
            raise ActionRefused("complaintId is empty", field="complaintId")
        page = await self.query(
            complaint_id=complaint_id, limit=1, merchant_no=merchant_no, agent_merchant_no=agent_merchant_no
        )
        for row in page.data:
            if row.complaint_id == complaint_id:
                return row
        raise UpstreamNotFound(
            f"COMPLAINT_QUERY: no complaint {complaint_id[:64]!r}", channel=CHANNEL, status=200, code=""
        )

    async def query_history(self, complaint_id: str, *, limit: int = 100, offset: int = 0) -> HistoryPage:
        """One ``COMPLAINT_QUERY_HISTORY`` page."""
        if not complaint_id:
            raise ActionRefused("complaintId is empty", field="complaintId")
        if not 1 <= limit <= MAX_HISTORY_LIMIT or offset < 0:
            raise ActionRefused(f"history limit must be 1 to {MAX_HISTORY_LIMIT}", field="limit")
        business = {"complaintId": complaint_id, "limit": limit, "offset": offset}
        doc = await self.call("COMPLAINT_QUERY_HISTORY", business)
        return _model(HistoryPage, doc, "COMPLAINT_QUERY_HISTORY")

    async def iter_history(self, complaint_id: str) -> list[HistoryRow]:
        """Fetch the whole negotiation history (all pages, each ``logId`` once)."""
        limit = max(1, min(MAX_HISTORY_LIMIT, self.settings.history_page_size))
        offset = 0
        rows: dict[str, HistoryRow] = {}
        while True:
            page = await self.query_history(complaint_id, limit=limit, offset=offset)
            before = len(rows)
            for row in page.data:
                rows.setdefault(row.log_id, row)
            count = len(page.data)
            offset += count
            total = page.total_size
            if (
                count < limit
                or len(rows) == before
                or (total is not None and total > count and offset >= total)
            ):
                return list(rows.values())

    async def download_media(
        self, complaint_id: str, *, media_url: str, media_type: str
    ) -> tuple[bytes, str]:
        """Download a complaint image (``COMPLAINT_FILE_DOWNLOAD``): (bytes, suffix as given upstream)."""
        if not complaint_id or not media_url:
            raise ActionRefused("complaintId and mediaUrl are required", field="mediaUrl")
        business = {"complaintId": complaint_id, "mediaUrl": media_url, "mediaType": media_type or None}
        doc = await self.call("COMPLAINT_FILE_DOWNLOAD", business)
        result = _model(DownloadResult, doc, "COMPLAINT_FILE_DOWNLOAD")
        try:
            data = base64.b64decode(result.bytes_, validate=True)
        except (binascii.Error, ValueError):
            raise ChannelError("COMPLAINT_FILE_DOWNLOAD: 'bytes' is not Base64", channel=CHANNEL) from None
        if not data:
            raise ChannelError("COMPLAINT_FILE_DOWNLOAD: empty file", channel=CHANNEL)
        return data, result.suffix

    # -- writes -----------------------------------------------------------------------------------------

    async def _commit(self, method: str, business: dict[str, Any]) -> CommitResult:
        """Send a commit and refuse a ``flag: false`` (or non-OK ``respCode``) answer."""
        result = _model(CommitResult, await self.call(method, business), method)
        code = result.resp_code.strip()
        if result.flag is False or (result.flag is None and code not in OK_CODES):
            error = error_for_code(code, result.resp_desc, method=method)
            if code in UNCERTAIN_CODES:
                error.retryable = False
                error.context["uncertain"] = True
            raise error
        return result

    async def commit_response(
        self, complaint_id: str, *, content: str, images: list[str], act_type: int | None = None
    ) -> CommitResult:
        """Reply to the user (``COMPLAINT_COMMIT_RESPONSE``); ``images`` are upload ``fileId`` values."""
        if not complaint_id or not content:
            raise ActionRefused("complaintId and responseContent are required", field="content")
        business = {
            "complaintId": complaint_id,
            "responseContent": content,
            "responseImages": list(images) or None,
            "actType": act_type,
        }
        return await self._commit("COMPLAINT_COMMIT_RESPONSE", business)

    async def commit_complete(self, complaint_id: str, *, content: str, images: list[str]) -> CommitResult:
        """Report handling complete (``COMPLAINT_COMMIT_COMPLETE``) with a message to the user."""
        if not complaint_id or not content:
            raise ActionRefused("complaintId and responseContent are required", field="content")
        business = {
            "complaintId": complaint_id,
            "responseContent": content,
            "responseImages": list(images) or None,
        }
        return await self._commit("COMPLAINT_COMMIT_COMPLETE", business)

    async def upload_image(self, data: bytes) -> str:
        """Upload evidence (``COMPLAINT_FILE_UPLOAD``, ``img`` = Base64 of the file); return the fileId."""
        if not data:
            raise ActionRefused("the image is empty", field="image")
        doc = await self.call("COMPLAINT_FILE_UPLOAD", {"img": base64.b64encode(data).decode("ascii")})
        return _model(UploadResult, doc, "COMPLAINT_FILE_UPLOAD").file_id
