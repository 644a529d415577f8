"""WeChat Pay APIv3 consumer-complaints simulator (server side), written independently of our client.

Typical use::

    platform = generate_platform()
    merchant = generate_merchant("1900000001")
    state = SimulatorState(platform=platform)
    state.register_merchant(merchant, notify_url="https://desk.example/webhooks/wechatpay/1")
    seed(state, "1900000001", count=50, days=20)
    app = create_app(state)            # serve with uvicorn or httpx.ASGITransport
    await Notifier(state).deliver_pending()
"""

from __future__ import annotations

from complaintdesk.sandbox.faults import Faults
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
from complaintdesk.sandbox.wechatpay.scenarios import live_event, seed
from complaintdesk.sandbox.wechatpay.state import InvalidState, SignMode, SimulatorState, UnknownComplaint

__all__ = [
    "SIGNTEST_PREFIX",
    "ComplaintState",
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
