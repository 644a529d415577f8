"""Huishouqian (慧收钱) complaint gateway simulator (server side), written independently of our client.

Six form-POST methods under ``/complaint/`` (query, queryHistory, commitResponse, commitComplete, upload,
download), each verifying the envelope itself: fixed-order sign string ending ``&key=<sign key>``,
lowercase-hex SHA256withRSA checked against the merchant's certificate, ``method`` matching the path.
Answers are ``{success, result (a JSON string), errorCode, errorMsg, sign}`` signed with the platform key
(``codes`` documents every error code). CFCA merchants (``generate_merchant(..., sign_type="CFCA")``)
send an encrypted ``signContent`` and get an encrypted ``result``. Agents (代理商) see their merchants'
complaints via ``agentMerchantNo``. Rate limits, faults (``000001``, HTTP 5xx, drop-after-apply) and
notifications with retries, duplicates and drops.

Typical use::

    platform = generate_platform()
    merchant = generate_merchant("814000473149")
    state = HuishouqianState(platform)
    state.register_merchant(merchant, notify_url="https://desk.example/webhooks/huishouqian/1")
    write_merchant_files(Path("var/hsq"), merchant, platform)   # pfx, password, MANDAO_*.cer, sign key
    seed(state, "814000473149", count=50, days=20)
    app = create_app(state)            # serve with uvicorn or httpx.ASGITransport
    await HuishouqianNotifier(state).deliver_pending()
    state.merchant_actions(complaint_id)   # what the merchant did through the API
"""

from __future__ import annotations

from complaintdesk.sandbox.faults import DROP, Faults
from complaintdesk.sandbox.huishouqian.app import create_app
from complaintdesk.sandbox.huishouqian.codes import ERROR_MESSAGES
from complaintdesk.sandbox.huishouqian.envelope import ENDPOINTS
from complaintdesk.sandbox.huishouqian.keys import (
    CFCA,
    RSA2,
    MerchantCredentials,
    PlatformKeys,
    generate_merchant,
    generate_platform,
    write_merchant_files,
)
from complaintdesk.sandbox.huishouqian.model import ComplaintState, Notification, Stats
from complaintdesk.sandbox.huishouqian.notifier import NOTIFY_METHOD, HuishouqianNotifier
from complaintdesk.sandbox.huishouqian.outcome import ConnectionDropped
from complaintdesk.sandbox.huishouqian.scenarios import live_event, seed
from complaintdesk.sandbox.huishouqian.state import (
    DEFAULT_LIMITS,
    HuishouqianState,
    InvalidState,
    UnknownComplaint,
)

__all__ = [
    "CFCA",
    "DEFAULT_LIMITS",
    "DROP",
    "ENDPOINTS",
    "ERROR_MESSAGES",
    "NOTIFY_METHOD",
    "RSA2",
    "ComplaintState",
    "ConnectionDropped",
    "Faults",
    "HuishouqianNotifier",
    "HuishouqianState",
    "InvalidState",
    "MerchantCredentials",
    "Notification",
    "PlatformKeys",
    "Stats",
    "UnknownComplaint",
    "create_app",
    "generate_merchant",
    "generate_platform",
    "live_event",
    "seed",
    "write_merchant_files",
]
