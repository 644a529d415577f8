"""Write calls of the complaint API: replies, completion, refund decisions, image upload, callback URL.

Bodies are serialised once (compact UTF-8 JSON, no nulls) and those exact bytes are sent and signed.
Writes are never repeated once they may have reached WeChat Pay (see :mod:`.transport`).
Parameter rules live in :mod:`.actions`; the checks here only guard against misuse of the client.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx

from complaintdesk.channels.wechatpay.images import IMAGE_TYPES, check_image
from complaintdesk.channels.wechatpay.transport import COMPLAINTS_PATH, WeChatPayTransport, encode_json
from complaintdesk.errors import ChannelError, UpstreamNotFound

__all__ = ["NOTIFICATIONS_PATH", "UPLOAD_PATH", "WeChatPayCommands", "multipart_body"]

logger = logging.getLogger(__name__)

CHANNEL = "wechatpay"
UPLOAD_PATH = "/v3/merchant-service/images/upload"
NOTIFICATIONS_PATH = "/v3/merchant-service/complaint-notifications"
MAX_CALLBACK_URL = 255
_FILENAME_SUFFIXES = tuple(f".{ext}" for ext in IMAGE_TYPES.values())


def _complaint_path(complaint_id: str, action: str) -> str:
    if not complaint_id:
        raise ValueError("complaint_id is empty")
    return f"{COMPLAINTS_PATH}/{quote(complaint_id, safe='')}/{action}"


def _require(value: str, name: str) -> str:
    if not value:
        raise ValueError(f"{name} is empty")
    return value


def multipart_body(meta: str, filename: str, content_type: str, data: bytes) -> tuple[bytes, str]:
    """Return (body, boundary) of a ``multipart/form-data`` upload: the ``meta`` part first, then ``file``."""
    boundary = secrets.token_hex(16)
    while boundary.encode("ascii") in data:  # pragma: no cover - 128 random bits
        boundary = secrets.token_hex(16)
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="meta"\r\n'
            "Content-Type: application/json\r\n\r\n"
            f"{meta}\r\n"
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode("ascii")
    )
    return body, boundary


class WeChatPayCommands(WeChatPayTransport):
    """POST/PUT/DELETE calls; each 2xx answer (also an empty 204) must carry a valid WeChat Pay signature."""

    async def _post_json(self, endpoint: str, url: str, doc: dict[str, Any]) -> httpx.Response:
        return await self._write(endpoint, "POST", url, body=encode_json(doc))

    async def reply(
        self,
        complaint_id: str,
        *,
        complainted_mchid: str,
        content: str,
        images: list[str],
        jump_url: str | None = None,
        jump_url_text: str | None = None,
        mini_program_jump_info: dict[str, str] | None = None,
    ) -> None:
        """Reply to the user (``/response``, 204); ``images`` are media ids. Moves PENDING to PROCESSING."""
        doc: dict[str, Any] = {
            "complainted_mchid": _require(complainted_mchid, "complainted_mchid"),
            "response_content": _require(content, "content"),
            "response_images": list(images) or None,
            "jump_url": jump_url,
            "jump_url_text": jump_url_text,
            "mini_program_jump_info": mini_program_jump_info,
        }
        await self._post_json("reply", _complaint_path(complaint_id, "response"), doc)

    async def reply_immediate(
        self, complaint_id: str, *, complainted_mchid: str, message: dict[str, Any], idempotent_id: str
    ) -> str | None:
        """Reply to a need-immediate-service complaint with a rich message; return the ``log_id``.

        WeChat Pay processes one ``idempotent_id`` once. A signed 200 without ``log_id`` returns None
        (the reply was accepted; only the reference is missing).
        """
        doc = {
            "complainted_mchid": _require(complainted_mchid, "complainted_mchid"),
            "message": message,
            "idempotent_id": _require(idempotent_id, "idempotent_id"),
        }
        url = _complaint_path(complaint_id, "response-immediate-service")
        response = await self._post_json("reply_immediate", url, doc)
        try:
            log_id = self._json(response, "reply_immediate").get("log_id")
        except ChannelError:
            log_id = None
        if not isinstance(log_id, str) or not log_id:
            logger.warning("wechatpay reply_immediate accepted without a log_id (complaint %s)", complaint_id)
            return None
        return log_id

    async def complete(self, complaint_id: str, *, complainted_mchid: str) -> None:
        """Tell WeChat Pay the complaint is handled (``/complete``, 204); the user gets a survey."""
        doc = {"complainted_mchid": _require(complainted_mchid, "complainted_mchid")}
        await self._post_json("complete", _complaint_path(complaint_id, "complete"), doc)

    async def update_refund_progress(
        self,
        complaint_id: str,
        *,
        action: Literal["APPROVE", "REJECT"],
        launch_refund_day: int | None = None,
        reject_reason: str | None = None,
        reject_media_list: list[str] | None = None,
        remark: str | None = None,
    ) -> None:
        """Send the refund decision (``/update-refund-progress``, 204). No ``complainted_mchid`` (spec).

        Only the fields of the chosen action are sent; passing a field of the other action is a ValueError.
        """
        doc: dict[str, Any] = {"action": action}
        if action == "APPROVE":
            if reject_reason is not None or reject_media_list:
                raise ValueError("reject_reason and reject_media_list only go with REJECT")
            doc["launch_refund_day"] = launch_refund_day
        elif action == "REJECT":
            if launch_refund_day is not None:
                raise ValueError("launch_refund_day only goes with APPROVE")
            doc["reject_reason"] = reject_reason
            doc["reject_media_list"] = list(reject_media_list or []) or None
        else:
            raise ValueError("action must be APPROVE or REJECT")
        doc["remark"] = remark
        await self._post_json("refund_progress", _complaint_path(complaint_id, "update-refund-progress"), doc)

    async def upload_image(self, data: bytes, filename: str) -> str:
        """Upload a JPG/PNG/BMP (≤ 2 MB) and return its ``media_id``.

        ``filename`` must end in .jpg, .png or .bmp. The ``meta`` JSON is serialised once and that exact
        string is both the ``meta`` part and the signed body.
        """
        if not filename.lower().endswith(_FILENAME_SUFFIXES) or len(filename) > 128:
            raise ValueError("filename must end in .jpg, .png or .bmp and be at most 128 characters")
        if any(char in filename for char in '"\r\n\\') or not filename.isascii():
            raise ValueError("filename must be plain ASCII without quotes or line breaks")
        content_type = check_image(data, filename)
        meta = encode_json({"filename": filename, "sha256": hashlib.sha256(data).hexdigest()}).decode("utf-8")
        body, boundary = multipart_body(meta, filename, content_type, data)
        response = await self._write(
            "upload",
            "POST",
            UPLOAD_PATH,
            body=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            sign_body=meta,
        )
        media_id = self._json(response, "upload").get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise ChannelError("upload response has no media_id", channel=CHANNEL)
        return media_id

    # -- complaint notification callback URL ------------------------------------------------------------

    @staticmethod
    def _url_of(doc: dict[str, Any]) -> str:
        url = doc.get("url")
        if not isinstance(url, str) or not url:
            raise ChannelError("complaint-notifications response has no url", channel=CHANNEL)
        return url

    async def get_callback_url(self) -> str | None:
        """Return the complaint callback URL, or None when none is configured (RESOURCE_NOT_EXISTS)."""
        try:
            response = await self._get("notifications", NOTIFICATIONS_PATH)
        except UpstreamNotFound as exc:
            if exc.code == "RESOURCE_NOT_EXISTS" and exc.status in (400, 404):
                return None
            raise
        self._verify(response, "notifications")
        return self._url_of(self._json(response, "notifications"))

    async def set_callback_url(self, url: str) -> str:
        """Point complaint notifications at ``url`` (https): PUT when one exists, POST when none does.

        Returns the URL WeChat Pay confirms. Nothing is written when ``url`` is already configured.
        """
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.netloc or len(url) > MAX_CALLBACK_URL:
            raise ValueError(f"the callback URL must be https:// and at most {MAX_CALLBACK_URL} characters")
        current = await self.get_callback_url()
        if current == url:
            return url
        method = "POST" if current is None else "PUT"
        response = await self._write(
            "notifications", method, NOTIFICATIONS_PATH, body=encode_json({"url": url})
        )
        return self._url_of(self._json(response, "notifications"))

    async def delete_callback_url(self) -> None:
        """Remove the complaint callback URL (204)."""
        await self._write("notifications", "DELETE", NOTIFICATIONS_PATH)
