"""The live console's change feed: an event exists exactly when its change is committed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from tests.core import consolekit
from tests.core.consolekit import T0

from complaintdesk.core.live import feed
from complaintdesk.core.live.models import LiveEvent, LiveKind
from complaintdesk.core.timeline.models import TimelineEntry
from complaintdesk.db import unit_of_work
from complaintdesk.migrate import upgrade


@pytest.fixture
def sessions(db_url: str):  # type: ignore[no-untyped-def]
    factory = consolekit.sessions_for(db_url)
    upgrade(factory.kw["bind"])
    feed.record_changes(factory)
    return factory


def _events(sessions) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    with unit_of_work(sessions) as s:
        return [(e.complaint_id, e.kind) for e in s.scalars(select(LiveEvent).order_by(LiveEvent.id))]


def _entry(complaint_id: int, key: str) -> TimelineEntry:
    return TimelineEntry(
        complaint_id=complaint_id,
        dedupe_key=key,
        source="note",
        kind="note",
        actor="operator",
        occurred_at=T0,
    )


def test_a_committed_change_has_its_event_and_a_rolled_back_one_has_none(sessions) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work(sessions) as s:
        shop = consolekit.account(s, "shop")
        complaint_id = consolekit.complaint(s, shop).id
    assert _events(sessions) == [(complaint_id, LiveKind.COMPLAINT)]

    with pytest.raises(RuntimeError), unit_of_work(sessions) as s:
        s.add(_entry(complaint_id, "n:1"))
        s.flush()
        raise RuntimeError("the request failed after its flush")
    assert _events(sessions) == [(complaint_id, LiveKind.COMPLAINT)]

    with unit_of_work(sessions) as s:
        s.add(_entry(complaint_id, "n:2"))
    assert _events(sessions)[-1] == (complaint_id, LiveKind.TIMELINE)


def test_an_unchanged_complaint_loaded_and_touched_records_nothing(sessions) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work(sessions) as s:
        shop = consolekit.account(s, "shop")
        row = consolekit.complaint(s, shop, detail="同样的内容")
    before = len(_events(sessions))
    with unit_of_work(sessions) as s:
        loaded = s.get(type(row), row.id)
        assert loaded is not None
        loaded.detail = "同样的内容"  # same value: not a change
    assert len(_events(sessions)) == before


def test_reading_the_feed_names_each_events_accounts_and_pruning_keeps_recent_ones(sessions) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work(sessions) as s:
        provider = consolekit.account(s, "sp", kind="service_provider")
        sub = consolekit.sub_merchant(s, provider, "1900000109")
        complaint_id = consolekit.complaint(s, provider, merchant=sub).id
    with unit_of_work(sessions) as s:
        [item] = feed.read_since(s, 0)
        assert (item.complaint_id, item.account_id, item.merchant_account_id) == (
            complaint_id,
            provider.id,
            sub.id,
        )
        assert feed.read_since(s, item.id) == []
        assert feed.last_id(s) == item.id
    with unit_of_work(sessions) as s:
        newest = s.scalar(select(func.max(LiveEvent.at)))
        assert newest is not None
        assert feed.prune(s, now=newest + feed.LIVE_RETENTION - timedelta(seconds=1)) == 0
        assert feed.prune(s, now=newest + feed.LIVE_RETENTION + timedelta(seconds=1)) == 1


def test_presence_arrives_changes_state_expires_and_leaves(sessions) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work(sessions) as s:
        shop = consolekit.account(s, "shop")
        complaint_id = consolekit.complaint(s, shop).id
        ann = consolekit.user(s, "ann", all_accounts=True)
        bob = consolekit.user(s, "bob", all_accounts=True)
    with unit_of_work(sessions) as s:
        feed.arrive(s, tab_id="t-ann", complaint_id=complaint_id, user_id=ann.id, name="Ann", now=T0)
        feed.arrive(s, tab_id="t-bob", complaint_id=complaint_id, user_id=bob.id, name="Bob", now=T0)
    with unit_of_work(sessions) as s:
        assert not feed.renew(s, tab_id="t-ann", user_id=bob.id, now=T0, state="composing"), "not Bob's tab"
        assert feed.renew(
            s, tab_id="t-ann", user_id=ann.id, now=T0 + timedelta(seconds=20), state="composing"
        )
    with unit_of_work(sessions) as s:
        now = T0 + timedelta(seconds=35)  # Bob's process stopped renewing 35 s ago; Ann renewed at 20 s
        assert [(p.name, p.state) for _, p in feed.people(s, complaint_id=complaint_id, now=now)] == [
            ("Ann", "composing")
        ]
        feed.leave(s, tab_id="t-ann")
    with unit_of_work(sessions) as s:
        assert feed.people(s, complaint_id=complaint_id, now=T0) == [
            ("t-bob", feed.Person(bob.id, "Bob", "viewing"))
        ]
    presence_events = [k for _, k in _events(sessions) if k == LiveKind.PRESENCE]
    assert len(presence_events) == 4  # two arrivals, one state change, one departure
