"""The PyPI SDK ``wechatpayv3`` (2.0.4, unchanged) against a real ``complaintdesk sandbox wechatpay`` process.

Each sign mode gets its own process on loopback, with keys written by the process into a temporary
folder. The SDK's only knob we turn is its gateway (``_core._gate_way``; it has no public option for it),
exactly as docs/sandbox.md tells an outside developer to do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from wechatpayv3 import WeChatPay, WeChatPayType  # type: ignore[import-untyped]

from complaintdesk.sandbox.common.png import gradient_png
from complaintdesk.sandbox.wechatpay import generate_platform

from .sandbox_process import running_sandbox

MCHID = "1900000001"
SHANGHAI = timezone(timedelta(hours=8))


@pytest.fixture(scope="module", params=["public_key", "certificate"])
def sandbox(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A running sandbox process and the merchant it registered from the command line."""
    mode: str = request.param
    state_dir = tmp_path_factory.mktemp(f"sandbox-{mode}")
    options = ["--sign-mode", mode, "--seed", "7", "--merchant", f"{MCHID}:complaints=20"]
    with running_sandbox(state_dir, *options) as (base, merchants):
        yield {"base": base, "mode": mode, "info": merchants[0], "used": set()}


def _sdk(sandbox: dict[str, Any]) -> Any:
    """A ``WeChatPay`` client configured from the files the sandbox printed."""
    info = sandbox["info"]
    read = lambda key: Path(info[key]).read_text(encoding="utf-8")  # noqa: E731
    mode_options: dict[str, Any] = (
        {"public_key": read("public_key_file"), "public_key_id": info["public_key_id"]}
        if sandbox["mode"] == "public_key"
        else {"cert_dir": info["platform_cert_dir"]}
    )
    pay = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=info["mchid"],
        private_key=read("private_key_file"),
        cert_serial_no=info["merchant_serial_no"],
        appid="wxd678efh567hg6787",
        apiv3_key=read("apiv3_key_file").strip(),
        **mode_options,
    )
    pay._core._gate_way = sandbox["base"]
    return pay


def _window() -> dict[str, str]:
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    return {
        "begin_date": (today - timedelta(days=8)).isoformat(),
        "end_date": (today + timedelta(days=1)).isoformat(),
    }


def _complaints(pay: Any) -> list[dict[str, Any]]:
    code, text = pay.complaint_list_query(limit=50, **_window())
    assert code == 200, text
    page: list[dict[str, Any]] = json.loads(text)["data"]
    return page


def _pending(pay: Any, used: set[str]) -> str:
    """A complaint still open for a merchant action, not used by another test."""
    for doc in _complaints(pay):
        if doc["complaint_state"] == "PENDING" and doc["complaint_id"] not in used:
            used.add(doc["complaint_id"])
            return str(doc["complaint_id"])
    pytest.fail("the seeded data has no PENDING complaint left")


def test_printed_files_and_serials(sandbox: dict[str, Any]) -> None:
    info = sandbox["info"]
    assert info["mchid"] == MCHID and info["base_url"] == sandbox["base"]
    assert os.stat(info["private_key_file"]).st_mode & 0o077 == 0
    assert os.stat(info["apiv3_key_file"]).st_mode & 0o077 == 0
    assert (Path(info["platform_cert_dir"]) / f"{info['platform_serial_no']}.pem").is_file()
    assert info["public_key_id"].startswith("PUB_KEY_ID_")


def test_list_detail_history_and_media_on_own_host(sandbox: dict[str, Any]) -> None:
    pay = _sdk(sandbox)
    docs = _complaints(pay)
    assert len(docs) == 20 and all(d["complainted_mchid"] == MCHID for d in docs)
    code, text = pay.complaint_detail_query(docs[0]["complaint_id"])
    assert code == 200 and json.loads(text)["complaint_id"] == docs[0]["complaint_id"]
    code, text = pay.complaint_history_query(docs[0]["complaint_id"])
    assert code == 200 and json.loads(text)["data"][0]["operate_type"] == "USER_CREATE_COMPLAINT"
    urls = [u for d in docs for media in d.get("complaint_media_list", []) for u in media["media_url"]]
    assert urls, "seed 7 gives complaints with images"
    assert all(u.startswith(sandbox["base"] + "/v3/merchant-service/images/") for u in urls)
    code, image = pay.complaint_image_download(urls[0])  # the SDK strips its own gateway from the URL
    assert code == 200 and image.startswith(b"\x89PNG")


