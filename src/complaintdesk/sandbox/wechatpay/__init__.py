"""WeChat Pay APIv3 consumer-complaints simulator (server side), written independently of our client.

Read side: list, detail, negotiation history, certificates, image download. Write side (``actions``,
``callbacks``): reply, immediate-service reply (idempotent), complete, update-refund-progress, image upload
(multipart, signature over ``meta``), callback URL create/query/update/delete. Every answer is signed
(204s over an empty body); rate limits per merchant and endpoint; faults before apply (``error_rate``,
``fail_next``, timeouts) and after apply (``fail_next(..., after_apply=True)``, ``drop_next_response``,
``drop_response_after_apply_rate``: the action happens, the answer is lost as a dropped connection).

Typical use::

    platform = generate_platform()
    merchant = generate_merchant("1900000001")
    state = SimulatorState(platform=platform)
    state.register_merchant(merchant, notify_url="https://desk.example/webhooks/wechatpay/1")
    seed(state, "1900000001", count=50, days=20)
    app = create_app(state)            # serve with uvicorn or httpx.ASGITransport
    await Notifier(state).deliver_pending()
    state.merchant_actions(complaint_id)   # what the merchant did, e.g. to check "each reply once"
"""

from __future__ import annotations

from complaintdesk.sandbox.faults import DROP, Faults
from complaintdesk.sandbox.wechatpay.app import create_app
from complaintdesk.sandbox.wechatpay.keys import (
    MerchantCredentials,
    PlatformKeys,
    generate_merchant,
    generate_platform,
    write_merchant_files,
)
from complaintdesk.sandbox.wechatpay.model import ComplaintState, Notification, Stats
from complaintdesk.sandbox.wechatpay.notifier import SIGNTEST_PREFIX, Notifier
from complaintdesk.sandbox.wechatpay.outcome import ConnectionDropped
from complaintdesk.sandbox.wechatpay.scenarios import live_event, seed
from complaintdesk.sandbox.wechatpay.state import (
    DEFAULT_LIMITS,
    InvalidState,
    SignMode,
    SimulatorState,
    UnknownComplaint,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DROP",
    "SIGNTEST_PREFIX",
    "ComplaintState",
    "ConnectionDropped",
    "Faults",
    "InvalidState",
    "MerchantCredentials",
    "Notification",
    "Notifier",
    "PlatformKeys",
    "SignMode",
    "SimulatorState",
    "Stats",
    "UnknownComplaint",
    "create_app",
    "generate_merchant",
    "generate_platform",
    "live_event",
    "seed",
    "write_merchant_files",
]
