"""The write methods: ``COMPLAINT_COMMIT_RESPONSE``, ``COMPLAINT_COMMIT_COMPLETE``, ``COMPLAINT_FILE_UPLOAD``.

Checks after the envelope, in order: ``complaintId`` (``130010``/``130003``/``130004``); text (required
for a reply, optional for complete; at most ``reply_max_chars`` = 200); ``responseImages`` (at most 4:
``130009``; each a ``fileId`` this caller uploaded); state (PROCESSED: ``130002``). Then the action is
applied, counted in ``stats.applied`` and answered ``{flag: true, respCode: "130000", respDesc: "受理成功"}``
unless an after-apply fault replaces or drops the answer. Replies are not deduplicated: a retried reply
is a second reply. ``actType`` (meaning unknown) may be any integer and is only recorded.

Upload: ``img`` is the Base64 file content (a ``data:…;base64,`` prefix is tolerated); over 2 MB decoded
is ``130007``, anything but JPG/PNG/BMP (by magic bytes) ``130008``; the answer is ``{fileId: <long>}``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from complaintdesk.sandbox.huishouqian import params as p
from complaintdesk.sandbox.huishouqian.codes import (
    ACCEPTED,
    BAD_FILE_TYPE,
    BAD_PARAMS,
    ERROR_MESSAGES,
    FILE_TOO_LARGE,
    GatewayError,
)
from complaintdesk.sandbox.huishouqian.crypto import image_suffix
from complaintdesk.sandbox.huishouqian.envelope import Call
from complaintdesk.sandbox.huishouqian.queries import own_merchant_only, visible_complaint
from complaintdesk.sandbox.huishouqian.state import HuishouqianState, InvalidState

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
ACCEPTED_RESULT: dict[str, Any] = {"flag": True, "respCode": ACCEPTED, "respDesc": ERROR_MESSAGES[ACCEPTED]}


def _images(state: HuishouqianState, call: Call) -> list[int]:
    ids = p.file_ids(call.params, "responseImages", state.max_reply_images)
    if any(state.media.upload(file_id, owner=call.merchant_no) is None for file_id in ids):
        raise GatewayError(BAD_PARAMS, "responseImages中的fileId不存在")
    return ids


def commit_response(state: HuishouqianState, call: Call) -> dict[str, Any]:
    """Reply to the user (PENDING -> PROCESSING)."""
    own_merchant_only(call)
    complaint = visible_complaint(state, call, p.complaint_id(call.params))
    content = p.text(call.params, "responseContent", required=True, max_chars=state.reply_max_chars)
    images = _images(state, call)
    act_type = p.optional_integer(call.params, "actType")
    assert content is not None
    try:
        state.merchant_reply(complaint.complaint_id, content, uploads=images, act_type=act_type, via_api=True)
    except InvalidState as exc:
        raise GatewayError(BAD_PARAMS, str(exc)) from None
    state.stats.applied[call.endpoint] += 1
    return dict(ACCEPTED_RESULT)


def commit_complete(state: HuishouqianState, call: Call) -> dict[str, Any]:
    """Report handling complete (-> PROCESSED)."""
    own_merchant_only(call)
    complaint = visible_complaint(state, call, p.complaint_id(call.params))
    content = p.text(call.params, "responseContent", max_chars=state.reply_max_chars)
    images = _images(state, call)
    try:
        state.complete(complaint.complaint_id, content, uploads=images, via_api=True)
    except InvalidState as exc:
        raise GatewayError(BAD_PARAMS, str(exc)) from None
    state.stats.applied[call.endpoint] += 1
    return dict(ACCEPTED_RESULT)


def upload(state: HuishouqianState, call: Call) -> dict[str, Any]:
    """Keep an image for later ``responseImages``."""
    own_merchant_only(call)
    img = p.text(call.params, "img", required=True)
    assert img is not None
    if img.startswith("data:") and ";base64," in img:
        img = img.split(";base64,", 1)[1]
    try:
        data = base64.b64decode(img, validate=True)
    except (binascii.Error, ValueError):
        raise GatewayError(BAD_PARAMS, "img须为Base64编码的文件内容") from None
    if not data:
        raise GatewayError(BAD_PARAMS, "img不能为空")
    if len(data) > MAX_UPLOAD_BYTES:
        raise GatewayError(FILE_TOO_LARGE)
    if image_suffix(data) is None:
        raise GatewayError(BAD_FILE_TYPE)
    file_id = state.upload_image(call.merchant_no, data)
    state.stats.applied[call.endpoint] += 1
    return {"fileId": file_id}
