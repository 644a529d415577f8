"""Pushes complaint notifications to merchants' notify URLs, with retries, duplicates and drops.

Wire format (spec B.4/B.6): a form POST of ``method``, ``version``, ``format``, ``merchantNo`` (the
recipient), ``signType``, ``signContent`` = ``{"actionType": …, "complaintId": …}`` and ``sign``: the
platform key's lowercase-hex SHA256withRSA over the six-field string plus ``&key=<recipient's sign key>``.
For a CFCA recipient ``signContent`` is CFCA-encrypted with the platform key and ``sign`` is empty.
The ``method`` value is not public: ``COMPLAINT_NOTIFY`` (ASSUMPTION). A delivery succeeds when the
answer is 2xx with the body ``SUCCESS`` (any case, surrounding whitespace ignored); anything else is
retried after each of ``retry_delays`` seconds, then given up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx

from complaintdesk.sandbox.common.delivery import RetryingNotifier
from complaintdesk.sandbox.huishouqian.crypto import cfca_encrypt, request_sign_string, sign_hex
from complaintdesk.sandbox.huishouqian.model import Notification
from complaintdesk.sandbox.huishouqian.state import HuishouqianState

NOTIFY_METHOD = "COMPLAINT_NOTIFY"


def notification_fields(state: HuishouqianState, n: Notification) -> dict[str, str]:
    """The seven form fields of notification ``n`` for its recipient."""
    merchant = state.merchants.require(n.merchant_no)
    content = json.dumps(
        {"actionType": n.action_type, "complaintId": n.complaint_id},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    fields = {
        "method": NOTIFY_METHOD,
        "version": "1.0",
        "format": "JSON",
        "merchantNo": merchant.merchant_no,
        "signType": merchant.credentials.sign_type,
    }
    if merchant.cfca:
        fields.update(signContent=cfca_encrypt(state.platform_key, content), sign="")
    else:
        fields["signContent"] = content
        fields["sign"] = sign_hex(
            state.platform_key, request_sign_string(fields, merchant.credentials.sign_key)
        )
    return fields


class HuishouqianNotifier(RetryingNotifier[HuishouqianState, Notification]):
    """Delivers queued notifications: ``SUCCESS`` = delivered, anything else is retried."""

    def __init__(
        self,
        state: HuishouqianState,
        client: httpx.AsyncClient | None = None,
        retry_delays: Sequence[float] = (0.5, 1, 2, 5),
        *,
        timeout: float = 5.0,
        concurrency: int = 32,
        poll_interval: float = 0.05,
    ) -> None:
        super().__init__(state, client, retry_delays, timeout, concurrency, poll_interval)

    def _due(self) -> list[Notification]:
        return self.state.due_notifications()

    async def _attempt(self, n: Notification) -> bool:
        return await self._send(n)

    async def _send(self, n: Notification) -> bool:
        url = self.state.merchants.require(n.merchant_no).notify_url
        n.attempts += 1
        if url is None:
            n.answers.append(None)
            return False
        try:
            response = await self.client.post(
                url, data=notification_fields(self.state, n), timeout=self.timeout
            )
        except httpx.HTTPError:
            n.answers.append(None)
            return False
        n.answers.append(response.status_code)
        n.bodies.append(response.text[:64])
        return response.is_success and response.text.strip().upper() == "SUCCESS"
