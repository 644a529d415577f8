"""Pushes the simulator's complaint notifications to merchants' callback URLs, with retries and faults."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence

import httpx

from complaintdesk.sandbox.common.delivery import RetryingNotifier
from complaintdesk.sandbox.wechatpay.crypto import aead_encrypt, random_string, sign
from complaintdesk.sandbox.wechatpay.gate import request_id
from complaintdesk.sandbox.wechatpay.model import Notification, rfc3339
from complaintdesk.sandbox.wechatpay.state import SimulatorState

SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"
_SUMMARIES = {"COMPLAINT.CREATE": "产生新投诉", "COMPLAINT.STATE_CHANGE": "投诉状态变更"}


def notification_body(state: SimulatorState, n: Notification) -> bytes:
    """The §2.1 JSON body; the resource is encrypted with the notified merchant's APIv3 key."""
    apiv3 = state.merchants.require(n.mchid).credentials.apiv3_key
    plaintext = json.dumps({"complaint_id": n.complaint_id, "action_type": n.action_type}, ensure_ascii=False)
    nonce, ciphertext = aead_encrypt(apiv3, plaintext.encode("utf-8"), "complaint")
    document = {
        "id": n.id,
        "create_time": rfc3339(n.create_time),
        "event_type": n.event_type,
        "resource_type": "encrypt-resource",
        "summary": _SUMMARIES[n.event_type],
        "resource": {
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "nonce": nonce,
            "associated_data": "complaint",
            "original_type": "complaint",
        },
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def notification_headers(state: SimulatorState, body: bytes, *, probe: bool = False) -> dict[str, str]:
    """Freshly signed headers (a probe carries a ``WECHATPAY/SIGNTEST/`` signature that cannot verify)."""
    key, serial = state.notification_signer()
    timestamp = str(int(state.now().timestamp()))
    nonce = random_string(32)
    if probe:
        signature = SIGNTEST_PREFIX + base64.b64encode(secrets.token_bytes(256)).decode("ascii")
    else:
        signature = sign(key, f"{timestamp}\n{nonce}\n".encode() + body + b"\n")
    return {
        "Content-Type": "application/json",
        "Request-ID": request_id(),
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


class Notifier(RetryingNotifier[SimulatorState, Notification]):
    """Delivers queued notifications: 2xx = delivered, anything else is retried per ``retry_delays``."""

    def __init__(
        self,
        state: SimulatorState,
        *,
        client: httpx.AsyncClient | None = None,
        retry_delays: Sequence[float] = (0.5, 1, 2, 5),
        timeout: float = 5.0,
        concurrency: int = 32,
        poll_interval: float = 0.05,
    ) -> None:
        super().__init__(state, client, retry_delays, timeout, concurrency, poll_interval)

    def _due(self) -> list[Notification]:
        return self.state.due_notifications()

    async def _attempt(self, n: Notification) -> bool:
        status = await self._send(n)
        return status is not None and 200 <= status < 300

    def _attempt_only(self, n: Notification) -> bool:
        return n.probe

    async def _send(self, n: Notification) -> int | None:
        url = self.state.notify_url(n.mchid)
        n.attempts += 1
        if url is None:
            n.answers.append(None)
            return None
        if n.body is None:
            n.body = notification_body(self.state, n)
        headers = notification_headers(self.state, n.body, probe=n.probe)
        try:
            response = await self.client.post(url, content=n.body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError:
            n.answers.append(None)
            return None
        n.answers.append(response.status_code)
        return response.status_code