def test_upload_then_reply_with_the_image(sandbox: dict[str, Any], tmp_path: Path) -> None:
    pay = _sdk(sandbox)
    picture = tmp_path / "evidence.png"
    picture.write_bytes(gradient_png("sdk", 16, 5))
    code, text = pay.complaint_image_upload(str(picture))
    assert code == 200, text
    media_id = json.loads(text)["media_id"]
    complaint_id = _pending(pay, sandbox["used"])
    code, text = pay.complaint_response(
        complaint_id, "您好，已为您处理，请查收。", response_images=[media_id]
    )
    assert code == 204, text
    _, history = pay.complaint_history_query(complaint_id)
    last = json.loads(history)["data"][-1]
    assert (
        last["operate_type"] == "MERCHANT_RESPONSE"
        and last["operate_details"] == "您好，已为您处理，请查收。"
    )


def test_complete(sandbox: dict[str, Any]) -> None:
    pay = _sdk(sandbox)
    complaint_id = _pending(pay, sandbox["used"])
    code, text = pay.complaint_complete(complaint_id)
    assert code == 204, text
    _, detail = pay.complaint_detail_query(complaint_id)
    assert json.loads(detail)["complaint_state"] == "PROCESSED"


def test_refund_approve(sandbox: dict[str, Any]) -> None:
    pay = _sdk(sandbox)
    refundable = [
        d for d in _complaints(pay) if d["problem_type"] == "REFUND" and d["complaint_state"] == "PENDING"
    ]
    refundable = [d for d in refundable if d["complaint_id"] not in sandbox["used"]]
    assert refundable, "seed 7 gives an open refund complaint"
    complaint_id = refundable[0]["complaint_id"]
    sandbox["used"].add(complaint_id)
    code, text = pay.complaint_update_refund(complaint_id, "APPROVE", launch_refund_day=0)
    assert code == 204, text
    _, detail = pay.complaint_detail_query(complaint_id)
    assert json.loads(detail)["complaint_state"] == "PROCESSED"


def test_callback_url_create_and_query(sandbox: dict[str, Any]) -> None:
    pay = _sdk(sandbox)
    url = "https://desk.example.com/webhooks/wechatpay/sdk"
    code, text = pay.complaint_notification_create(url)
    assert code == 200 and json.loads(text) == {"mchid": MCHID, "url": url}
    code, text = pay.complaint_notification_query()
    assert code == 200 and json.loads(text)["url"] == url


def test_sdk_verifies_against_the_sandbox_keys(sandbox: dict[str, Any]) -> None:
    """Verification is real: public-key mode refuses another key; certificate mode trusts the file."""
    info = sandbox["info"]
    if sandbox["mode"] == "public_key":
        foreign = generate_platform()  # same key id, other key: every signed answer must be refused
        pay = _sdk({**sandbox, "info": info})
        impostor = WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=info["mchid"],
            private_key=Path(info["private_key_file"]).read_text(encoding="utf-8"),
            cert_serial_no=info["merchant_serial_no"],
            appid="wxd678efh567hg6787",
            apiv3_key=Path(info["apiv3_key_file"]).read_text(encoding="utf-8").strip(),
            public_key=foreign.public_key_pem.decode(),
            public_key_id=info["public_key_id"],
        )
        impostor._core._gate_way = sandbox["base"]
        with pytest.raises(Exception, match="failed to verify the signature"):
            impostor.complaint_notification_query()
        assert pay.complaint_notification_query()[0] in (200, 400)
    else:
        pay = _sdk(sandbox)
        pay.complaint_notification_query()
        serials = {format(cert.serial_number, "X") for cert in pay._core._certificates}
        assert serials == {info["platform_serial_no"]}


def test_certificate_rotation_followed_by_the_sdk(sandbox: dict[str, Any]) -> None:
    """Rotate (two listed, the new one signs), then retire the old one; the SDK keeps verifying every answer.

    Last in the module: it changes the platform certificates of this sandbox process.
    """
    pay = _sdk(sandbox)
    old = sandbox["info"]["platform_serial_no"]
    rotated = httpx.post(f"{sandbox['base']}/sandbox/certificates/rotate", timeout=30).json()
    new = rotated["issued"]
    assert rotated == {"active": [old, new], "signing": new, "issued": new}
    assert pay.complaint_notification_query()[0] == 200  # new serial: certificate mode downloads again
    if sandbox["mode"] == "certificate":
        code, text = pay._core.request("/v3/certificates")
        assert code == 200 and [c["serial_no"] for c in json.loads(text)["data"]] == [old, new]
        assert {format(c.serial_number, "X") for c in pay._core._certificates} == {old, new}
    retired = httpx.post(
        f"{sandbox['base']}/sandbox/certificates/retire", json={"serial_no": old}, timeout=30
    )
    assert retired.json() == {"active": [new], "signing": new}
    assert pay.complaint_notification_query()[0] == 200
    if sandbox["mode"] == "certificate":
        code, text = pay._core.request("/v3/certificates")
        assert [c["serial_no"] for c in json.loads(text)["data"]] == [new]
    again = httpx.post(f"{sandbox['base']}/sandbox/certificates/retire", json={"serial_no": new}, timeout=30)
    assert again.status_code == 400 and "only platform certificate" in again.json()["message"]
