"""Huishouqian (慧收钱) aggregator complaint channel: envelope, client, webhook, mapping, actions.

Build everything for one stored account with :func:`build_runtime`. Secrets (by name): ``private_key_p12``
(PKCS#12 bytes), ``private_key_password`` (optional), ``platform_certificate`` (PEM or DER X.509),
``sign_key`` (the merchant key; not needed in CFCA mode). Options: see :class:`HuishouqianOptions`.
"""

from __future__ import annotations

from complaintdesk.channels.huishouqian.actions import allowed_actions, applied_in_history, check_image
from complaintdesk.channels.huishouqian.cfca import CfcaError
from complaintdesk.channels.huishouqian.cfca import decrypt as cfca_decrypt
from complaintdesk.channels.huishouqian.cfca import encrypt as cfca_encrypt
from complaintdesk.channels.huishouqian.channel import HuishouqianChannel, split_window
from complaintdesk.channels.huishouqian.client import DATE_FORMATS, MAX_QUERY_LIMIT, HuishouqianClient
from complaintdesk.channels.huishouqian.envelope import (
    GatewayResponse,
    HuishouqianCredentials,
    load_pkcs12_private_key,
    load_platform_certificate,
    normalise_sign_key,
    parse_response,
    request_sign_string,
    response_sign_strings,
    seal_request,
    sign_hex,
    verify_hex,
)
from complaintdesk.channels.huishouqian.errors import CODE_TABLE, HsError, error_for_code
from complaintdesk.channels.huishouqian.mapping import (
    ACTION_TYPE_LABELS,
    STATUS_LABELS,
    media_ref,
    parse_media_ref,
    to_history_entry,
    to_snapshot,
)
from complaintdesk.channels.huishouqian.models import ComplaintRow, HistoryRow, parse_hs_time
from complaintdesk.channels.huishouqian.options import HuishouqianOptions
from complaintdesk.channels.huishouqian.runtime import ACCOUNT_KINDS, build_runtime, load_credentials
from complaintdesk.channels.huishouqian.transport import API_HOSTS, METHODS
from complaintdesk.channels.huishouqian.webhook import KNOWN_ACTION_TYPES, HuishouqianWebhook

__all__ = [
    "ACCOUNT_KINDS",
    "ACTION_TYPE_LABELS",
    "API_HOSTS",
    "CODE_TABLE",
    "DATE_FORMATS",
    "KNOWN_ACTION_TYPES",
    "MAX_QUERY_LIMIT",
    "METHODS",
    "STATUS_LABELS",
    "CfcaError",
    "ComplaintRow",
    "GatewayResponse",
    "HistoryRow",
    "HsError",
    "HuishouqianChannel",
    "HuishouqianClient",
    "HuishouqianCredentials",
    "HuishouqianOptions",
    "HuishouqianWebhook",
    "allowed_actions",
    "applied_in_history",
    "build_runtime",
    "cfca_decrypt",
    "cfca_encrypt",
    "check_image",
    "error_for_code",
    "load_credentials",
    "load_pkcs12_private_key",
    "load_platform_certificate",
    "media_ref",
    "normalise_sign_key",
    "parse_hs_time",
    "parse_media_ref",
    "parse_response",
    "request_sign_string",
    "response_sign_strings",
    "seal_request",
    "sign_hex",
    "split_window",
    "to_history_entry",
    "to_snapshot",
    "verify_hex",
]
