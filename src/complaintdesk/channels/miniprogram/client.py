"""Async client for the Mini Program 交易投诉 APIs (``/wxaapi/minishop/*``) and image upload.

Usage::

    async with MiniProgramClient(appid="wx…", app_secret=secret, settings=settings.miniprogram) as client:
        detail = await client.get_detail("12345")
        media = await client.upload_image(png_bytes, "evidence.png", "image/png")
        await client.respond("12345", content="已为您处理", media_ids=[media.media_id], agree=1)

Writes take the complaint id as text and send it as the number the API expects. Parameter rules live in
:mod:`.actions`; the checks here only guard against misuse of the client.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError

from complaintdesk.channels.miniprogram.errors import error_from_http, shape_error
from complaintdesk.channels.miniprogram.models import ComplaintDetail, UploadedMedia
from complaintdesk.channels.miniprogram.transport import MiniProgramTransport, encode_json
from complaintdesk.errors import ChannelError, ChannelTransportError, InvalidRequest

__all__ = [
    "APPEAL_PATH",
    "DETAIL_PATH",
    "RESPOND_PATH",
    "SUPPLY_PROOF_PATH",
    "SUPPLY_REFUND_PATH",
    "UPLOAD_PATH",
    "MiniProgramClient",
    "numeric_id",
]

CHANNEL = "miniprogram"
DETAIL_PATH = "/wxaapi/minishop/complaintOrderDetail"
RESPOND_PATH = "/wxaapi/minishop/bussiRespondComplaint"
SUPPLY_PROOF_PATH = "/wxaapi/minishop/bussiSupplyProof"
SUPPLY_REFUND_PATH = "/wxaapi/minishop/bussiSupplyRefund"
APPEAL_PATH = "/wxaapi/minishop/busiAppeal"
UPLOAD_PATH = "/cgi-bin/media/upload"
_INT64_MAX = 2**63 - 1


def numeric_id(value: str | int, name: str = "complaintOrderId") -> int:
    """The int64 the write APIs expect; ``ValueError`` for anything that is not a positive whole number."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= _INT64_MAX:
        raise ValueError(
            f"{name} must be a positive whole number of at most 19 digits (not a WeChat Pay order id)"
        )
    return int(text)


class MiniProgramClient(MiniProgramTransport):
    """The complaint detail, the four merchant actions, image upload and evidence download."""

    async def get_detail(self, complaint_order_id: str) -> ComplaintDetail:
        """``GET complaintOrderDetail`` (id in the query string, as every SDK sends it)."""
        try:
            complaint_id = numeric_id(complaint_order_id)
        except ValueError as exc:
            # WeChat answers such ids with -1 "system error" (spec A.7): refuse before wasting retries
            raise InvalidRequest(
                f"detail: {str(complaint_order_id)[:40]!r} is not a complaint id: {exc}", channel=CHANNEL
            ) from None
        doc = await self._call(
            "detail", "GET", DETAIL_PATH, params={"complaintOrderId": str(complaint_id)}, retry=True
        )
        body = {key: value for key, value in doc.items() if key not in ("errcode", "errmsg")}
        try:
            return ComplaintDetail.from_raw(body)
        except ValidationError as exc:
            raise shape_error("complaintOrderDetail answer", exc) from None

    async def _write(self, endpoint: str, path: str, doc: dict[str, Any]) -> dict[str, Any]:
        return await self._call(
            endpoint,
            "POST",
            path,
            retry=False,
            content=encode_json(doc),
            headers={"Content-Type": "application/json"},
        )

    @staticmethod
    def _body(complaint_order_id: str, content: str, media_ids: list[str]) -> dict[str, Any]:
        if not content and not media_ids:
            raise ValueError("send content, media ids, or both")
        return {
            "complaintOrderId": numeric_id(complaint_order_id),
            "content": content,
            "mediaIdList": list(media_ids),
        }

    async def respond(
        self, complaint_order_id: str, *, content: str, media_ids: list[str], agree: int
    ) -> dict[str, Any]:
        """``bussiRespondComplaint``: ``agree`` 1 = agree to settle (同意和解), 2 = refuse (拒绝和解)."""
        if agree not in (1, 2):
            raise ValueError("agree must be 1 (agree to settle) or 2 (refuse)")
        doc = self._body(complaint_order_id, content, media_ids) | {"bussiHandle": agree}
        return await self._write("respond", RESPOND_PATH, doc)

    async def supply_proof(
        self, complaint_order_id: str, *, content: str, media_ids: list[str]
    ) -> dict[str, Any]:
        """``bussiSupplyProof``: supplementary evidence."""
        return await self._write(
            "supply_proof", SUPPLY_PROOF_PATH, self._body(complaint_order_id, content, media_ids)
        )

    async def supply_refund(
        self,
        complaint_order_id: str,
        *,
        content: str,
        media_ids: list[str],
        accept_return: int | None = None,
        return_id: str | int | None = None,
    ) -> dict[str, Any]:
        """``bussiSupplyRefund``: processing/refund proof (+ acceptReturn/returnId in a return flow)."""
        if (accept_return is None) != (return_id is None):
            raise ValueError("accept_return and return_id go together (return flow) or not at all")
        doc = self._body(complaint_order_id, content, media_ids)
        if accept_return is not None and return_id is not None:
            doc["acceptReturn"] = accept_return
            doc["returnId"] = numeric_id(return_id, "returnId")
        return await self._write("supply_refund", SUPPLY_REFUND_PATH, doc)

    async def appeal(self, complaint_order_id: str, *, content: str, media_ids: list[str]) -> dict[str, Any]:
        """``busiAppeal``: the merchant's appeal (only while ``appealState`` is 401, 72 h)."""
        return await self._write("appeal", APPEAL_PATH, self._body(complaint_order_id, content, media_ids))

    async def upload_image(self, data: bytes, filename: str, content_type: str) -> UploadedMedia:
        """``POST /cgi-bin/media/upload?type=image`` (multipart field ``media``); the id lives 3 days."""
        if not data:
            raise ValueError("the image is empty")
        if any(char in filename for char in '"\r\n\\') or not filename.isascii() or not filename:
            raise ValueError("filename must be plain ASCII without quotes or line breaks")
        doc = await self._call(
            "upload",
            "POST",
            UPLOAD_PATH,
            params={"type": "image"},
            retry=True,
            files={"media": (filename, data, content_type)},
        )
        try:
            media = UploadedMedia.from_raw(doc)
        except ValidationError as exc:
            raise shape_error("media upload answer", exc) from None
        if not media.media_id:
            raise ChannelError("upload: the answer has an empty media_id", channel=CHANNEL)
        return media

    async def download_image(self, url: httpx.URL) -> tuple[bytes, str]:
        """GET a complaint image (a CDN URL, fetched without the access token); retried like a read."""
        attempt = 0
        while True:
            error: ChannelError
            try:
                response = await self._send("image", "GET", url)
            except ChannelTransportError as exc:
                if exc.sent:
                    raise
                error = exc
            else:
                if 200 <= response.status_code < 300:
                    content_type = response.headers.get("Content-Type", "application/octet-stream")
                    return response.content, content_type
                error = error_from_http("image", response.status_code, b"")
                if not error.retryable:
                    raise error
            if attempt >= self.settings.max_retries:
                raise error
            attempt += 1
            await self._pause("image", attempt, error)
