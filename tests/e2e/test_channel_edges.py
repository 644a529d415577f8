"""Channel edges through the app: our clock, Huishouqian's sliding dedupe window, envelopes in the query."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from tests.e2e.harness_channels import ChannelsHarness, build_channels

from complaintdesk.clock import ManualClock
from complaintdesk.core.inbox.models import InboxEvent
from complaintdesk.sandbox.huishouqian.model import Notification
from complaintdesk.sandbox.huishouqian.notifier import notification_fields
from complaintdesk.settings import Settings

pytestmark = pytest.mark.anyio

MERCHANT = "888000000001"
SLOT_END = datetime.fromtimestamp(1_709_259_660, tz=UTC)  # a whole minute: the old fixed slots changed here


@pytest.fixture
async def ch(settings: Settings, tmp_path: Path) -> AsyncIterator[ChannelsHarness]:
    harness = await build_channels(settings, tmp_path)
    yield harness
    await harness.aclose()


def _fields(ch: ChannelsHarness) -> dict[str, str]:
    complaint_id = ch.hs_state.create_complaint(MERCHANT, notify=False)
    note = Notification(1, complaint_id, "CREATE_COMPLAINT", MERCHANT, datetime.now(UTC))
    return notification_fields(ch.hs_state, note)


def _inbox(ch: ChannelsHarness) -> list[InboxEvent]:
    with ch.ctx.session() as s:
        rows = list(s.query(InboxEvent).order_by(InboxEvent.id))
        s.expunge_all()
        return rows


@pytest.mark.parametrize("skew", [-3600, -300, 300, 3600])
async def test_the_mini_program_url_check_passes_whatever_our_clock_says(
    ch: ChannelsHarness, skew: int
) -> None:
    ch.ctx.clock = ManualClock(datetime.now(UTC) + timedelta(seconds=skew))
    assert await ch.mp_notifier.verify_url(ch.mp_creds.appid)


async def test_a_huishouqian_retry_across_a_minute_boundary_is_stored_once(ch: ChannelsHarness) -> None:
    clock = ManualClock(SLOT_END - timedelta(seconds=1))
    ch.ctx.clock = clock
    fields = _fields(ch)
    first = await ch.desk.post("/webhooks/huishouqian/hsq", data=fields)
    clock.advance(2)  # the retry lands in the next minute
    again = await ch.desk.post("/webhooks/huishouqian/hsq", data=fields)
    assert (first.status_code, first.text, again.status_code, again.text) == (200, "SUCCESS", 200, "SUCCESS")
    assert len(_inbox(ch)) == 1
    clock.advance(61)  # more than the window after the previous copy: a new event that looks the same
    assert (await ch.desk.post("/webhooks/huishouqian/hsq", data=fields)).status_code == 200
    assert len(_inbox(ch)) == 2


async def test_a_huishouqian_notification_in_the_query_string_keeps_its_signed_envelope(
    ch: ChannelsHarness,
) -> None:
    query = urlencode(_fields(ch))
    answer = await ch.desk.post(f"/webhooks/huishouqian/hsq?{query}", content=b"")
    assert (answer.status_code, answer.text) == (200, "SUCCESS")
    (event,) = _inbox(ch)
    assert event.raw_body == query  # the signed fields exactly as received
    assert "sign=" in event.raw_body and "signContent=" in event.raw_body


async def test_a_mini_program_push_outside_the_window_is_refused_and_the_log_says_why(
    ch: ChannelsHarness, caplog: pytest.LogCaptureFixture
) -> None:
    ch.ctx.clock = ManualClock(datetime.now(UTC) + timedelta(seconds=200))  # inside the 300 s window
    first = ch.mp_state.create_complaint(ch.mp_creds.appid)
    await ch.mp_notifier.deliver_pending()
    assert [e.external_id for e in _inbox(ch)] == [first]
    ch.ctx.clock = ManualClock(datetime.now(UTC) + timedelta(seconds=400))
    ch.mp_state.create_complaint(ch.mp_creds.appid)
    with caplog.at_level("WARNING"):
        await ch.mp_notifier.deliver_pending()
    assert len(_inbox(ch)) == 1
    refusals = [r.getMessage() for r in caplog.records if "notification refused" in r.getMessage()]
    assert refusals and all(
        "s old, outside the 300 s window (miniprogram.timestamp_tolerance_seconds)" in text
        and "complaintdesk doctor" in text
        for text in refusals
    )
