"""WeChat Pay APIv3 consumer-complaints channel: signing, verifying, webhook, reads, writes, mapping."""

from __future__ import annotations

from complaintdesk.channels.wechatpay.auth import WeChatPayAuth, build_authorization, build_sign_message
from complaintdesk.channels.wechatpay.channel import WeChatPayChannel, split_window
from complaintdesk.channels.wechatpay.client import WeChatPayClient, WeChatPayCredentials
from complaintdesk.channels.wechatpay.crypto import (
    VerifierKeys,
    aead_open,
    decrypt_oaep,
    load_certificate,
    load_private_key,
    load_public_key,
    sign,
)
from complaintdesk.channels.wechatpay.errors import error_from_response
from complaintdesk.channels.wechatpay.mapping import (
    ACTION_TYPE_LABELS,
    KNOWN_OPERATE_TYPES,
    OPERATE_TYPE_LABELS,
    PROBLEM_TYPE_LABELS,
    STATUS_LABELS,
    to_history_entry,
    to_snapshot,
)
from complaintdesk.channels.wechatpay.models import (
    CertificateList,
    Complaint,
    ComplaintListPage,
    HistoryEntry,
    HistoryPage,
    PlatformCertificate,
)
from complaintdesk.channels.wechatpay.webhook import KNOWN_ACTION_TYPES, KNOWN_EVENT_TYPES, verify_and_open

__all__ = [
    "ACTION_TYPE_LABELS",
    "KNOWN_ACTION_TYPES",
    "KNOWN_EVENT_TYPES",
    "KNOWN_OPERATE_TYPES",
    "OPERATE_TYPE_LABELS",
    "PROBLEM_TYPE_LABELS",
    "STATUS_LABELS",
    "CertificateList",
    "Complaint",
    "ComplaintListPage",
    "HistoryEntry",
    "HistoryPage",
    "PlatformCertificate",
    "VerifierKeys",
    "WeChatPayAuth",
    "WeChatPayChannel",
    "WeChatPayClient",
    "WeChatPayCredentials",
    "aead_open",
    "build_authorization",
    "build_sign_message",
    "decrypt_oaep",
    "error_from_response",
    "load_certificate",
    "load_private_key",
    "load_public_key",
    "sign",
    "split_window",
    "to_history_entry",
    "to_snapshot",
    "verify_and_open",
]
