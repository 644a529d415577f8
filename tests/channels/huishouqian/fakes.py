"""Test doubles: a stateful fake gateway (verifies and signs by itself), a recording limiter, a sleep."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import httpx
from cryptography.exceptions import InvalidSignature

from complaintdesk.channels.huishouqian.client import HuishouqianClient
from complaintdesk.channels.huishouqian.envelope import HuishouqianCredentials
from complaintdesk.settings import HuishouqianSettings

from .keys import MERCHANT_NO, SIGN_KEY, error_body, request_string, response_body, rsa2_verify, rsa_key

CST = timezone(timedelta(hours=8))


class RecordingLimiter:
    """Lets everything through and remembers each acquisition."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def acquire(self, key: str, per_minute: int) -> None:
        self.calls.append((key, per_minute))


class FakeSleep:
    """Records requested delays without waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Recorder:
    """A MockTransport handler answering from a list and keeping every request's form."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def forms(self) -> list[dict[str, str]]:
        return [dict(parse_qsl(r.content.decode(), keep_blank_values=True)) for r in self.requests]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(result: dict[str, Any] | str, **kw: Any) -> httpx.Response:
    """A 200 answer carrying a signed success envelope."""
    return httpx.Response(
        200, content=response_body(result, **kw), headers={"Content-Type": "application/json"}
    )


def failed(code: str, message: str, **kw: Any) -> httpx.Response:
    """A 200 answer carrying a failure envelope."""
    return httpx.Response(
        200, content=error_body(code, message, **kw), headers={"Content-Type": "application/json"}
    )


def credentials(*, sign_type: str = "RSA2", merchant_no: str = MERCHANT_NO) -> HuishouqianCredentials:
    """Test credentials built straight from the test keys."""
    return HuishouqianCredentials(
        merchant_no=merchant_no,
        private_key=rsa_key("merchant"),
        platform_key=rsa_key("platform").public_key(),
        sign_key=SIGN_KEY,
        sign_type=sign_type,
    )


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    settings: HuishouqianSettings | None = None,
    sleep: FakeSleep | None = None,
    limiter: RecordingLimiter | None = None,
    sign_type: str = "RSA2",
    date_format: str = "yyyy-MM-dd",
) -> HuishouqianClient:
    """A client wired to ``handler`` through ``httpx.MockTransport``."""
    return HuishouqianClient(
        credentials(sign_type=sign_type),
        settings=settings or HuishouqianSettings(),
        transport=httpx.MockTransport(handler),
        base_url="https://test-api.huishouqian.com",
        limiter=limiter or RecordingLimiter(),
        time=lambda: 1_709_259_630.0,
        sleep=sleep or FakeSleep(),
        rng=random.Random(1),
        date_format=date_format,
    )


def row(
    complaint_id: str, *, when: str = "20240301102030", merchant_no: str = MERCHANT_NO, **extra: Any
) -> dict[str, Any]:
    """A COMPLAINT_QUERY row like the seed's example."""
    return {
        "amount": 300,
        "complaintDetail": "昨天晚上我都没有充电,为什么要扣款请核对一下。",
        "complaintFullRefunded": 0,
        "complaintId": complaint_id,
        "complaintState": "PENDING",
        "complaintTime": when,
        "incomingUserResponse": 1,
        "merchantNo": merchant_no,
        "merchantTradeNo": f"T{complaint_id}",
        "payerOpenid": "o0WuojnPFrEhtiu9lUUfg9CxFhok",
        "payerPhone": "13888671848",
        "problemDescription": "其他问题",
        "userComplaintTimes": 1,
    } | extra


class FakeGateway:
    """A small stateful Huishouqian: checks each request's RSA2 signature itself and signs its answers."""

    def __init__(
        self, rows: list[dict[str, Any]], history: dict[str, list[dict[str, Any]]] | None = None
    ) -> None:
        self.rows = rows
        self.history = history or {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.uploads: list[bytes] = []
        self.next_file_id = 900_000_000_001

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.read().decode(), keep_blank_values=True))
        try:
            rsa2_verify(rsa_key("merchant"), request_string(form), form["sign"])
        except (InvalidSignature, KeyError, ValueError):
            return failed("SIGN_ERROR", "验签失败", signed=False)
        if form["merchantNo"] != MERCHANT_NO:
            return failed("130005", "商户号不存在")
        business = json.loads(form["signContent"])
        self.calls.append((form["method"], business))
        handler = {
            "/complaint/query": self._query,
            "/complaint/queryHistory": self._history,
            "/complaint/commitResponse": self._commit,
            "/complaint/commitComplete": self._commit,
            "/complaint/upload": self._upload,
            "/complaint/download": self._download,
        }[request.url.path]
        return handler(form["method"], business)

    def _query(self, method: str, b: dict[str, Any]) -> httpx.Response:
        rows = self.rows
        if "complaintId" in b:
            rows = [r for r in rows if r["complaintId"] == b["complaintId"]]
        if "merchantNo" in b:
            rows = [r for r in rows if r["merchantNo"] == b["merchantNo"]]
        if "agentMerchantNo" in b:
            rows = [r for r in rows if r.get("agentNo") == b["agentMerchantNo"]]
        if "beginDate" in b:
            begin, end = date.fromisoformat(b["beginDate"]), date.fromisoformat(b["endDate"])
            assert (end - begin).days < 30, "window too long"
            rows = [
                r
                for r in rows
                if begin <= datetime.strptime(r["complaintTime"], "%Y%m%d%H%M%S").date() <= end
            ]
        limit, offset = b.get("limit", 100), b.get("offset", 0)
        assert 1 <= limit <= 500
        page = rows[offset : offset + limit]
        return ok({"data": page, "offset": offset, "totalSize": len(rows)})

    def _history(self, method: str, b: dict[str, Any]) -> httpx.Response:
        entries = self.history.get(b["complaintId"], [])
        page = entries[b["offset"] : b["offset"] + b["limit"]]
        return ok({"data": page, "offset": b["offset"], "totalSize": len(entries)})

    def _commit(self, method: str, b: dict[str, Any]) -> httpx.Response:
        if len(b.get("responseImages", [])) > 4:
            return failed("130009", "回复上传图片不能超过四张")
        target = [r for r in self.rows if r["complaintId"] == b["complaintId"]]
        if not target:
            return failed("130003", "投诉订单号不存在")
        kind = "MERCHANT_RESPONSE" if method == "COMPLAINT_COMMIT_RESPONSE" else "MERCHANT_CONFIRM_COMPLETE"
        target[0]["complaintState"] = "PROCESSING" if kind == "MERCHANT_RESPONSE" else "PROCESSED"
        entries = self.history.setdefault(b["complaintId"], [])
        entries.append(
            {
                "logId": f"log-{len(entries) + 1}",
                "operator": "商户",
                "operateTime": datetime.now(CST).strftime("%Y%m%d%H%M%S"),
                "operateType": kind,
                "operateDetails": b["responseContent"],
                "imageList": [],
            }
        )
        return ok({"flag": True, "respCode": "130000", "respDesc": "受理成功"})

    def _upload(self, method: str, b: dict[str, Any]) -> httpx.Response:
        data = base64.b64decode(b["img"], validate=True)
        self.uploads.append(data)
        file_id = self.next_file_id
        self.next_file_id += 1
        return ok({"fileId": file_id})

    def _download(self, method: str, b: dict[str, Any]) -> httpx.Response:
        data, suffix = self.files[b["mediaUrl"]]
        return ok({"bytes": base64.b64encode(data).decode(), "suffix": suffix})
