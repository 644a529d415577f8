"""Tier 1: rows to neutral snapshots — time zones, amounts, flags, statuses, history, media references."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from complaintdesk.channels.base import UnifiedStatus
from complaintdesk.channels.huishouqian.mapping import (
    media_ref,
    parse_media_ref,
    to_history_entry,
    to_snapshot,
)
from complaintdesk.channels.huishouqian.models import parse_hs_time
from complaintdesk.errors import ChannelError

from .fakes import row


def test_seed_row_maps_with_china_time_converted_to_utc() -> None:
    snap = to_snapshot(row("200210220211228100360913215", when="20211228105914", complaintState="PROCESSED"))
    assert snap.channel == "huishouqian"
    assert snap.external_id == "200210220211228100360913215"
    # 2021-12-28 10:59:14 in Shanghai (UTC+8) is 02:59:14 UTC
    assert snap.complained_at == datetime(2021, 12, 28, 2, 59, 14, tzinfo=UTC)
    assert snap.amount_fen == 300
    assert snap.orders[0].out_trade_no == "T200210220211228100360913215" and snap.orders[0].amount_fen == 300
    assert snap.status is UnifiedStatus.RESOLVED and snap.raw_status == "PROCESSED"
    assert snap.merchant_id == "814000473149"
    assert snap.payer_phone == "13888671848" and "payerPhone" not in snap.raw
    assert snap.payer_openid == "o0WuojnPFrEhtiu9lUUfg9CxFhok"
    assert snap.user_message_waiting is True and snap.fully_refunded is False
    assert snap.history is None and snap.unknown_values == []


def test_just_after_midnight_in_china_is_the_previous_utc_day() -> None:
    assert parse_hs_time("20240301000500") == datetime(2024, 2, 29, 16, 5, tzinfo=UTC)
    assert parse_hs_time("2024-03-01 00:05:00") == datetime(2024, 2, 29, 16, 5, tzinfo=UTC)
    assert parse_hs_time(20240301000500) == datetime(2024, 2, 29, 16, 5, tzinfo=UTC)
    assert parse_hs_time("2024-03-01T00:05:00+08:00") == datetime(2024, 2, 29, 16, 5, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_hs_time("yesterday")


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("PENDING", UnifiedStatus.OPEN),
        ("PROCESSING", UnifiedStatus.RESPONDED),
        ("PROCESSED", UnifiedStatus.RESOLVED),
        ("FROZEN", UnifiedStatus.UNKNOWN),
    ],
)
def test_statuses(state: str, status: UnifiedStatus) -> None:
    snap = to_snapshot(row("1", complaintState=state))
    assert snap.status is status and snap.raw_status == state
    assert (f"complaintState:{state}" in snap.unknown_values) == (status is UnifiedStatus.UNKNOWN)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, True), ("1", True), (True, True), ("true", True), (0, False), ("false", False), (None, False)],
)
def test_flags_accept_true_one_and_text(value: object, expected: bool) -> None:
    snap = to_snapshot(row("1", complaintFullRefunded=value, incomingUserResponse=value))
    assert snap.fully_refunded is expected and snap.user_message_waiting is expected


def test_amounts_as_text_and_drift() -> None:
    assert to_snapshot(row("1", amount="1999")).amount_fen == 1999
    drifted = to_snapshot(row("1", amount="19.99"))
    assert drifted.amount_fen is None and "drift:ComplaintRow.amount" in drifted.unknown_values


def test_agent_rows_route_by_their_merchant_number() -> None:
    snap = to_snapshot(row("1", merchant_no="814000000777", agentNo="814000473149"))
    assert snap.merchant_id == "814000000777"
    assert (
        to_snapshot(row("1", merchant_no=""), default_merchant_no="814000473149").merchant_id
        == "814000473149"
    )


def test_row_without_time_or_id_is_refused() -> None:
    with pytest.raises(ChannelError):
        to_snapshot(row("1", complaintTime=None))
    with pytest.raises(ChannelError):
        to_snapshot({"complaintTime": "20240301000500"})


def test_history_entries_and_media_refs() -> None:
    raw = {
        "logId": 77,
        "operator": "用户",
        "operateTime": "20240301102030",
        "operateType": "USER_RESPONSE",
        "operateDetails": "请尽快处理",
        "imageList": [
            "https://api.mch.weixin.qq.com/v3/merchant-service/images/a%2Bb",
            {"mediaUrl": "u2", "mediaType": "USER_COMPLAINT_IMAGE"},
        ],
    }
    entry = to_history_entry(raw, complaint_id="2002:1")
    assert entry.external_id == "77" and entry.actor == "user" and entry.known
    assert entry.occurred_at == datetime(2024, 3, 1, 2, 20, 30, tzinfo=UTC)
    assert entry.text == "请尽快处理"
    assert entry.media_urls == (
        "hsq:2002%3A1:OPERATION_IMAGE:https://api.mch.weixin.qq.com/v3/merchant-service/images/a%2Bb",
        "hsq:2002%3A1:USER_COMPLAINT_IMAGE:u2",
    )
    assert parse_media_ref(entry.media_urls[0]) == (
        "2002:1",
        "OPERATION_IMAGE",
        "https://api.mch.weixin.qq.com/v3/merchant-service/images/a%2Bb",
    )
    merchant = to_history_entry(raw | {"operateType": "MERCHANT_RESPONSE"}, complaint_id="1")
    odd = to_history_entry(raw | {"operateType": "SOMETHING_ELSE"}, complaint_id="1")
    assert merchant.actor == "merchant" and (odd.actor, odd.known) == ("system", False)
    snap = to_snapshot(row("1"), history=[raw | {"operateType": "SOMETHING_ELSE"}])
    assert snap.history is not None and "operateType:SOMETHING_ELSE" in snap.unknown_values


def test_media_ref_round_trip_and_refusals() -> None:
    ref = media_ref("id", "T", "https://x/y?z=1:2")
    assert parse_media_ref(ref) == ("id", "T", "https://x/y?z=1:2")
    for bad in ("https://x/y", "hsq:only", "hsq::T:u", "hsq:id:T:"):
        with pytest.raises(ChannelError):
            parse_media_ref(bad)
