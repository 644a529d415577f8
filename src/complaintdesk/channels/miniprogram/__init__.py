"""WeChat Mini Program 交易投诉 channel: message server, access token, detail, actions, mapping, enums."""

from __future__ import annotations

from complaintdesk.channels.miniprogram.actions import (
    MP_ACTIONS,
    STATUS_ACTIONS,
    Limits,
    allowed_mp_actions,
    applied_in_history,
)
from complaintdesk.channels.miniprogram.channel import MiniProgramChannel
from complaintdesk.channels.miniprogram.client import MiniProgramClient
from complaintdesk.channels.miniprogram.crypto import aes_key, check_signature, decrypt, encrypt, signature
from complaintdesk.channels.miniprogram.enums import (
    APPEAL_STATES,
    BLAME_RESULTS,
    COMPLAINT_TYPES,
    ENUMS,
    ITEM_TYPES,
    RETURN_ORDER_STATUSES,
    STATUSES,
    Label,
    label,
)
from complaintdesk.channels.miniprogram.errors import error_from_errcode, is_media_expired
from complaintdesk.channels.miniprogram.mapping import UNIFIED_STATUS, to_history, to_snapshot, unified_status
from complaintdesk.channels.miniprogram.models import ComplaintDetail, ComplaintOrder, Item, ReturnBill
from complaintdesk.channels.miniprogram.runtime import build_runtime, build_webhook_handler
from complaintdesk.channels.miniprogram.token import AccessTokens, InMemoryTokenStore
from complaintdesk.channels.miniprogram.webhook import COMPLAINT_EVENT, MiniProgramWebhookHandler, dedupe_key

__all__ = [
    "APPEAL_STATES",
    "BLAME_RESULTS",
    "COMPLAINT_EVENT",
    "COMPLAINT_TYPES",
    "ENUMS",
    "ITEM_TYPES",
    "MP_ACTIONS",
    "RETURN_ORDER_STATUSES",
    "STATUSES",
    "STATUS_ACTIONS",
    "UNIFIED_STATUS",
    "AccessTokens",
    "ComplaintDetail",
    "ComplaintOrder",
    "InMemoryTokenStore",
    "Item",
    "Label",
    "Limits",
    "MiniProgramChannel",
    "MiniProgramClient",
    "MiniProgramWebhookHandler",
    "ReturnBill",
    "aes_key",
    "allowed_mp_actions",
    "applied_in_history",
    "build_runtime",
    "build_webhook_handler",
    "check_signature",
    "decrypt",
    "dedupe_key",
    "encrypt",
    "error_from_errcode",
    "is_media_expired",
    "label",
    "signature",
    "to_history",
    "to_snapshot",
    "unified_status",
]
