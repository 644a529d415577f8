"""WeChat Mini Program 交易投诉 simulator (server side), written from the spec independently of our client.

Endpoints (``create_app``): ``POST /cgi-bin/stable_token``, ``GET /cgi-bin/token``,
``GET /wxaapi/minishop/complaintOrderDetail``, ``POST /wxaapi/minishop/{bussiRespondComplaint,
bussiSupplyProof, bussiSupplyRefund, busiAppeal}``, ``POST /cgi-bin/media/upload?type=image``, the CDN
links of complaint images (``GET /sandbox/cdn/…``), ``GET /sandbox/state`` and ``POST /sandbox/faults``.
``MiniProgramNotifier`` pushes ``complaint_callback`` messages to each app's message server in its
format (XML / JSON) and mode (plaintext / compatible / safe) with WeChat's 3-attempt rule.

Typical use::

    creds = generate_app()
    state = MiniProgramState(seed=1)
    state.register(creds, push_url="https://desk.example/webhooks/miniprogram/1", message_format="json")
    seed(state, creds.appid, count=50, days=10)
    app = create_app(state)                   # serve with uvicorn or httpx.ASGITransport
    async with MiniProgramNotifier(state) as notifier:
        await notifier.deliver_pending()
    state.merchant_actions(complaint_id, api_only=True)   # what the desk did through the API

Decisions where the spec is silent (UNCONFIRMED / ASSUMPTION), all switchable on the state:

* Errors are HTTP 200 + ``{"errcode","errmsg"}``. Detail: unknown id or another app's → 1; a WeChat Pay
  order id → -1 (community); bad ``complaintOrderId`` → 10001. Action bodies: see ``actions``. Expired or
  unknown ``media_id`` in an action → 10001 (``busiAppeal``: 2) with an ``errmsg`` saying which.
* Quotas per app and endpoint: sliding minute (``DEFAULT_LIMITS``) → 45011; Shanghai day (``DAY_LIMITS``)
  → 45009. ``force_refresh``: 20 a day (45009), 30 s apart (45011), revokes earlier stable tokens.
* Token errors: missing 41001, malformed 40014, unknown or revoked 40001, expired 42001.
* Upload: ``type`` not ``image`` 40004, no ``media`` part 41005, empty or > 2 MB 40006, not PNG/JPEG/GIF
  40005; ``media_id`` valid 3 days on the state's clock; CDN links of images valid 1 hour.
* Status machine and deadlines: see ``state`` (201/206 48 h official; 106/108/202-204 48 h assumed;
  appeal window 72 h from a liable ruling). Content ≤ 500 characters, ≤ 9 media ids (not published).
* Pushes: ``option_type`` 1 new / 2 update; also sent for changes the merchant caused
  (``push_on_merchant_actions``); ``other_event_rate`` mixes in unrelated events; ``Faults``
  ``duplicate_rate`` / ``drop_notification_rate`` duplicate or lose pushes. See ``push`` for the wire format.
* Faults: ``error_rate`` answers errcode -1; ``fail_next(endpoint, status)`` answers a 5xx as HTTP status,
  anything else as errcode; after-apply faults and ``drop_next_response`` lose the answer
  (``ConnectionDropped``). Endpoint names: ``stable_token``, ``token``, ``detail``, ``respond``,
  ``supply_proof``, ``supply_refund``, ``appeal``, ``upload``.
"""

from __future__ import annotations

from complaintdesk.sandbox.faults import DROP, Faults
from complaintdesk.sandbox.miniprogram.app import create_app, describe
from complaintdesk.sandbox.miniprogram.codes import AppealState, ItemType, ReturnStatus, Status
from complaintdesk.sandbox.miniprogram.crypto import (
    MessageCryptoError,
    decrypt_message,
    encrypt_message,
    msg_signature,
    url_signature,
)
from complaintdesk.sandbox.miniprogram.gate import ConnectionDropped
from complaintdesk.sandbox.miniprogram.keys import AppCredentials, generate_app, new_encoding_aes_key
from complaintdesk.sandbox.miniprogram.model import Complaint, Item, Push, ReturnBill, Stats
from complaintdesk.sandbox.miniprogram.notifier import MiniProgramNotifier, acknowledged
from complaintdesk.sandbox.miniprogram.push import App, MessageFormat, MessageMode
from complaintdesk.sandbox.miniprogram.scenarios import live_event, seed
from complaintdesk.sandbox.miniprogram.state import (
    DAY_LIMITS,
    DEFAULT_LIMITS,
    InvalidTransition,
    MiniProgramState,
    UnknownApp,
    UnknownComplaint,
)

__all__ = [
    "DAY_LIMITS",
    "DEFAULT_LIMITS",
    "DROP",
    "App",
    "AppCredentials",
    "AppealState",
    "Complaint",
    "ConnectionDropped",
    "Faults",
    "InvalidTransition",
    "Item",
    "ItemType",
    "MessageCryptoError",
    "MessageFormat",
    "MessageMode",
    "MiniProgramNotifier",
    "MiniProgramState",
    "Push",
    "ReturnBill",
    "ReturnStatus",
    "Stats",
    "Status",
    "UnknownApp",
    "UnknownComplaint",
    "acknowledged",
    "create_app",
    "decrypt_message",
    "describe",
    "encrypt_message",
    "generate_app",
    "live_event",
    "msg_signature",
    "new_encoding_aes_key",
    "seed",
    "url_signature",
]
